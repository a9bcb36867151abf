-- Counts events the stream trimmed before any worker of the pool read them for this
-- endpoint (computed by the caller from `XINFO`; it only grows): adds what is new to the
-- stats and the log. ARGV 8: endpoint, 9: lost so far, 10: log length. Returns the increase.

local hook = base .. 'webhook:' .. ARGV[8]
local total = tonumber(ARGV[9])
local seen = tonumber(redis.call('GET', hook .. ':lost') or '0')
if total <= seen then return 0 end
redis.call('SET', hook .. ':lost', total)
redis.call('HINCRBY', hook .. ':stats', 'lost', total - seen)
redis.call('XADD', hook .. ':log', 'MAXLEN', '~', ARGV[10], '*', 'at', occurred_at, 'stream_id', '',
  'event_id', '', 'event_type', '', 'attempt', '0', 'outcome', 'lost', 'status', '0', 'latency_ms', '0',
  'error', (total - seen) .. ' events left the stream (MW_EVENTS_MAXLEN) before any worker read them', 'url', '', 'body', '')
return total - seen

-- Records one delivery attempt and what follows from it, with its log line (which keeps
-- the body, so any line can be redelivered).
-- ARGV 8: endpoint, 9: stream id, 10: outcome (delivered | retry | gave_up | disabled),
-- 11: retry delay ms, 12: attempts so far, 13: first attempt ms, 14: HTTP status (0: none),
-- 15: latency ms, 16: error text, 17: event id, 18: event type, 19: url, 20: log length,
-- 21: redelivery number (0: none), 22: "1" to acknowledge the entry in the group too (an
-- event claimed from a dead reader that the stream no longer holds). Returns 1.

local hook = base .. 'webhook:' .. ARGV[8]
local entry, outcome = ARGV[9], ARGV[10]
if ARGV[22] == '1' then redis.call('XACK', base .. 'events', 'webhook:' .. ARGV[8], entry) end
local body = redis.call('HGET', hook .. ':bodies', entry) or ''
redis.call('ZREM', hook .. ':inflight', entry)
if outcome == 'retry' or outcome == 'disabled' then
  local due = outcome == 'retry' and now + tonumber(ARGV[11]) or now
  redis.call('ZADD', hook .. ':retry', due, entry)
  redis.call('HSET', hook .. ':attempts', entry, ARGV[12] .. ':' .. ARGV[13] .. ':' .. ARGV[21])
  if outcome == 'disabled' then redis.call('SET', hook .. ':disabled', occurred_at .. ' HTTP 410 Gone') end
else
  redis.call('ZREM', hook .. ':retry', entry)
  redis.call('HDEL', hook .. ':attempts', entry)
  redis.call('HDEL', hook .. ':bodies', entry)
end
redis.call('HINCRBY', hook .. ':stats', outcome, 1)
redis.call('XADD', hook .. ':log', 'MAXLEN', '~', ARGV[20], '*', 'at', occurred_at, 'stream_id', entry,
  'event_id', ARGV[17], 'event_type', ARGV[18], 'attempt', ARGV[12], 'outcome', outcome, 'status', ARGV[14],
  'latency_ms', ARGV[15], 'error', ARGV[16], 'url', ARGV[19], 'redelivery', ARGV[21], 'body', body)
return 1

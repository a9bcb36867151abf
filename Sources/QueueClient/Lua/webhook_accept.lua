-- Accepts a batch read from the group: acknowledges every entry (skipped ones included:
-- one script per batch, not per event) and keeps the deliverable ones with their bodies,
-- due now. Beyond the backlog cap, a deliverable event is given up (logged with its body,
-- so an operator can still redeliver it). ARGV 8: endpoint, 9: backlog cap, 10: log length,
-- then pairs from 11: stream id, event JSON ("" when this endpoint skips the event type).
-- Returns {accepted, skipped, dropped}.

local hook = base .. 'webhook:' .. ARGV[8]
local cap, log_length = tonumber(ARGV[9]), ARGV[10]
local waiting = redis.call('ZCARD', hook .. ':retry') + redis.call('ZCARD', hook .. ':inflight')
local ids = {}
local accepted, skipped, dropped = 0, 0, 0
for i = 11, #ARGV - 1, 2 do
  local entry, body = ARGV[i], ARGV[i + 1]
  ids[#ids + 1] = entry
  if body == '' then
    skipped = skipped + 1
  elseif waiting >= cap then
    dropped = dropped + 1
    redis.call('XADD', hook .. ':log', 'MAXLEN', '~', log_length, '*', 'at', occurred_at, 'stream_id', entry,
      'event_id', '', 'event_type', '', 'attempt', '0', 'outcome', 'gave_up', 'status', '0', 'latency_ms', '0',
      'error', 'backlog full: ' .. cap .. ' deliveries already wait (MW_WEBHOOK_BACKLOG_MAX)', 'url', '', 'body', body)
  elseif redis.call('HSETNX', hook .. ':bodies', entry, body) == 1 then
    -- (HSETNX: a delivery accepted twice, after a takeover, stays one delivery.)
    redis.call('ZADD', hook .. ':retry', 'NX', now, entry)
    accepted = accepted + 1
    waiting = waiting + 1
  end
end
for i = 1, #ids, 500 do
  redis.call('XACK', base .. 'events', 'webhook:' .. ARGV[8], unpack(ids, i, math.min(i + 499, #ids)))
end
if skipped > 0 then redis.call('HINCRBY', hook .. ':stats', 'skipped', skipped) end
if dropped > 0 then redis.call('HINCRBY', hook .. ':stats', 'gave_up', dropped) end
return {accepted, skipped, dropped}

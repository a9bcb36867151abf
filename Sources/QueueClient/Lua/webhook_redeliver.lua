-- An operator asks for an event to be delivered again (delivered or not): due now, with
-- fresh attempts and the next redelivery number (the deliverer marks it in `webhook-id`).
-- The body comes from the waiting delivery, else the log line, else the queue's stream.
-- ARGV 8: endpoint, 9: stream id, 10: log line id ("" if none). Returns the redelivery
-- number, or 0 when no copy of the event is left.

local hook = base .. 'webhook:' .. ARGV[8]
local entry = ARGV[9]
local body = redis.call('HGET', hook .. ':bodies', entry)
local function field(found, name)
  if not found[1] then return nil end
  local fields = found[1][2]
  for j = 1, #fields - 1, 2 do if fields[j] == name then return fields[j + 1] end end
  return nil
end
if not body and ARGV[10] ~= '' and string.match(ARGV[10], '^%d+%-%d+$') then
  local found = redis.call('XRANGE', hook .. ':log', ARGV[10], ARGV[10])
  if field(found, 'stream_id') == entry then body = field(found, 'body') end
end
if (not body or body == '') and string.match(entry, '^%d+%-%d+$') then
  body = field(redis.call('XRANGE', base .. 'events', entry, entry), 'event')
end
if not body or body == '' then return 0 end
local number = redis.call('INCR', hook .. ':redeliveries')
redis.call('HSET', hook .. ':bodies', entry, body)
redis.call('HSET', hook .. ':attempts', entry, '0:0:' .. number)
redis.call('ZREM', hook .. ':inflight', entry)
redis.call('ZADD', hook .. ':retry', now, entry)
return number

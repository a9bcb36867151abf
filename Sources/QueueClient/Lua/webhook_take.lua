-- Takes due deliveries, each held for a lease in `inflight` (a deliverer that dies lets it
-- come due again when the lease ends). Nothing while the endpoint is disabled.
-- ARGV 8: endpoint, 9: max, 10: lease ms. Returns {next due ms or -1, stream id, attempts,
-- first attempt ms, redelivery, body, …}; the body is "" when no copy of the event is left.

local hook = base .. 'webhook:' .. ARGV[8]
if redis.call('EXISTS', hook .. ':disabled') == 1 then return {-1} end
local limit, lease = tonumber(ARGV[9]), tonumber(ARGV[10])
local out = {0}
local function take(entry)
  redis.call('ZADD', hook .. ':inflight', now + lease, entry)
  local held = redis.call('HGET', hook .. ':attempts', entry) or ('0:0:0')
  local attempts, first, redelivery = string.match(held, '^(%d+):(%d+):?(%d*)$')
  local body = redis.call('HGET', hook .. ':bodies', entry)
  if not body then
    -- Accepted before deliveries kept their bodies: the stream may still hold the event.
    local found = redis.call('XRANGE', base .. 'events', entry, entry)
    body = ''
    if found[1] then
      local fields = found[1][2]
      for j = 1, #fields - 1, 2 do if fields[j] == 'event' then body = fields[j + 1] end end
    end
  end
  out[#out + 1] = entry
  out[#out + 1] = attempts or '0'
  out[#out + 1] = first or '0'
  out[#out + 1] = (redelivery ~= nil and redelivery ~= '') and redelivery or '0'
  out[#out + 1] = body
end
-- Leases that ended first: their deliverer died (or hung past its timeout).
for _, entry in ipairs(redis.call('ZRANGEBYSCORE', hook .. ':inflight', '-inf', now, 'LIMIT', 0, limit)) do
  take(entry)
end
local room = limit - (#out - 1) / 5
if room > 0 then
  for _, entry in ipairs(redis.call('ZRANGEBYSCORE', hook .. ':retry', '-inf', now, 'LIMIT', 0, room)) do
    redis.call('ZREM', hook .. ':retry', entry)
    take(entry)
  end
end
local next_due = redis.call('ZRANGE', hook .. ':retry', 0, 0, 'WITHSCORES')
local next_lease = redis.call('ZRANGE', hook .. ':inflight', 0, 0, 'WITHSCORES')
local soonest = -1
if next_due[2] then soonest = tonumber(next_due[2]) end
if next_lease[2] and (soonest < 0 or tonumber(next_lease[2]) < soonest) then soonest = tonumber(next_lease[2]) end
out[1] = soonest
return out

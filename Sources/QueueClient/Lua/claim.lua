-- Moves up to N inbox items to this worker's claimed list (reliable: a crash leaves them
-- there for `requeueClaimed`) and returns them.
-- ARGV 8: claimed list, 9: max items.

-- One LRANGE, LTRIM and RPUSH for the whole batch (atomic in the script, as LMOVE per item was).
local items = redis.call('LRANGE', base .. 'inbox', 0, tonumber(ARGV[9]) - 1)
if #items > 0 then
  redis.call('LTRIM', base .. 'inbox', #items, -1)
  for first = 1, #items, 1000 do redis.call('RPUSH', ARGV[8], unpack(items, first, math.min(first + 999, #items))) end
  redis.call('SADD', base .. 'claimers', ARGV[8])
end
return items

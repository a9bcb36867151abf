-- Takes up to N due trash versions for deletion, each held for a lease (a janitor that dies
-- leaves them to the next one). Versions no longer trash are dropped from the set; one whose
-- delivery still holds its slot's publication right waits until the right ends.
-- ARGV 8: max, 9: lease ms.
-- Returns the milliseconds until the next version left in the trash is due (-1: none),
-- then 6 fields per version taken: version, url, stable master URL, its slot's current
-- version and URL when taken, and the slot (a repair of the stable name takes the slot's
-- right with `slot_lock` and reads the current version again there).

local due = redis.call('ZRANGEBYSCORE', base .. 'trash', '-inf', now, 'LIMIT', 0, tonumber(ARGV[8]))
local out = { '-1' }
for _, version in ipairs(due) do
  local info = redis.call('HMGET', base .. 'version:' .. version, 'state', 'url', 'master', 'slot', 'token')
  local current = info[4] and redis.call('HMGET', base .. 'slot:' .. info[4], 'current', 'url', 'publishing', 'publishing_until') or {}
  if info[1] ~= 'trash' or current[1] == version then
    redis.call('ZREM', base .. 'trash', version)
  elseif current[3] and current[3] ~= '' and current[3] == info[5] and (tonumber(current[4]) or 0) > now then
    -- Its delivery still holds the slot's publication right: it may be writing the stable
    -- master into this version right now. Deleted once the right has ended (then repaired).
    redis.call('ZADD', base .. 'trash', tonumber(current[4]), version)
  else
    redis.call('ZADD', base .. 'trash', now + tonumber(ARGV[9]), version)
    out[#out + 1] = version
    out[#out + 1] = info[2] or ''
    out[#out + 1] = info[3] or ''
    out[#out + 1] = current[1] or ''
    out[#out + 1] = current[2] or ''
    out[#out + 1] = info[4] or ''
  end
end
local next_due = redis.call('ZRANGE', base .. 'trash', 0, 0, 'WITHSCORES')
if next_due[2] then out[1] = tostring(math.max(0, tonumber(next_due[2]) - now)) end
return out

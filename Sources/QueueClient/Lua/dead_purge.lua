-- Deletes up to N dead jobs. ARGV 8: N. Returns how many were deleted.

local ids = redis.call('ZRANGE', base .. 'dead', 0, tonumber(ARGV[8]) - 1)
for _, id in ipairs(ids) do
  redis.call('DEL', job_key(id))
  redis.call('ZREM', base .. 'dead', id)
end
return #ids

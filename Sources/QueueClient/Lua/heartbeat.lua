-- Extends the leases of a worker's running jobs. Per job: 1 = extended, 2 = extended and
-- cancellation requested (stop now), 0 = not yours any more (stop, your result would be refused).
-- ARGV 8: lease ms, then id, token pairs.

local lease_ms = tonumber(ARGV[8])
local results = {}
for i = 9, #ARGV, 2 do
  local id, token = ARGV[i], ARGV[i + 1]
  -- The lease is the job's score in `active` alone (the record keeps no copy to update).
  local job = redis.call('HMGET', job_key(id), 'state', 'token', 'cancel')
  if job[1] == 'active' and job[2] == token then
    redis.call('ZADD', base .. 'active', 'XX', now + lease_ms, id)
    results[#results + 1] = job[3] == '1' and 2 or 1
  else
    results[#results + 1] = 0
  end
end
return results

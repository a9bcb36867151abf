-- Records a running job's progress (the caller throttles) and appends JobProgress.
-- ARGV 8: id, 9: token, 10: progress JSON. Returns 1, or 0 for a stale token.

if not holds_lease(ARGV[8], ARGV[9]) then return 0 end
redis.call('HSET', job_key(ARGV[8]), 'progress', ARGV[10])
-- A part's progress shows as its job's (the sum of its parts'), not as its own events.
local ok, decoded = pcall(cjson.decode, ARGV[10])
local percent = ok and type(decoded) == 'table' and tonumber(decoded.percent) or 0
if part_progress(ARGV[8], percent / 100) then return 1 end
-- At most one JobProgress a second on the clock that stamps events (the worker's own
-- throttle runs on its clock, and round trips vary): the field above is always current.
local last = tonumber(redis.call('HGET', job_key(ARGV[8]), 'progress_at')) or 0
if now - last < 1000 then return 1 end
redis.call('HSET', job_key(ARGV[8]), 'progress_at', now)
emit('JobProgress', ARGV[8], ARGV[10])
return 1

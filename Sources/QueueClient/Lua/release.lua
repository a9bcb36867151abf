-- Hands a running job straight back to the front of waiting (graceful shutdown), without
-- counting the attempt and without waiting for its lease to expire. Its output version is trash.
-- ARGV 8: id, 9: token. Returns 1, or 0 for a stale token.

local id = ARGV[8]
if not holds_lease(id, ARGV[9]) then return 0 end
local key = job_key(id)
if cancel_if_requested(id, ARGV[9]) then return 1 end
trash_attempt_version(id, now)
redis.call('HINCRBY', key, 'attempts', -1)
redis.call('ZREM', base .. 'active', id)
make_waiting(id, redis.call('HGET', key, 'priority'), true)
emit('JobReleased', id, '{}')
wake()
return 1

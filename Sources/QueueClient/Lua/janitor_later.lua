-- Deleting a trashed version failed (storage away, a late writer still writing): due again
-- after a backoff that doubles with each failure, from a base up to a cap; retried until
-- it succeeds. ARGV 8: version, 9: base ms, 10: cap ms, 11: the error.
-- Returns the failures so far (0: not trash any more).

local version_key = base .. 'version:' .. ARGV[8]
if redis.call('HGET', version_key, 'state') ~= 'trash' then return 0 end
local failures = redis.call('HINCRBY', version_key, 'cleanup_failures', 1)
local delay = math.min(tonumber(ARGV[10]), tonumber(ARGV[9]) * 2 ^ math.min(failures - 1, 30))
redis.call('ZADD', base .. 'trash', 'XX', now + math.floor(delay), ARGV[8])
redis.call('HSET', version_key, 'last_error', ARGV[11])
return failures

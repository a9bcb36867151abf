-- Records the version a delivery is about to write (before any byte is uploaded).
-- ARGV 8: id, 9: token, 10: version, 11: its URL, 12: slot, 13: stable master URL ("" none).
-- Returns 1, or 0 for a stale token (nothing recorded: upload nothing).

local id, token, version = ARGV[8], ARGV[9], ARGV[10]
if not holds_lease(id, token) then return 0 end
local held = redis.call('HGET', job_key(id), 'version')
if held and held ~= '' and held ~= version then trash_version_of(id, now) end
redis.call('HSET', base .. 'version:' .. version, 'url', ARGV[11], 'slot', ARGV[12], 'master', ARGV[13], 'job', id,
  'token', token, 'state', 'writing', 'created_at', now)
redis.call('HSET', job_key(id), 'version', version)
return 1

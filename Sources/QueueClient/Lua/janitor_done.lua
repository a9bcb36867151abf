-- A trashed version is gone from storage: forget it. ARGV 8: version. Returns 1, or 0 when it is not trash.

local version_key = base .. 'version:' .. ARGV[8]
if redis.call('HGET', version_key, 'state') ~= 'trash' then return 0 end
redis.call('ZREM', base .. 'trash', ARGV[8])
redis.call('DEL', version_key)
redis.call('HINCRBY', base .. 'stats', 'versions_deleted', 1)
return 1

-- Deletes one dead job (an operator's delete). ARGV 8: id. Returns 1, or 0 when it is not dead.

local id = ARGV[8]
if redis.call('HGET', job_key(id), 'state') ~= 'dead' then return 0 end
redis.call('DEL', job_key(id))
redis.call('ZREM', base .. 'dead', id)
return 1

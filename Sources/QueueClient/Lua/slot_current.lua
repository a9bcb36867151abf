-- The current (published) version of a slot: { version, url, master } ("" when none).
-- ARGV 8: slot.

local current = redis.call('HMGET', base .. 'slot:' .. ARGV[8], 'current', 'url', 'master')
return { current[1] or '', current[2] or '', current[3] or '' }

-- Gives the right back (if still held by this holder). A slot that never had a publication
-- is removed. ARGV 8: slot, 9: holder. Returns 1, or 0 when the right had passed to another.

local slot_key = base .. 'slot:' .. ARGV[8]
local held = redis.call('HMGET', slot_key, 'publishing', 'current')
if held[1] ~= ARGV[9] then return 0 end
if not held[2] or held[2] == '' then redis.call('DEL', slot_key) return 1 end
redis.call('HSET', slot_key, 'publishing', '', 'publishing_until', 0)
return 1

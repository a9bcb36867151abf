-- Takes the slot's publication right for a repair of its stable names (a janitor, or a
-- refused publisher putting them back): repairs and publications of a slot then happen one
-- at a time, and a repair reads the current version under the right, never from an older
-- snapshot. Re-entrant for the same holder.
-- ARGV 8: slot, 9: holder, 10: lease ms. Returns { "ok", current version, its URL, master }
-- ("" when none) or { "busy" }.

local slot_key = base .. 'slot:' .. ARGV[8]
local holder = redis.call('HMGET', slot_key, 'publishing', 'publishing_until', 'current', 'url', 'master')
if holder[1] and holder[1] ~= '' and holder[1] ~= ARGV[9] and (tonumber(holder[2]) or 0) > now then return { 'busy' } end
redis.call('HSET', slot_key, 'publishing', ARGV[9], 'publishing_until', now + tonumber(ARGV[10]))
if not holder[3] then redis.call('PEXPIRE', slot_key, 2 * tonumber(ARGV[10])) end
return { 'ok', holder[3] or '', holder[4] or '', holder[5] or '' }

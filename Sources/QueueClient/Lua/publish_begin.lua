-- Asks to write the stable names of the delivery's version (the last step before finish):
-- one publisher per slot at a time, so stable names are written in the order publications
-- complete. A job asked to cancel publishes nothing.
-- ARGV 8: id, 9: token, 10: lease ms (how long the right lasts without finishing).
-- Returns "ok", "busy" (another delivery publishes this slot: try again shortly), "cancel"
-- (acknowledge the cancellation instead), "stale" or "no_version".

local id, token = ARGV[8], ARGV[9]
if not holds_lease(id, token) then return 'stale' end
local job = redis.call('HMGET', job_key(id), 'cancel', 'version')
if job[1] == '1' then return 'cancel' end
if not job[2] or job[2] == '' then return 'no_version' end
local slot = redis.call('HGET', base .. 'version:' .. job[2], 'slot')
if not slot or slot == '' then return 'ok' end  -- a part's folder: nothing to publish alone
local slot_key = base .. 'slot:' .. slot
local holder = redis.call('HMGET', slot_key, 'publishing', 'publishing_until', 'current')
if holder[1] and holder[1] ~= '' and holder[1] ~= token and (tonumber(holder[2]) or 0) > now then return 'busy' end
redis.call('HSET', slot_key, 'publishing', token, 'publishing_until', now + tonumber(ARGV[10]))
-- A slot with nothing published yet goes with the right if the publication never completes.
if not holder[3] then redis.call('PEXPIRE', slot_key, 2 * tonumber(ARGV[10])) end
return 'ok'

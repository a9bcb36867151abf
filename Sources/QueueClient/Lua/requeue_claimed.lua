-- Puts a claimed list back at the head of the inbox, in order (its worker is gone).
-- ARGV 8: claimed list. Returns how many items moved.

local moved = 0
while redis.call('LMOVE', ARGV[8], base .. 'inbox', 'RIGHT', 'LEFT') do moved = moved + 1 end
redis.call('SREM', base .. 'claimers', ARGV[8])
return moved

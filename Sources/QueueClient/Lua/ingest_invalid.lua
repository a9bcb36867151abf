-- An inbox item that is not a valid job becomes a dead job with the reason: it never
-- crashes a worker and never blocks the inbox.
--
-- ARGV 8: claimed list, 9: id, 10: type ("" when unknown), 11: error code, 12: message,
-- 13: the payload (an excerpt when large), 14: metadata JSON, 15: SHA-1 of the item.
-- Returns "dead", "duplicate" or "skipped" (the item is no longer claimed: see `ingest`).

if not take_claimed(ARGV[8], ARGV[15]) then return 'skipped' end
local id = ARGV[9]
local key = job_key(id)
if redis.call('EXISTS', key) == 1 then
  redis.call('HINCRBY', base .. 'stats', 'duplicates', 1)
  return 'duplicate'
end
redis.call('HSET', key, 'id', id, 'type', ARGV[10], 'queue', queue, 'priority', 'normal', 'attempts', 0,
  'max_attempts', 0, 'stalls', 0, 'token', 0, 'created_at', now, 'run_at', now, 'timeout_s', 0,
  'payload', ARGV[13], 'metadata', ARGV[14], 'history', '[]', 'cancel', 0,
  'error_code', ARGV[11], 'error_message', ARGV[12])
append_history(id, ARGV[11], ARGV[12])
make_terminal(id, 'dead')
redis.call('HINCRBY', base .. 'stats', 'invalid', 1)
emit(outcome_event(ARGV[10], 'Failed'), id, '{"error_code":' .. cjson.encode(ARGV[11]) ..
  ',"message":' .. cjson.encode(ARGV[12]) .. ',"retryable":false,"attempts":0}')
return 'dead'

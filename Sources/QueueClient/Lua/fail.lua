-- A failed attempt: retried later (state failed, scheduled with backoff) when the error
-- is retryable and attempts remain; otherwise dead, with its terminal event (e.g.
-- TranscodeFailed). Fenced like finish. Either way the attempt's output version is trash.
-- ARGV 8: id, 9: token, 10: error code, 11: message, 12: retryable "1"/"0",
-- 13: retry delay ms, 14: jobs to fetch next (0: none), 15: lease ms, 16: max stalls.
-- A job whose cancellation was requested ends canceled instead of being retried.
-- Returns { "retry" | "dead" | "canceled" | "stale", retry_at_ms or "", then, when fetching, the fetch reply }.

local function then_fetch(out)
  local fetch_max = tonumber(ARGV[14] or '0') or 0
  if fetch_max > 0 then
    promote_and_recover(tonumber(ARGV[16]), tonumber(ARGV[15]))
    take_waiting(fetch_max, tonumber(ARGV[15]), out)
  end
  return out
end
local id, token = ARGV[8], ARGV[9]
local key = job_key(id)
if not holds_lease(id, token) then
  -- This delivery's failure was recorded already (a retry after a lost reply): same answer.
  local done = redis.call('HMGET', key, 'state', 'ended_by', 'run_at')
  if done[2] == token and done[1] == 'failed' then return then_fetch({ 'retry', done[3] }) end
  if done[2] == token and done[1] == 'dead' then return then_fetch({ 'dead', '' }) end
  if done[2] == token and done[1] == 'canceled' then return then_fetch({ 'canceled', '' }) end
  return then_fetch({ 'stale', '' })
end
local code, message = ARGV[10], ARGV[11]
append_history(id, code, message)
redis.call('HSET', key, 'error_code', code, 'error_message', message)
local job = redis.call('HMGET', key, 'attempts', 'max_attempts', 'type')
local attempts, max_attempts = tonumber(job[1]), tonumber(job[2])
if ARGV[12] == '1' and attempts < max_attempts then
  if cancel_if_requested(id, token) then return then_fetch({ 'canceled', '' }) end
  trash_attempt_version(id, now)
  local retry_at = now + tonumber(ARGV[13])
  redis.call('HSET', key, 'state', 'failed', 'run_at', retry_at, 'worker', '', 'ended_by', token)
  redis.call('ZREM', base .. 'active', id)
  redis.call('ZADD', base .. 'scheduled', retry_at, id)
  redis.call('HINCRBY', base .. 'stats', 'retries', 1)
  if not redis.call('HGET', key, 'parent') then count_minute('retried') end
  emit('JobRetryScheduled', id, '{"error_code":' .. cjson.encode(code) .. ',"message":' .. cjson.encode(message) ..
    ',"retry_at":"' .. iso8601(retry_at) .. '","attempts":' .. attempts .. ',"max_attempts":' .. max_attempts .. '}')
  return then_fetch({ 'retry', tostring(retry_at) })
end
make_terminal(id, 'dead', { 'ended_by', token })
emit_end(id, 'Failed', '"error_code":' .. cjson.encode(code) .. ',"message":' .. cjson.encode(message) ..
  ',"retryable":' .. (ARGV[12] == '1' and 'true' or 'false') .. ',"attempts":' .. attempts)
part_failed(id, code, message)
return then_fetch({ 'dead', '' })

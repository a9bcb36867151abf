-- A running job splits into parts (see include/graph.lua): the parts are created waiting, the
-- job leaves its slot and waits for them (state `waiting_children`), keeping its output
-- version for the parts to write into. Fenced by the delivery's token.
--
-- ARGV 8: id, 9: token, 10: the split's event data (JSON), 11: number of parts, then per
-- part: id, type, work (ms, its share of the job), payload, asset (chunk index or "audio").
-- Returns 1, or 0 for a stale token.

local id, token = ARGV[8], ARGV[9]
if not holds_lease(id, token) then return 0 end
local key = job_key(id)
local job = redis.call('HMGET', key, 'priority', 'max_attempts', 'timeout_s', 'metadata', 'file_id', 'meta_movie_id', 'version', 'type', 'attempts')
if not job[7] or job[7] == '' then return redis.error_reply('ERR a split needs its output version recorded first') end
-- Part ids are made by the worker in a form producers cannot use; a key that exists all
-- the same is never overwritten (its job would be lost): the split is refused.
local at = 12
for _ = 1, tonumber(ARGV[11]) do
  if redis.call('EXISTS', job_key(ARGV[at])) == 1 then return redis.error_reply('ERR PART_EXISTS ' .. ARGV[at]) end
  at = at + 5
end
local children, total = {}, 0
at = 12
for _ = 1, tonumber(ARGV[11]) do
  local child, child_type, work, payload, asset = ARGV[at], ARGV[at + 1], tonumber(ARGV[at + 2]), ARGV[at + 3], ARGV[at + 4]
  at = at + 5
  children[#children + 1] = child
  total = total + work
  local fields = { 'HSET', job_key(child), 'id', child, 'type', child_type, 'queue', queue, 'priority', job[1],
    'attempts', 0, 'max_attempts', job[2], 'allowance', job[2], 'stalls', 0, 'token', 0, 'created_at', now, 'run_at', now,
    'timeout_s', job[3], 'payload', payload, 'metadata', job[4], 'history', '[]', 'cancel', 0, 'worker', '',
    'parent', id, 'asset', asset, 'work_ms', work, 'split_attempt', job[9] }
  if job[5] then fields[#fields + 1] = 'file_id'; fields[#fields + 1] = job[5] end
  if job[6] then fields[#fields + 1] = 'meta_movie_id'; fields[#fields + 1] = job[6] end
  redis.call(unpack(fields))
end
redis.call('HSET', key, 'state', 'waiting_children', 'children', cjson.encode(children), 'pending', #children,
  'work_total', total, 'work_done', 0, 'graph', 1, 'stage', 'parts', 'worker', '', 'progress_at', 0,
  'split', ARGV[10], 'split_attempt', job[9], 'part_count', #children, 'ranked_remaining', total)
redis.call('ZREM', base .. 'active', id)
redis.call('DEL', base .. 'graph:' .. id)
redis.call('ZADD', base .. 'parents', now, id)
for _, child in ipairs(children) do
  make_waiting(child, job[1], false)
  emit('JobQueued', child, '{"priority":' .. cjson.encode(job[1]) .. '}')
end
emit('TranscodeSplit', id, ARGV[10])
wake()
return 1

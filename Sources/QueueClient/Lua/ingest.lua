-- inbox items → jobs. Each claimed item may hold several jobs (a MinIO record batch) or
-- none (an ignored record): they are created together, and the item leaves the claimed
-- list in the same step. A job id that exists already (live or retained) is a duplicate:
-- ignored and counted.
--
-- Each item is found in the claimed list by its SHA-1 and removed: at the head as a rule, further
-- in when another process shares the list (two hosts given the same MW_WORKER_ID), and then
-- only that item is removed, never the other's. An item no longer in the list (another worker
-- took the list back while this one thought it dead) is skipped: no job twice, no item lost.
-- A job id held only by an earlier invalid submission (dead, never runnable) is taken over.
--
-- ARGV 8: claimed list, 9: number of items, then per item: the SHA-1 of its bytes, its
-- number of jobs, then per job 11 fields: id, type, priority, max_attempts, run_at_ms
-- (0 = now), timeout_s, payload, metadata, file_id, movie_id, delay_ms (0 = none; applied
-- with the server's clock).
-- Returns per item an array with per job "queued", "delayed", "duplicate" or "skipped", and a
-- last element "displaced" when the item was not at the head of the list.

local all = {}
local created = 0
local items = tonumber(ARGV[9])
-- As a rule the items are the claimed list's head, in order: checked with one LRANGE and
-- removed with one LTRIM. Otherwise (another process shares the list) one by one.
local digests = {}
local at = 10
for item = 1, items do
  digests[item] = ARGV[at]
  at = at + 2 + tonumber(ARGV[at + 1]) * 11
end
local in_order = false
if items > 0 then
  local head = redis.call('LRANGE', ARGV[8], 0, items - 1)
  in_order = #head == items
  for item = 1, items do
    if not in_order then break end
    in_order = redis.sha1hex(head[item]) == digests[item]
  end
  if in_order then redis.call('LTRIM', ARGV[8], items, -1) end
end
-- New waiting ids per priority, pushed at the end with one RPUSH each.
local queued = {}
at = 10
for _ = 1, items do
  local mine, displaced = true, false
  if not in_order then mine, displaced = take_claimed(ARGV[8], ARGV[at]) end
  local results = {}
  local count = tonumber(ARGV[at + 1])
  at = at + 2
  for _ = 1, count do
    local id = ARGV[at]
    local key = job_key(id)
    -- As a rule the id is new: one EXISTS, its record read only when it is not.
    local held = redis.call('EXISTS', key) == 1 and redis.call('HMGET', key, 'state', 'max_attempts') or {}
    if held[1] == 'dead' and held[2] == '0' then
      redis.call('ZREM', base .. 'dead', id)
      redis.call('DEL', key)
      held[1] = false
    end
    if not mine then
      results[#results + 1] = 'skipped'
    elseif held[1] then
      redis.call('HINCRBY', base .. 'stats', 'duplicates', 1)
      results[#results + 1] = 'duplicate'
    else
      local job_type, priority, run_at = ARGV[at + 1], ARGV[at + 2], tonumber(ARGV[at + 4])
      if tonumber(ARGV[at + 10]) > 0 then run_at = now + tonumber(ARGV[at + 10]) end
      local file_id, movie_id = ARGV[at + 8], ARGV[at + 9]
      local delayed = run_at > now
      local entry
      if delayed then
        redis.call('ZADD', base .. 'scheduled', run_at, id)
        entry = append_event('JobDelayed', id, '{"run_at":"' .. iso8601(run_at) .. '"}', '0', ARGV[at + 7], job_type, file_id ~= '' and file_id)
        results[#results + 1] = 'delayed'
      else
        queued[priority] = queued[priority] or { 'RPUSH', base .. 'wait:' .. priority }
        queued[priority][#queued[priority] + 1] = id
        entry = append_event('JobQueued', id, '{"priority":"' .. priority .. '"}', '0', ARGV[at + 7], job_type, file_id ~= '' and file_id)
        results[#results + 1] = 'queued'
      end
      -- The fields read at every transition first (a small hash is a list searched from its
      -- head); fields at their default (stalls, history, cancel, worker, ...) are left out.
      local fields = { 'HSET', key, 'state', delayed and 'delayed' or 'waiting', 'attempts', '0', 'type', job_type,
        'metadata', ARGV[at + 7], 'event_ids', entry, 'max_attempts', ARGV[at + 3], 'payload', ARGV[at + 6],
        'timeout_s', ARGV[at + 5], 'created_at', now_text, 'priority', priority }
      if delayed then fields[#fields + 1] = 'run_at'; fields[#fields + 1] = string.format('%d', run_at) end
      if file_id ~= '' then fields[#fields + 1] = 'file_id'; fields[#fields + 1] = file_id end
      if movie_id ~= '' then fields[#fields + 1] = 'movie_id'; fields[#fields + 1] = movie_id end
      redis.call(unpack(fields))
      index_job(id, 'file', file_id)
      index_job(id, 'movie', movie_id)
      created = created + 1
    end
    at = at + 11
  end
  if displaced then results[#results + 1] = 'displaced' end
  all[#all + 1] = results
end
for _, priority in ipairs({ 'high', 'normal', 'low' }) do
  if queued[priority] then redis.call(unpack(queued[priority])) end
end
-- A delayed job wakes an idle worker too: it learns when to look again.
if created > 0 then wake() end
return all

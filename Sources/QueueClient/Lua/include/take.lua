-- Taking work, shared by `fetch` and by `finish`/`fail` with a follow-up fetch (a worker
-- that finishes a job asks for the next one in the same round trip, as BullMQ does).

-- Due delayed and retry-scheduled jobs become waiting; expired leases (a dead or stuck
-- worker) go back to the front of waiting as a stall, or to dead once a job stalled
-- more than max_stalls times (a poison pill). The stalled delivery is fenced off and its
-- output version trashed, due after `fence_ms`: the stuck worker may still be uploading.
local function promote_and_recover(max_stalls, fence_ms)
  local due = redis.call('ZRANGEBYSCORE', base .. 'scheduled', '-inf', now_text, 'LIMIT', '0', '1000')
  for _, id in ipairs(due) do
    redis.call('ZREM', base .. 'scheduled', id)
    local priority = redis.call('HGET', job_key(id), 'priority')
    if priority then
      make_waiting(id, priority, false)
      emit('JobQueued', id, '{"priority":' .. cjson.encode(priority) .. ',"scheduled":true}')
    end
  end
  local expired = redis.call('ZRANGEBYSCORE', base .. 'active', '-inf', now_text, 'LIMIT', '0', '100')
  for _, id in ipairs(expired) do
    local key = job_key(id)
    redis.call('ZREM', base .. 'active', id)
    local job = redis.call('HMGET', key, 'state', 'priority', 'worker')
    if job[1] == 'active' then
      fence(id)
      trash_attempt_version(id, now + fence_ms)
    end
    if job[1] == 'active' and not cancel_if_requested(id) then
      local stalls = redis.call('HINCRBY', key, 'stalls', 1)
      redis.call('HINCRBY', base .. 'stats', 'stalls_recovered', 1)
      append_history(id, 'JOB_STALLED', 'the lease of worker ' .. tostring(job[3]) .. ' expired (stall ' .. stalls .. ')')
      if stalls > max_stalls then
        local reason = 'stalled ' .. stalls .. ' times: a poison pill (the worker running it keeps dying)'
        redis.call('HSET', key, 'error_code', 'JOB_STALLED', 'error_message', reason)
        make_terminal(id, 'dead')
        emit_end(id, 'Failed', '"error_code":"JOB_STALLED","message":' .. cjson.encode(reason) ..
          ',"retryable":false,"attempts":' .. (redis.call('HGET', key, 'attempts') or '0'))
        part_failed(id, 'JOB_STALLED', reason)
      else
        make_waiting(id, job[2], true)
        emit('JobStalled', id, '{"stalls":' .. stalls .. ',"previous_worker_id":' .. cjson.encode(job[3] or '') .. '}')
      end
    end
  end
end

-- Up to max_jobs waiting jobs, high before normal before low (within a priority, the parts
-- of split jobs first), become active with a lease, a new fencing token and one more
-- attempt. Appends to `out`: next_wake_ms (-1: none), more_waiting (0/1), then 13 fields
-- per job: id, token, attempt, max_attempts, type, payload, metadata, timeout_s, file_id,
-- movie_id, meta_movie_id, created_at, stage.
-- Ids are popped per list in one LPOP with a count, tokens drawn with one INCRBY and leases
-- added with one ZADD: per job only its read, its write and its JobStarted event.
local function take_waiting(max_jobs, lease_ms, out)
  local header = #out
  out[header + 1] = '-1'
  out[header + 2] = '0'
  local ids = {}
  local stopped_at = nil
  for index, priority in ipairs({ 'high', 'normal', 'low' }) do
    local list = base .. 'wait:' .. priority
    local parts = list .. ':graph'
    while #ids < max_jobs do
      local first = redis.call('ZPOPMIN', parts)
      if not first[1] then break end
      ids[#ids + 1] = first[1]
    end
    if #ids < max_jobs then
      local popped = redis.call('LPOP', list, max_jobs - #ids)
      if popped then for _, id in ipairs(popped) do ids[#ids + 1] = id end end
    end
    if #ids >= max_jobs then stopped_at = index break end
  end
  local taken = 0
  if #ids > 0 then
    local lease_text = string.format('%d', now + lease_ms)
    local last_token = redis.call('INCRBY', base .. 'token', #ids)
    local leases = { 'ZADD', base .. 'active' }
    for index, id in ipairs(ids) do
      local key = job_key(id)
      local job = redis.call('HMGET', key, 'state', 'max_attempts', 'type', 'payload', 'metadata', 'timeout_s',
        'file_id', 'movie_id', 'meta_movie_id', 'created_at', 'attempts', 'stage', 'parent', 'event_ids')
      if job[1] == 'waiting' then
        local token = string.format('%d', last_token - #ids + index)
        local attempt = string.format('%d', (tonumber(job[11]) or 0) + 1)
        local entry = append_event('JobStarted', id, '{}', attempt, job[5], job[3], job[7], job[9], job[13])
        redis.call('HSET', key, 'state', 'active', 'token', token, 'worker', actor, 'attempts', attempt,
          'started_at', now_text, 'event_ids', with_event_id(job[14], entry))
        leases[#leases + 1] = lease_text
        leases[#leases + 1] = id
        local n = #out
        out[n + 1], out[n + 2], out[n + 3] = id, token, attempt
        for f = 2, 10 do out[n + 2 + f] = job[f] or '' end
        out[n + 13] = job[12] or ''
        taken = taken + 1
      end
    end
    if #leases > 2 then redis.call(unpack(leases)) end
  end
  if stopped_at then
    -- Jobs may remain: say so, and pass the wake-up on to another idle worker. The list
    -- the take stopped in is looked at first: as a rule it still holds some.
    local priorities = { 'high', 'normal', 'low' }
    for index = stopped_at, 3 do
      local list = base .. 'wait:' .. priorities[index]
      if redis.call('EXISTS', list, list .. ':graph') > 0 then
        out[header + 2] = '1'
        wake()
        break
      end
    end
  elseif taken < max_jobs then
    -- The wait lists are empty: when is the next delayed job due, or the next lease to expire?
    local next_wake = nil
    for _, set in ipairs({ 'scheduled', 'active' }) do
      local first = redis.call('ZRANGE', base .. set, 0, 0, 'WITHSCORES')
      if first[2] then
        local at = tonumber(first[2])
        if not next_wake or at < next_wake then next_wake = at end
      end
    end
    if next_wake then out[header + 1] = tostring(math.max(0, next_wake - now)) end
  end
end

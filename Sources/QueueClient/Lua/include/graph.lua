-- Split jobs: a parent job (a long transcode) fans out into parts (video chunks, the audio),
-- ordinary jobs of the same queue with their own leases, retries and timeouts, and waits for
-- them holding no worker slot. The last part to complete puts the parent back to waiting at
-- its next stage (the stitch); a part that fails for good fails the parent, and cancelling the
-- parent cancels its parts. Keys: the parts are jobs (`job:<parent>~a<attempt>~c<k>`, `~audio`), with
-- `parent`, `asset` (chunk index or "audio") and `work_ms`; the parent has `children` (JSON),
-- `pending`, `work_total`, `work_done`, `graph` and `stage`, and `graph:<parent>` holds the
-- parts' done work for its progress.
--
-- A part's own terminal events are the parent's per-asset events: `TranscodeChunkCompleted`
-- (or `…Failed`, `…Canceled`) with `job_id` the parent, `asset_id` and `chunk_job_id`.

-- Extra fields of a part's terminal event data (JSON text starting with a comma).
local function part_fields(id)
  local part = redis.call('HMGET', job_key(id), 'parent', 'asset', 'attempts')
  if not part[1] then return '' end
  return ',"asset_id":' .. cjson.encode(part[2]) .. ',"chunk_job_id":' .. cjson.encode(id) ..
    ',"chunk_attempt":' .. (tonumber(part[3]) or 0)
end

-- A job's terminal event; `fields` is the JSON object's members (no braces). A live part's
-- is its parent's per-asset event (`TranscodeChunk<Outcome>`, job_id the parent, with
-- asset_id and chunk_job_id); a late part's end appends nothing: its parent's life is over
-- (or a new one began) and the part's own record tells what happened.
local function emit_end(id, outcome, fields, known)
  local parent = live_parent(id)
  if parent == false then return end
  if parent then
    emit('TranscodeChunk' .. outcome, parent, '{' .. fields .. part_fields(id) .. '}')
  else
    emit(outcome_event(known and known[3] or redis.call('HGET', job_key(id), 'type'), outcome), id, '{' .. fields .. '}', known)
  end
end

-- Ends every part of `parent` that has not ended: waiting or scheduled ones at once,
-- running ones are asked to cancel (their workers stop and acknowledge).
local function cancel_parts(parent)
  local children = redis.call('HGET', job_key(parent), 'children')
  if not children then return end
  for _, child in ipairs(cjson.decode(children)) do
    local key = job_key(child)
    local job = redis.call('HMGET', key, 'state', 'priority')
    if job[1] == 'waiting' then
      redis.call('ZREM', base .. 'wait:' .. job[2] .. ':graph', child)
      make_terminal(child, 'canceled')
    elseif job[1] == 'delayed' or job[1] == 'failed' then
      redis.call('ZREM', base .. 'scheduled', child)
      make_terminal(child, 'canceled')
    elseif job[1] == 'active' then
      redis.call('HSET', key, 'cancel', 1, 'cancel_requested_at', now_text)
    end
  end
  redis.call('DEL', base .. 'graph:' .. parent)
end

-- A part failed for good: so does its parent, with the part's code, and its other parts stop.
local function part_failed(id, code, message)
  local parent = live_parent(id)
  if not parent then return end
  local key = job_key(parent)
  local asset = redis.call('HGET', job_key(id), 'asset')
  local reason = 'chunk ' .. tostring(asset) .. ': ' .. message
  cancel_parts(parent)
  append_history(parent, code, reason)
  redis.call('HSET', key, 'error_code', code, 'error_message', reason)
  make_terminal(parent, 'dead')
  emit(outcome_event(redis.call('HGET', key, 'type'), 'Failed'), parent, '{"error_code":' .. cjson.encode(code) ..
    ',"message":' .. cjson.encode(reason) .. ',"retryable":false,"attempts":' .. (redis.call('HGET', key, 'attempts') or '0') ..
    ',"chunk":' .. cjson.encode(asset) .. '}')
end

-- Split jobs waiting for their parts are checked one lease apart (in `parents`, by when
-- due): a part whose record is gone (deleted by hand, evicted under memory pressure) can
-- never end, so its parent fails with TRANSCODE_PARTS_LOST instead of waiting forever.
local function check_parents(interval_ms)
  for _, parent in ipairs(redis.call('ZRANGEBYSCORE', base .. 'parents', '-inf', now, 'LIMIT', 0, 2)) do
    local key = job_key(parent)
    local info = redis.call('HMGET', key, 'state', 'children', 'type', 'attempts')
    if info[1] ~= 'waiting_children' or not info[2] then
      redis.call('ZREM', base .. 'parents', parent)
    else
      local lost = nil
      for _, child in ipairs(cjson.decode(info[2])) do
        if redis.call('EXISTS', job_key(child)) == 0 then lost = child break end
      end
      if lost then
        local reason = 'part ' .. lost .. ' is gone from Redis (deleted or evicted): the job cannot finish'
        cancel_parts(parent)
        append_history(parent, 'TRANSCODE_PARTS_LOST', reason)
        redis.call('HSET', key, 'error_code', 'TRANSCODE_PARTS_LOST', 'error_message', reason)
        make_terminal(parent, 'dead')
        emit(outcome_event(info[3], 'Failed'), parent, '{"error_code":"TRANSCODE_PARTS_LOST","message":' .. cjson.encode(reason) ..
          ',"retryable":false,"attempts":' .. (info[4] or '0') .. '}')
      else
        redis.call('ZADD', base .. 'parents', now + interval_ms, parent)
      end
    end
  end
end

-- A part completed: the parent counts it; the last one sends the parent on to its next stage.
local function part_done(id)
  local parent = live_parent(id)
  if not parent then return end
  local key = job_key(parent)
  local part = redis.call('HMGET', job_key(id), 'asset', 'work_ms', 'priority')
  redis.call('HSET', base .. 'graph:' .. parent, part[1], part[2])
  local work_done = redis.call('HINCRBY', key, 'work_done', tonumber(part[2]) or 0)
  if redis.call('HINCRBY', key, 'pending', -1) > 0 then
    -- Its siblings still waiting move up: the parent has less work left. They are ranked
    -- anew each time its work left halves, so a part's completion costs the same however
    -- many siblings wait (all of them on every completion made a split of N parts cost N²).
    local left = redis.call('HMGET', key, 'work_total', 'ranked_remaining')
    local remaining = math.max(0, (tonumber(left[1]) or 0) - work_done)
    if left[2] and remaining * 2 > (tonumber(left[2]) or 0) then return end
    redis.call('HSET', key, 'ranked_remaining', remaining)
    for _, child in ipairs(cjson.decode(redis.call('HGET', key, 'children'))) do
      local child_key = job_key(child)
      if redis.call('HGET', child_key, 'state') == 'waiting' then
        redis.call('ZADD', base .. 'wait:' .. part[3] .. ':graph', 'XX', graph_score(child_key), child)
      end
    end
    return
  end
  redis.call('DEL', base .. 'graph:' .. parent)
  redis.call('ZREM', base .. 'parents', parent)
  redis.call('HSET', key, 'stage', 'stitch', 'progress', '{"percent":100}')
  make_waiting(parent, redis.call('HGET', key, 'priority'), true)
  emit('JobQueued', parent, '{"stage":"stitch"}')
  wake()
end

-- A part's progress (fraction 0-1) counts toward its parent's: at most one parent
-- JobProgress a second.
local function part_progress(id, fraction)
  local parent = live_parent(id)
  if parent == nil then return false end
  if not parent then return true end  -- a late part: its progress counts for nothing
  local key = job_key(parent)
  local part = redis.call('HMGET', job_key(id), 'asset', 'work_ms')
  redis.call('HSET', base .. 'graph:' .. parent, part[1], math.floor((tonumber(part[2]) or 0) * math.min(1, math.max(0, fraction))))
  local info = redis.call('HMGET', key, 'work_total', 'progress_at', 'state', 'pending', 'part_count')
  if info[3] ~= 'waiting_children' or now - (tonumber(info[2]) or 0) < 1000 then return true end
  -- The parts' sum once a second at most: its cost grows with the parts, its rate does not.
  local done = 0
  for _, value in ipairs(redis.call('HVALS', base .. 'graph:' .. parent)) do done = done + (tonumber(value) or 0) end
  local total = math.max(1, tonumber(info[1]) or 1)
  local count = tonumber(info[5]) or #cjson.decode(redis.call('HGET', key, 'children') or '[]')
  local json = '{"percent":' .. (math.floor(math.min(done, total) * 1000 / total) / 10) .. ',"chunks_done":' ..
    (count - (tonumber(info[4]) or 0)) .. ',"chunks":' .. count .. '}'
  redis.call('HSET', key, 'progress', json, 'progress_at', now)
  emit('JobProgress', parent, json)
  return true
end

-- A job asked to cancel while it ran, leaving active without finishing (handed back,
-- stalled, or failed with a retry): it ends canceled instead of running again. `by_token`:
-- the delivery ending it itself, if it is one.
local function cancel_if_requested(id, by_token)
  local job = redis.call('HMGET', job_key(id), 'cancel', 'type')
  if job[1] ~= '1' then return false end
  make_terminal(id, 'canceled', by_token and { 'ended_by', by_token } or nil)
  emit_end(id, 'Canceled', '"was":"active"')
  return true
end

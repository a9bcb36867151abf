-- Ends a running job as completed or canceled (after its worker saw the cancel request),
-- appending its terminal event (e.g. TranscodeCompleted) in the same step. Fenced: a
-- stale token is refused, so a job has exactly one terminal event.
--
-- Completion publishes the attempt's output version, if it has one: it becomes the current
-- version of its slot, and the one it replaces is trashed, due after the grace period
-- (viewers in the middle of it are not cut off). Per-asset events (KeyframeReady, ...)
-- are appended just before the terminal one, in the same step: each exactly once, and
-- only for outputs that were published.
-- With a fetch count above 0, it then takes the worker's next jobs in the same step.
--
-- ARGV 8: id, 9: token, 10: "completed" or "canceled", 11: event data JSON,
-- 12: jobs to fetch next (0: none), 13: lease ms, 14: max stalls, 15: the version to
-- publish ("" none), 16: grace ms for the version it replaces, 17: number of per-asset
-- events, then per event its type and data JSON.
-- Returns { 1, or 0 for a stale token; then, when fetching, the fetch reply }.

local id, token = ARGV[8], ARGV[9]
local key = job_key(id)
local out = { 0 }
local job = redis.call('HMGET', key, 'state', 'token', 'attempts', 'metadata', 'type', 'file_id', 'meta_movie_id', 'ended_by', 'version',
  'parent', 'children', 'event_ids')
if job[1] == 'active' and job[2] == token and job[10] then
  -- A part of a split job: its folder becomes part of the parent's version (published or
  -- deleted with it, so its own record goes); its completion is the parent's per-asset
  -- event; the last one starts the parent's next stage. A late part (its parent ended or
  -- split anew) touches nothing of the parent: its folder is trash for the janitor.
  local live = live_parent(id)
  if ARGV[10] == 'completed' then
    local version = ARGV[15]
    if live and version ~= '' and job[9] == version then
      redis.call('DEL', base .. 'version:' .. version)
      redis.call('HSET', key, 'version', '')
    end
    make_terminal(id, 'completed', { 'result', ARGV[11], 'ended_by', token })
    if live then
      local at = 18
      for _ = 1, tonumber(ARGV[17]) do
        emit(ARGV[at], live, ARGV[at + 1])
        at = at + 2
      end
      part_done(id)
    end
  else
    make_terminal(id, 'canceled', { 'ended_by', token })
    emit_end(id, 'Canceled', '"was":"active"')
  end
  out[1] = 1
elseif job[1] == 'active' and job[2] == token then
  local known = { job[3], job[4], job[5], job[6], job[7] }
  if ARGV[10] == 'completed' then
    local version = ARGV[15]
    if version ~= '' then
      if job[9] ~= version then return redis.error_reply('ERR version ' .. version .. ' is not the one this delivery opened') end
      local version_key = base .. 'version:' .. version
      local written = redis.call('HMGET', version_key, 'slot', 'url', 'master')
      local slot_key = base .. 'slot:' .. written[1]
      local previous = redis.call('HGET', slot_key, 'current')
      redis.call('HSET', version_key, 'state', 'published', 'published_at', now)
      redis.call('HSET', slot_key, 'current', version, 'url', written[2], 'master', written[3], 'job', id,
        'published_at', now, 'publishing', '', 'publishing_until', 0)
      redis.call('PERSIST', slot_key)
      if previous and previous ~= version then
        local previous_key = base .. 'version:' .. previous
        if redis.call('HGET', previous_key, 'state') == 'published' then
          redis.call('HSET', previous_key, 'state', 'trash', 'trashed_at', now, 'superseded_by', version)
          redis.call('ZADD', base .. 'trash', now + tonumber(ARGV[16]), previous)
        end
      end
    end
    -- The events first, so their stream ids go into the one HSET that ends the job.
    local ids = job[12]
    local at = 18
    for _ = 1, tonumber(ARGV[17]) do
      ids = with_event_id(ids, emit_raw(ARGV[at], id, ARGV[at + 1], known))
      at = at + 2
    end
    ids = with_event_id(ids, emit_raw(outcome_event(job[5], 'Completed'), id, ARGV[11], known))
    -- Nothing left to trash when the version was just published or none was opened.
    local left = nil
    if version ~= '' or not job[9] or job[9] == '' then left = false end
    local fields = { 'result', ARGV[11], 'ended_by', token, 'event_ids', ids }
    if version ~= '' then fields[#fields + 1] = 'version'; fields[#fields + 1] = '' end
    make_terminal(id, 'completed', fields, { version = left, parent = false, children = job[11] or false, token = token })
  else
    local ids = with_event_id(job[12], emit_raw(outcome_event(job[5], 'Canceled'), id, ARGV[11], known))
    make_terminal(id, 'canceled', { 'ended_by', token, 'event_ids', ids }, { parent = false, children = job[11] or false, token = token })
  end
  out[1] = 1
elseif job[8] == token and (job[1] == 'completed' or job[1] == 'canceled') then
  -- This delivery ended it itself: a retry after a lost reply gets the same answer.
  out[1] = 1
end
local fetch_max = tonumber(ARGV[12] or '0') or 0
if fetch_max > 0 then
  promote_and_recover(tonumber(ARGV[14]), tonumber(ARGV[13]))
  take_waiting(fetch_max, tonumber(ARGV[13]), out)
end
return out

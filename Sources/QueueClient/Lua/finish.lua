-- Ends running jobs as completed or canceled (after their worker saw the cancel request),
-- appending each one's terminal event (e.g. TranscodeCompleted) in the same step. Fenced: a
-- stale token is refused, so a job has exactly one terminal event.
--
-- A worker running several jobs at once ends those that finish together in one call (the
-- prelude, the call and the follow-up fetch are paid once for the group, not once per job).
-- Each job is judged on its own: one stale token refuses that job alone.
--
-- Completion publishes the attempt's output version, if it has one: it becomes the current
-- version of its slot, and the one it replaces is trashed, due after the grace period
-- (viewers in the middle of it are not cut off). Per-asset events (KeyframeReady, ...)
-- are appended just before the terminal one, in the same step: each exactly once, and
-- only for outputs that were published.
-- With a fetch count above 0, it then takes the worker's next jobs in the same step.
--
-- ARGV 8: number of jobs, 9: lease ms, 10: max stalls, then per job: id, token, "completed"
-- or "canceled", event data JSON, its attempt's trace id ("" none), jobs to fetch for its
-- lane next (0 or more), the version to publish ("" none), grace ms for the version it
-- replaces, number of per-asset events, then per event its type and data JSON.
-- Returns { per job 1, 0 for a stale token, or an error message (a version the delivery did
-- not open, or an error raised while ending it: that job alone); then, when any job's lane
-- asked, the fetch reply: as many jobs as the lanes of the jobs not answered with an error
-- asked for }.

local out = {}
-- Ended jobs that are not parts, by state: moved and counted together after the loop.
local ended = {}

local function finish_one(at)
  local id, token, outcome, data = ARGV[at], ARGV[at + 1], ARGV[at + 2], ARGV[at + 3]
  local version, assets = ARGV[at + 6], tonumber(ARGV[at + 8])
  event_trace = ARGV[at + 4]
  if #event_trace ~= 32 or string.find(event_trace, '[^0-9a-f]') then event_trace = nil end
  -- Event types go into the JSON as they are: a caller's must be plain names (checked before
  -- anything is written).
  for asset_at = at + 9, at + 7 + assets * 2, 2 do
    if not string.find(ARGV[asset_at], '^%a%w*$') then return 'ERR event type ' .. cjson.encode(ARGV[asset_at]) .. ' is not a plain name' end
  end
  local key = job_key(id)
  local job = redis.call('HMGET', key, 'state', 'token', 'attempts', 'metadata', 'type', 'version', 'parent', 'children', 'event_ids')
  -- What only some jobs have is read only for them: every field looked up that a hash lacks
  -- is a search of all of it.
  local holds = job[1] == 'active' and job[2] == token
  local file_id, meta_movie_id = false, false
  if holds and not job[7] and transcode_types[job[5]] then
    local ids = redis.call('HMGET', key, 'file_id', 'meta_movie_id')
    file_id, meta_movie_id = ids[1], ids[2]
  end
  if holds and job[7] then
    -- A part of a split job: its folder becomes part of the parent's version (published or
    -- deleted with it, so its own record goes); its completion is the parent's per-asset
    -- event; the last one starts the parent's next stage. A late part (its parent ended or
    -- split anew) touches nothing of the parent: its folder is trash for the janitor.
    local live = live_parent(id)
    if outcome == 'completed' then
      if live and version ~= '' and job[6] == version then
        redis.call('DEL', base .. 'version:' .. version)
        redis.call('HSET', key, 'version', '')
      end
      make_terminal(id, 'completed', { 'result', data, 'ended_by', token })
      if live then
        local asset_at = at + 9
        for _ = 1, assets do
          emit(ARGV[asset_at], live, ARGV[asset_at + 1])
          asset_at = asset_at + 2
        end
        part_done(id)
      end
    else
      make_terminal(id, 'canceled', { 'ended_by', token })
      emit_end(id, 'Canceled', '"was":"active"')
    end
    return 1
  elseif holds then
    if outcome == 'completed' then
      if version ~= '' then
        if job[6] ~= version then return 'ERR version ' .. version .. ' is not the one this delivery opened' end
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
            redis.call('ZADD', base .. 'trash', now + tonumber(ARGV[at + 7]), previous)
          end
        end
      end
      -- The events first, so their stream ids go into the one HSET that ends the job.
      local ids = job[9]
      local asset_at = at + 9
      for _ = 1, assets do
        ids = with_event_id(ids, append_event(ARGV[asset_at], id, ARGV[asset_at + 1], job[3], job[4], job[5], file_id, meta_movie_id))
        asset_at = asset_at + 2
      end
      ids = with_event_id(ids, append_event(outcome_event(job[5], 'Completed'), id, data, job[3], job[4], job[5], file_id, meta_movie_id))
      -- Nothing left to trash when the version was just published or none was opened.
      local left = nil
      if version ~= '' or not job[6] or job[6] == '' then left = false end
      local fields = { 'result', data, 'ended_by', token, 'event_ids', ids }
      if version ~= '' then fields[#fields + 1] = 'version'; fields[#fields + 1] = '' end
      make_terminal(id, 'completed', fields, { version = left, parent = false, children = job[8] or false, token = token }, ended)
    else
      local ids = with_event_id(job[9], append_event(outcome_event(job[5], 'Canceled'), id, data, job[3], job[4], job[5], file_id, meta_movie_id))
      make_terminal(id, 'canceled', { 'ended_by', token, 'event_ids', ids }, { parent = false, children = job[8] or false, token = token }, ended)
    end
    return 1
  elseif (job[1] == 'completed' or job[1] == 'canceled') and redis.call('HGET', key, 'ended_by') == token then
    -- This delivery ended it itself: a retry after a lost reply gets the same answer.
    return 1
  end
  return 0
end

local at = 11
local fetch_max = 0
for index = 1, tonumber(ARGV[8]) do
  -- An error ending one job (a missing record's field, say) answers that job alone: the jobs
  -- ended before it in this call are moved by end_all all the same.
  local ok, answer = pcall(finish_one, at)
  if not ok then answer = 'ERR ' .. tostring(type(answer) == 'table' and answer.err or answer) end
  out[index] = answer
  -- A job answered with an error takes nothing next: its caller gets no reply to hand on.
  if type(answer) ~= 'string' then fetch_max = fetch_max + tonumber(ARGV[at + 5]) end
  at = at + 9 + tonumber(ARGV[at + 8]) * 2
end
end_all(ended)
-- The jobs taken next start traces of their own: their JobStarted events carry none of these.
event_trace = nil
if fetch_max > 0 then
  promote_and_recover(tonumber(ARGV[10]), tonumber(ARGV[9]))
  take_waiting(fetch_max, tonumber(ARGV[9]), out)
end
return out

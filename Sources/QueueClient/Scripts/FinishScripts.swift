extension QueueScript {
    /// Ends a running job as completed or canceled (after its worker saw the cancel request),
    /// appending its terminal event (e.g. TranscodeCompleted) in the same step. Fenced: a
    /// stale token is refused, so a job has exactly one terminal event.
    ///
    /// Completion publishes the attempt's output version, if it has one: it becomes the current
    /// version of its slot, and the one it replaces is trashed, due after the grace period
    /// (viewers in the middle of it are not cut off). Per-asset events (KeyframeReady, ...)
    /// are appended just before the terminal one, in the same step: each exactly once, and
    /// only for outputs that were published.
    /// With a fetch count above 0, it then takes the worker's next jobs in the same step.
    ///
    /// ARGV 8: id, 9: token, 10: "completed" or "canceled", 11: event data JSON,
    /// 12: jobs to fetch next (0: none), 13: lease ms, 14: max stalls, 15: the version to
    /// publish ("" none), 16: grace ms for the version it replaces, 17: number of per-asset
    /// events, then per event its type and data JSON.
    /// Returns { 1, or 0 for a stale token; then, when fetching, the fetch reply }.
    static let finish = QueueScript(name: "finish", body: #"""
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
    """#)

    /// A failed attempt: retried later (state failed, scheduled with backoff) when the error
    /// is retryable and attempts remain; otherwise dead, with its terminal event (e.g.
    /// TranscodeFailed). Fenced like finish. Either way the attempt's output version is trash.
    /// ARGV 8: id, 9: token, 10: error code, 11: message, 12: retryable "1"/"0",
    /// 13: retry delay ms, 14: jobs to fetch next (0: none), 15: lease ms, 16: max stalls.
    /// A job whose cancellation was requested ends canceled instead of being retried.
    /// Returns { "retry" | "dead" | "canceled" | "stale", retry_at_ms or "", then, when fetching, the fetch reply }.
    static let fail = QueueScript(name: "fail", body: #"""
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
      redis.call('HSET', key, 'state', 'failed', 'run_at', retry_at, 'worker', '', 'lease_until', 0, 'ended_by', token)
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
    """#)

    /// Cancels a job: waiting or scheduled ones end at once (terminal event appended); a
    /// running one is flagged, its worker sees it at the next heartbeat and stops. A split job
    /// waiting for its parts ends at once and cancels them; cancelling a part cancels its job.
    /// ARGV 8: id. Returns "canceled", "cancel_requested", "not_found" or "already_<terminal state>".
    static let cancel = QueueScript(name: "cancel", body: #"""
    local id = ARGV[8]
    -- A live part stands for its job: cancelling it cancels the job (and so every part).
    -- A late part is cancelled alone, silently: its job's life is over or is another one.
    local parent = live_parent(id)
    id = parent or id
    local key = job_key(id)
    local job = redis.call('HMGET', key, 'state', 'priority', 'type')
    local state = job[1]
    if not state then return 'not_found' end
    if state == 'waiting_children' then
      cancel_parts(id)
    elseif state == 'waiting' then
      redis.call('LREM', base .. 'wait:' .. job[2], 0, id)
      redis.call('ZREM', base .. 'wait:' .. job[2] .. ':graph', id)
    elseif state == 'delayed' or state == 'failed' then
      redis.call('ZREM', base .. 'scheduled', id)
    elseif state == 'active' then
      redis.call('HSET', key, 'cancel', 1)
      return 'cancel_requested'
    else
      return 'already_' .. state
    end
    make_terminal(id, 'canceled')
    if parent ~= false then emit(outcome_event(job[3], 'Canceled'), id, '{"was":' .. cjson.encode(state) .. '}') end
    return 'canceled'
    """#)

    /// A dead job back to waiting with as many attempts again as it was given (an operator's
    /// `dead retry`). Attempts keep counting up, never restart: every terminal event of a job
    /// has an attempt number of its own, so a consumer deduplicating on job_id + attempt keeps
    /// the failure it saw and the outcome of the retry.
    /// ARGV 8: id. Returns 1, or 0 when the job is not dead.
    static let deadRetry = QueueScript(name: "dead_retry", body: #"""
    local id = ARGV[8]
    local key = job_key(id)
    local job = redis.call('HMGET', key, 'state', 'max_attempts', 'attempts', 'allowance', 'parent')
    if job[1] ~= 'dead' then return 0 end
    if job[2] == '0' or job[5] then return 0 end  -- an invalid item, or a part (retry its job)
    -- A split job starts over: new parts, a new version.
    redis.call('HDEL', key, 'graph', 'children', 'pending', 'work_total', 'work_done', 'stage', 'progress_at',
      'split_attempt', 'part_count', 'ranked_remaining')
    local attempts = tonumber(job[3]) or 0
    local allowance = tonumber(job[4]) or tonumber(job[2])
    redis.call('ZREM', base .. 'dead', id)
    redis.call('PERSIST', key)
    redis.call('HSET', key, 'max_attempts', attempts + allowance, 'stalls', 0, 'finished_at', '', 'ended_by', '')
    make_waiting(id, redis.call('HGET', key, 'priority'), false)
    emit('JobRequeued', id, '{"attempts":' .. attempts .. ',"max_attempts":' .. (attempts + allowance) .. '}')
    wake()
    return 1
    """#)

    /// Deletes one dead job (an operator's delete). ARGV 8: id. Returns 1, or 0 when it is not dead.
    static let deadDelete = QueueScript(name: "dead_delete", body: #"""
    local id = ARGV[8]
    if redis.call('HGET', job_key(id), 'state') ~= 'dead' then return 0 end
    redis.call('DEL', job_key(id))
    redis.call('ZREM', base .. 'dead', id)
    return 1
    """#)

    /// Deletes up to N dead jobs. ARGV 8: N. Returns how many were deleted.
    static let deadPurge = QueueScript(name: "dead_purge", body: #"""
    local ids = redis.call('ZRANGE', base .. 'dead', 0, tonumber(ARGV[8]) - 1)
    for _, id in ipairs(ids) do
      redis.call('DEL', job_key(id))
      redis.call('ZREM', base .. 'dead', id)
    end
    return #ids
    """#)
}

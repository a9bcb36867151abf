extension QueueScript {
    /// Ends a running job as completed or canceled (after its worker saw the cancel request),
    /// appending its terminal event (e.g. TranscodeCompleted) in the same step. Fenced: a
    /// stale token is refused, so a job has exactly one terminal event.
    /// With a fetch count above 0, it then takes the worker's next jobs in the same step.
    ///
    /// ARGV 8: id, 9: token, 10: "completed" or "canceled", 11: event data JSON,
    /// 12: jobs to fetch next (0: none), 13: lease ms, 14: max stalls.
    /// Returns { 1, or 0 for a stale token; then, when fetching, the fetch reply }.
    static let finish = QueueScript(name: "finish", body: #"""
    local id = ARGV[8]
    local out = { 0 }
    local job = redis.call('HMGET', job_key(id), 'state', 'token', 'attempts', 'metadata', 'type', 'file_id', 'meta_movie_id')
    if job[1] == 'active' and job[2] == ARGV[9] then
      local known = { job[3], job[4], job[5], job[6], job[7] }
      if ARGV[10] == 'completed' then
        make_terminal(id, 'completed', { 'result', ARGV[11] })
        emit(outcome_event(job[5], 'Completed'), id, ARGV[11], known)
      else
        make_terminal(id, 'canceled')
        emit(outcome_event(job[5], 'Canceled'), id, ARGV[11], known)
      end
      out[1] = 1
    elseif job[2] == ARGV[9] and (job[1] == 'completed' or job[1] == 'canceled') then
      -- This delivery finished it already: a retry after a lost reply gets the same answer.
      out[1] = 1
    end
    local fetch_max = tonumber(ARGV[12] or '0') or 0
    if fetch_max > 0 then
      promote_and_recover(tonumber(ARGV[14]))
      take_waiting(fetch_max, tonumber(ARGV[13]), out)
    end
    return out
    """#)

    /// A failed attempt: retried later (state failed, scheduled with backoff) when the error
    /// is retryable and attempts remain; otherwise dead, with its terminal event (e.g.
    /// TranscodeFailed). Fenced like finish.
    /// ARGV 8: id, 9: token, 10: error code, 11: message, 12: retryable "1"/"0",
    /// 13: retry delay ms, 14: jobs to fetch next (0: none), 15: lease ms, 16: max stalls.
    /// A job whose cancellation was requested ends canceled instead of being retried.
    /// Returns { "retry" | "dead" | "canceled" | "stale", retry_at_ms or "", then, when fetching, the fetch reply }.
    static let fail = QueueScript(name: "fail", body: #"""
    local function then_fetch(out)
      local fetch_max = tonumber(ARGV[14] or '0') or 0
      if fetch_max > 0 then
        promote_and_recover(tonumber(ARGV[16]))
        take_waiting(fetch_max, tonumber(ARGV[15]), out)
      end
      return out
    end
    local id = ARGV[8]
    local key = job_key(id)
    if not holds_lease(id, ARGV[9]) then
      -- This delivery's failure was recorded already (a retry after a lost reply): same answer.
      local done = redis.call('HMGET', key, 'state', 'token', 'run_at')
      if done[2] == ARGV[9] and done[1] == 'failed' then return then_fetch({ 'retry', done[3] }) end
      if done[2] == ARGV[9] and done[1] == 'dead' then return then_fetch({ 'dead', '' }) end
      return then_fetch({ 'stale', '' })
    end
    local code, message = ARGV[10], ARGV[11]
    append_history(id, code, message)
    redis.call('HSET', key, 'error_code', code, 'error_message', message)
    local job = redis.call('HMGET', key, 'attempts', 'max_attempts', 'type')
    local attempts, max_attempts = tonumber(job[1]), tonumber(job[2])
    if ARGV[12] == '1' and attempts < max_attempts then
      if cancel_if_requested(id) then return then_fetch({ 'canceled', '' }) end
      local retry_at = now + tonumber(ARGV[13])
      redis.call('HSET', key, 'state', 'failed', 'run_at', retry_at, 'worker', '', 'lease_until', 0)
      redis.call('ZREM', base .. 'active', id)
      redis.call('ZADD', base .. 'scheduled', retry_at, id)
      redis.call('HINCRBY', base .. 'stats', 'retries', 1)
      emit('JobRetryScheduled', id, '{"error_code":' .. cjson.encode(code) .. ',"message":' .. cjson.encode(message) ..
        ',"retry_at":"' .. iso8601(retry_at) .. '","attempts":' .. attempts .. ',"max_attempts":' .. max_attempts .. '}')
      return then_fetch({ 'retry', tostring(retry_at) })
    end
    make_terminal(id, 'dead')
    emit(outcome_event(job[3], 'Failed'), id, '{"error_code":' .. cjson.encode(code) .. ',"message":' ..
      cjson.encode(message) .. ',"retryable":' .. (ARGV[12] == '1' and 'true' or 'false') .. ',"attempts":' .. attempts .. '}')
    return then_fetch({ 'dead', '' })
    """#)

    /// Cancels a job: waiting or scheduled ones end at once (terminal event appended); a
    /// running one is flagged, its worker sees it at the next heartbeat and stops.
    /// ARGV 8: id. Returns "canceled", "cancel_requested", "not_found" or "already_<terminal state>".
    static let cancel = QueueScript(name: "cancel", body: #"""
    local id = ARGV[8]
    local key = job_key(id)
    local job = redis.call('HMGET', key, 'state', 'priority', 'type')
    local state = job[1]
    if not state then return 'not_found' end
    if state == 'waiting' then
      redis.call('LREM', base .. 'wait:' .. job[2], 0, id)
    elseif state == 'delayed' or state == 'failed' then
      redis.call('ZREM', base .. 'scheduled', id)
    elseif state == 'active' then
      redis.call('HSET', key, 'cancel', 1)
      return 'cancel_requested'
    else
      return 'already_' .. state
    end
    make_terminal(id, 'canceled')
    emit(outcome_event(job[3], 'Canceled'), id, '{"was":' .. cjson.encode(state) .. '}')
    return 'canceled'
    """#)

    /// A dead job back to waiting with fresh attempts (an operator's `dead retry`).
    /// ARGV 8: id. Returns 1, or 0 when the job is not dead.
    static let deadRetry = QueueScript(name: "dead_retry", body: #"""
    local id = ARGV[8]
    local key = job_key(id)
    if redis.call('HGET', key, 'state') ~= 'dead' then return 0 end
    if redis.call('HGET', key, 'max_attempts') == '0' then return 0 end
    redis.call('ZREM', base .. 'dead', id)
    redis.call('PERSIST', key)
    redis.call('HSET', key, 'attempts', 0, 'stalls', 0, 'finished_at', '')
    make_waiting(id, redis.call('HGET', key, 'priority'), false)
    emit('JobRequeued', id, '{}')
    wake()
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

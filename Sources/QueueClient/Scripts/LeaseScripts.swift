extension QueueScript {
    /// Extends the leases of a worker's running jobs. Per job: 1 = extended, 2 = extended and
    /// cancellation requested (stop now), 0 = not yours any more (stop, your result would be refused).
    /// ARGV 8: lease ms, then id, token pairs.
    static let heartbeat = QueueScript(name: "heartbeat", body: #"""
    local lease_ms = tonumber(ARGV[8])
    local results = {}
    for i = 9, #ARGV, 2 do
      local id, token = ARGV[i], ARGV[i + 1]
      if holds_lease(id, token) then
        redis.call('ZADD', base .. 'active', 'XX', now + lease_ms, id)
        redis.call('HSET', job_key(id), 'lease_until', now + lease_ms)
        results[#results + 1] = redis.call('HGET', job_key(id), 'cancel') == '1' and 2 or 1
      else
        results[#results + 1] = 0
      end
    end
    return results
    """#)

    /// Records a running job's progress (the caller throttles) and appends JobProgress.
    /// ARGV 8: id, 9: token, 10: progress JSON. Returns 1, or 0 for a stale token.
    static let progress = QueueScript(name: "progress", body: #"""
    if not holds_lease(ARGV[8], ARGV[9]) then return 0 end
    redis.call('HSET', job_key(ARGV[8]), 'progress', ARGV[10])
    -- A part's progress shows as its job's (the sum of its parts'), not as its own events.
    local ok, decoded = pcall(cjson.decode, ARGV[10])
    local percent = ok and type(decoded) == 'table' and tonumber(decoded.percent) or 0
    if part_progress(ARGV[8], percent / 100) then return 1 end
    -- At most one JobProgress a second on the clock that stamps events (the worker's own
    -- throttle runs on its clock, and round trips vary): the field above is always current.
    local last = tonumber(redis.call('HGET', job_key(ARGV[8]), 'progress_at')) or 0
    if now - last < 1000 then return 1 end
    redis.call('HSET', job_key(ARGV[8]), 'progress_at', now)
    emit('JobProgress', ARGV[8], ARGV[10])
    return 1
    """#)

    /// Records what a running job learned about its input (file_id, meta_movie_id), so that
    /// every later event of the job, its failure included, carries them.
    /// ARGV 8: id, 9: token, then field, value pairs. Returns 1, or 0 for a stale token.
    static let annotate = QueueScript(name: "annotate", body: #"""
    if not holds_lease(ARGV[8], ARGV[9]) then return 0 end
    for i = 10, #ARGV, 2 do
      if ARGV[i] == 'file_id' or ARGV[i] == 'meta_movie_id' then
        redis.call('HSET', job_key(ARGV[8]), ARGV[i], ARGV[i + 1])
        index_job(ARGV[8], ARGV[i] == 'file_id' and 'file' or 'movie', ARGV[i + 1])
      end
    end
    return 1
    """#)

    /// Hands a running job straight back to the front of waiting (graceful shutdown), without
    /// counting the attempt and without waiting for its lease to expire. Its output version is trash.
    /// ARGV 8: id, 9: token. Returns 1, or 0 for a stale token.
    static let release = QueueScript(name: "release", body: #"""
    local id = ARGV[8]
    if not holds_lease(id, ARGV[9]) then return 0 end
    local key = job_key(id)
    if cancel_if_requested(id, ARGV[9]) then return 1 end
    trash_attempt_version(id, now)
    redis.call('HINCRBY', key, 'attempts', -1)
    redis.call('ZREM', base .. 'active', id)
    make_waiting(id, redis.call('HGET', key, 'priority'), true)
    emit('JobReleased', id, '{}')
    wake()
    return 1
    """#)
}

/// Output versions: every attempt that writes outputs writes them under a prefix of its own (a
/// version), recorded here before its first upload. Completion (`finish`) publishes it; every
/// other end of the attempt makes it trash, which a janitor (any worker) deletes from storage.
///
/// Keys: `version:<v>` (hash: url, slot, master, job, token, state writing|published|trash),
/// `slot:<s>` (hash: the current version of one job type's outputs for one file, and who is
/// publishing it), `trash` (sorted set: versions to delete, by due time).
extension QueueScript {
    /// Records the version a delivery is about to write (before any byte is uploaded).
    /// ARGV 8: id, 9: token, 10: version, 11: its URL, 12: slot, 13: stable master URL ("" none).
    /// Returns 1, or 0 for a stale token (nothing recorded: upload nothing).
    static let versionOpen = QueueScript(name: "version_open", body: #"""
    local id, token, version = ARGV[8], ARGV[9], ARGV[10]
    if not holds_lease(id, token) then return 0 end
    local held = redis.call('HGET', job_key(id), 'version')
    if held and held ~= '' and held ~= version then trash_version_of(id, now) end
    redis.call('HSET', base .. 'version:' .. version, 'url', ARGV[11], 'slot', ARGV[12], 'master', ARGV[13], 'job', id,
      'token', token, 'state', 'writing', 'created_at', now)
    redis.call('HSET', job_key(id), 'version', version)
    return 1
    """#)

    /// Asks to write the stable names of the delivery's version (the last step before finish):
    /// one publisher per slot at a time, so stable names are written in the order publications
    /// complete. A job asked to cancel publishes nothing.
    /// ARGV 8: id, 9: token, 10: lease ms (how long the right lasts without finishing).
    /// Returns "ok", "busy" (another delivery publishes this slot: try again shortly), "cancel"
    /// (acknowledge the cancellation instead), "stale" or "no_version".
    static let publishBegin = QueueScript(name: "publish_begin", body: #"""
    local id, token = ARGV[8], ARGV[9]
    if not holds_lease(id, token) then return 'stale' end
    local job = redis.call('HMGET', job_key(id), 'cancel', 'version')
    if job[1] == '1' then return 'cancel' end
    if not job[2] or job[2] == '' then return 'no_version' end
    local slot = redis.call('HGET', base .. 'version:' .. job[2], 'slot')
    if not slot or slot == '' then return 'ok' end  -- a part's folder: nothing to publish alone
    local slot_key = base .. 'slot:' .. slot
    local holder = redis.call('HMGET', slot_key, 'publishing', 'publishing_until', 'current')
    if holder[1] and holder[1] ~= '' and holder[1] ~= token and (tonumber(holder[2]) or 0) > now then return 'busy' end
    redis.call('HSET', slot_key, 'publishing', token, 'publishing_until', now + tonumber(ARGV[10]))
    -- A slot with nothing published yet goes with the right if the publication never completes.
    if not holder[3] then redis.call('PEXPIRE', slot_key, 2 * tonumber(ARGV[10])) end
    return 'ok'
    """#)

    /// Takes the slot's publication right for a repair of its stable names (a janitor, or a
    /// refused publisher putting them back): repairs and publications of a slot then happen one
    /// at a time, and a repair reads the current version under the right, never from an older
    /// snapshot. Re-entrant for the same holder.
    /// ARGV 8: slot, 9: holder, 10: lease ms. Returns { "ok", current version, its URL, master }
    /// ("" when none) or { "busy" }.
    static let slotLock = QueueScript(name: "slot_lock", body: #"""
    local slot_key = base .. 'slot:' .. ARGV[8]
    local holder = redis.call('HMGET', slot_key, 'publishing', 'publishing_until', 'current', 'url', 'master')
    if holder[1] and holder[1] ~= '' and holder[1] ~= ARGV[9] and (tonumber(holder[2]) or 0) > now then return { 'busy' } end
    redis.call('HSET', slot_key, 'publishing', ARGV[9], 'publishing_until', now + tonumber(ARGV[10]))
    if not holder[3] then redis.call('PEXPIRE', slot_key, 2 * tonumber(ARGV[10])) end
    return { 'ok', holder[3] or '', holder[4] or '', holder[5] or '' }
    """#)

    /// Gives the right back (if still held by this holder). A slot that never had a publication
    /// is removed. ARGV 8: slot, 9: holder. Returns 1, or 0 when the right had passed to another.
    static let slotUnlock = QueueScript(name: "slot_unlock", body: #"""
    local slot_key = base .. 'slot:' .. ARGV[8]
    local held = redis.call('HMGET', slot_key, 'publishing', 'current')
    if held[1] ~= ARGV[9] then return 0 end
    if not held[2] or held[2] == '' then redis.call('DEL', slot_key) return 1 end
    redis.call('HSET', slot_key, 'publishing', '', 'publishing_until', 0)
    return 1
    """#)

    /// The current (published) version of a slot: { version, url, master } ("" when none).
    /// ARGV 8: slot.
    static let slotCurrent = QueueScript(name: "slot_current", body: #"""
    local current = redis.call('HMGET', base .. 'slot:' .. ARGV[8], 'current', 'url', 'master')
    return { current[1] or '', current[2] or '', current[3] or '' }
    """#)

    /// Takes up to N due trash versions for deletion, each held for a lease (a janitor that dies
    /// leaves them to the next one). Versions no longer trash are dropped from the set; one whose
    /// delivery still holds its slot's publication right waits until the right ends.
    /// ARGV 8: max, 9: lease ms.
    /// Returns the milliseconds until the next version left in the trash is due (-1: none),
    /// then 6 fields per version taken: version, url, stable master URL, its slot's current
    /// version and URL when taken, and the slot (a repair of the stable name takes the slot's
    /// right with `slot_lock` and reads the current version again there).
    static let janitorTake = QueueScript(name: "janitor_take", body: #"""
    local due = redis.call('ZRANGEBYSCORE', base .. 'trash', '-inf', now, 'LIMIT', 0, tonumber(ARGV[8]))
    local out = { '-1' }
    for _, version in ipairs(due) do
      local info = redis.call('HMGET', base .. 'version:' .. version, 'state', 'url', 'master', 'slot', 'token')
      local current = info[4] and redis.call('HMGET', base .. 'slot:' .. info[4], 'current', 'url', 'publishing', 'publishing_until') or {}
      if info[1] ~= 'trash' or current[1] == version then
        redis.call('ZREM', base .. 'trash', version)
      elseif current[3] and current[3] ~= '' and current[3] == info[5] and (tonumber(current[4]) or 0) > now then
        -- Its delivery still holds the slot's publication right: it may be writing the stable
        -- master into this version right now. Deleted once the right has ended (then repaired).
        redis.call('ZADD', base .. 'trash', tonumber(current[4]), version)
      else
        redis.call('ZADD', base .. 'trash', now + tonumber(ARGV[9]), version)
        out[#out + 1] = version
        out[#out + 1] = info[2] or ''
        out[#out + 1] = info[3] or ''
        out[#out + 1] = current[1] or ''
        out[#out + 1] = current[2] or ''
        out[#out + 1] = info[4] or ''
      end
    end
    local next_due = redis.call('ZRANGE', base .. 'trash', 0, 0, 'WITHSCORES')
    if next_due[2] then out[1] = tostring(math.max(0, tonumber(next_due[2]) - now)) end
    return out
    """#)

    /// A trashed version is gone from storage: forget it. ARGV 8: version. Returns 1, or 0 when it is not trash.
    static let janitorDone = QueueScript(name: "janitor_done", body: #"""
    local version_key = base .. 'version:' .. ARGV[8]
    if redis.call('HGET', version_key, 'state') ~= 'trash' then return 0 end
    redis.call('ZREM', base .. 'trash', ARGV[8])
    redis.call('DEL', version_key)
    redis.call('HINCRBY', base .. 'stats', 'versions_deleted', 1)
    return 1
    """#)

    /// Deleting a trashed version failed (storage away, a late writer still writing): due again
    /// after a backoff that doubles with each failure, from a base up to a cap; retried until
    /// it succeeds. ARGV 8: version, 9: base ms, 10: cap ms, 11: the error.
    /// Returns the failures so far (0: not trash any more).
    static let janitorLater = QueueScript(name: "janitor_later", body: #"""
    local version_key = base .. 'version:' .. ARGV[8]
    if redis.call('HGET', version_key, 'state') ~= 'trash' then return 0 end
    local failures = redis.call('HINCRBY', version_key, 'cleanup_failures', 1)
    local delay = math.min(tonumber(ARGV[10]), tonumber(ARGV[9]) * 2 ^ math.min(failures - 1, 30))
    redis.call('ZADD', base .. 'trash', 'XX', now + math.floor(delay), ARGV[8])
    redis.call('HSET', version_key, 'last_error', ARGV[11])
    return failures
    """#)
}

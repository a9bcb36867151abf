extension QueueScript {
    /// Webhook deliveries of one endpoint (see `WebhookLedger`). New events are read from the
    /// endpoint's consumer group on the queue's stream and *accepted* at once, with no HTTP in
    /// between: the event's body is copied into the endpoint's own keys and acknowledged in the
    /// group, so the queue's stream (capped by `MW_EVENTS_MAXLEN`, filled by `JobProgress`) can
    /// roll over without taking a waiting delivery with it. Keys, under `webhook:<endpoint>:`:
    /// `retry` (stream id → due ms: new, retrying, or held while disabled), `inflight` (stream
    /// id → lease deadline ms), `bodies` (stream id → event JSON), `attempts` (stream id →
    /// "attempts:first_attempt_ms:redelivery"), `log` (a capped stream), `stats`, `lost`,
    /// `redeliveries`, `disabled`.

    /// Accepts a batch read from the group: acknowledges every entry (skipped ones included:
    /// one script per batch, not per event) and keeps the deliverable ones with their bodies,
    /// due now. Beyond the backlog cap, a deliverable event is given up (logged with its body,
    /// so an operator can still redeliver it). ARGV 8: endpoint, 9: backlog cap, 10: log length,
    /// then pairs from 11: stream id, event JSON ("" when this endpoint skips the event type).
    /// Returns {accepted, skipped, dropped}.
    static let webhookAccept = QueueScript(name: "webhook_accept", body: #"""
    local hook = base .. 'webhook:' .. ARGV[8]
    local cap, log_length = tonumber(ARGV[9]), ARGV[10]
    local waiting = redis.call('ZCARD', hook .. ':retry') + redis.call('ZCARD', hook .. ':inflight')
    local ids = {}
    local accepted, skipped, dropped = 0, 0, 0
    for i = 11, #ARGV - 1, 2 do
      local entry, body = ARGV[i], ARGV[i + 1]
      ids[#ids + 1] = entry
      if body == '' then
        skipped = skipped + 1
      elseif waiting >= cap then
        dropped = dropped + 1
        redis.call('XADD', hook .. ':log', 'MAXLEN', '~', log_length, '*', 'at', occurred_at, 'stream_id', entry,
          'event_id', '', 'event_type', '', 'attempt', '0', 'outcome', 'gave_up', 'status', '0', 'latency_ms', '0',
          'error', 'backlog full: ' .. cap .. ' deliveries already wait (MW_WEBHOOK_BACKLOG_MAX)', 'url', '', 'body', body)
      elseif redis.call('HSETNX', hook .. ':bodies', entry, body) == 1 then
        -- (HSETNX: a delivery accepted twice, after a takeover, stays one delivery.)
        redis.call('ZADD', hook .. ':retry', 'NX', now, entry)
        accepted = accepted + 1
        waiting = waiting + 1
      end
    end
    for i = 1, #ids, 500 do
      redis.call('XACK', base .. 'events', 'webhook:' .. ARGV[8], unpack(ids, i, math.min(i + 499, #ids)))
    end
    if skipped > 0 then redis.call('HINCRBY', hook .. ':stats', 'skipped', skipped) end
    if dropped > 0 then redis.call('HINCRBY', hook .. ':stats', 'gave_up', dropped) end
    return {accepted, skipped, dropped}
    """#)

    /// Takes due deliveries, each held for a lease in `inflight` (a deliverer that dies lets it
    /// come due again when the lease ends). Nothing while the endpoint is disabled.
    /// ARGV 8: endpoint, 9: max, 10: lease ms. Returns {next due ms or -1, stream id, attempts,
    /// first attempt ms, redelivery, body, …}; the body is "" when no copy of the event is left.
    static let webhookTake = QueueScript(name: "webhook_take", body: #"""
    local hook = base .. 'webhook:' .. ARGV[8]
    if redis.call('EXISTS', hook .. ':disabled') == 1 then return {-1} end
    local limit, lease = tonumber(ARGV[9]), tonumber(ARGV[10])
    local out = {0}
    local function take(entry)
      redis.call('ZADD', hook .. ':inflight', now + lease, entry)
      local held = redis.call('HGET', hook .. ':attempts', entry) or ('0:0:0')
      local attempts, first, redelivery = string.match(held, '^(%d+):(%d+):?(%d*)$')
      local body = redis.call('HGET', hook .. ':bodies', entry)
      if not body then
        -- Accepted before deliveries kept their bodies: the stream may still hold the event.
        local found = redis.call('XRANGE', base .. 'events', entry, entry)
        body = ''
        if found[1] then
          local fields = found[1][2]
          for j = 1, #fields - 1, 2 do if fields[j] == 'event' then body = fields[j + 1] end end
        end
      end
      out[#out + 1] = entry
      out[#out + 1] = attempts or '0'
      out[#out + 1] = first or '0'
      out[#out + 1] = (redelivery ~= nil and redelivery ~= '') and redelivery or '0'
      out[#out + 1] = body
    end
    -- Leases that ended first: their deliverer died (or hung past its timeout).
    for _, entry in ipairs(redis.call('ZRANGEBYSCORE', hook .. ':inflight', '-inf', now, 'LIMIT', 0, limit)) do
      take(entry)
    end
    local room = limit - (#out - 1) / 5
    if room > 0 then
      for _, entry in ipairs(redis.call('ZRANGEBYSCORE', hook .. ':retry', '-inf', now, 'LIMIT', 0, room)) do
        redis.call('ZREM', hook .. ':retry', entry)
        take(entry)
      end
    end
    local next_due = redis.call('ZRANGE', hook .. ':retry', 0, 0, 'WITHSCORES')
    local next_lease = redis.call('ZRANGE', hook .. ':inflight', 0, 0, 'WITHSCORES')
    local soonest = -1
    if next_due[2] then soonest = tonumber(next_due[2]) end
    if next_lease[2] and (soonest < 0 or tonumber(next_lease[2]) < soonest) then soonest = tonumber(next_lease[2]) end
    out[1] = soonest
    return out
    """#)

    /// Records one delivery attempt and what follows from it, with its log line (which keeps
    /// the body, so any line can be redelivered).
    /// ARGV 8: endpoint, 9: stream id, 10: outcome (delivered | retry | gave_up | disabled),
    /// 11: retry delay ms, 12: attempts so far, 13: first attempt ms, 14: HTTP status (0: none),
    /// 15: latency ms, 16: error text, 17: event id, 18: event type, 19: url, 20: log length,
    /// 21: redelivery number (0: none), 22: "1" to acknowledge the entry in the group too (an
    /// event claimed from a dead reader that the stream no longer holds). Returns 1.
    static let webhookRecord = QueueScript(name: "webhook_record", body: #"""
    local hook = base .. 'webhook:' .. ARGV[8]
    local entry, outcome = ARGV[9], ARGV[10]
    if ARGV[22] == '1' then redis.call('XACK', base .. 'events', 'webhook:' .. ARGV[8], entry) end
    local body = redis.call('HGET', hook .. ':bodies', entry) or ''
    redis.call('ZREM', hook .. ':inflight', entry)
    if outcome == 'retry' or outcome == 'disabled' then
      local due = outcome == 'retry' and now + tonumber(ARGV[11]) or now
      redis.call('ZADD', hook .. ':retry', due, entry)
      redis.call('HSET', hook .. ':attempts', entry, ARGV[12] .. ':' .. ARGV[13] .. ':' .. ARGV[21])
      if outcome == 'disabled' then redis.call('SET', hook .. ':disabled', occurred_at .. ' HTTP 410 Gone') end
    else
      redis.call('ZREM', hook .. ':retry', entry)
      redis.call('HDEL', hook .. ':attempts', entry)
      redis.call('HDEL', hook .. ':bodies', entry)
    end
    redis.call('HINCRBY', hook .. ':stats', outcome, 1)
    redis.call('XADD', hook .. ':log', 'MAXLEN', '~', ARGV[20], '*', 'at', occurred_at, 'stream_id', entry,
      'event_id', ARGV[17], 'event_type', ARGV[18], 'attempt', ARGV[12], 'outcome', outcome, 'status', ARGV[14],
      'latency_ms', ARGV[15], 'error', ARGV[16], 'url', ARGV[19], 'redelivery', ARGV[21], 'body', body)
    return 1
    """#)

    /// An operator asks for an event to be delivered again (delivered or not): due now, with
    /// fresh attempts and the next redelivery number (the deliverer marks it in `webhook-id`).
    /// The body comes from the waiting delivery, else the log line, else the queue's stream.
    /// ARGV 8: endpoint, 9: stream id, 10: log line id ("" if none). Returns the redelivery
    /// number, or 0 when no copy of the event is left.
    static let webhookRedeliver = QueueScript(name: "webhook_redeliver", body: #"""
    local hook = base .. 'webhook:' .. ARGV[8]
    local entry = ARGV[9]
    local body = redis.call('HGET', hook .. ':bodies', entry)
    local function field(found, name)
      if not found[1] then return nil end
      local fields = found[1][2]
      for j = 1, #fields - 1, 2 do if fields[j] == name then return fields[j + 1] end end
      return nil
    end
    if not body and ARGV[10] ~= '' and string.match(ARGV[10], '^%d+%-%d+$') then
      local found = redis.call('XRANGE', hook .. ':log', ARGV[10], ARGV[10])
      if field(found, 'stream_id') == entry then body = field(found, 'body') end
    end
    if (not body or body == '') and string.match(entry, '^%d+%-%d+$') then
      body = field(redis.call('XRANGE', base .. 'events', entry, entry), 'event')
    end
    if not body or body == '' then return 0 end
    local number = redis.call('INCR', hook .. ':redeliveries')
    redis.call('HSET', hook .. ':bodies', entry, body)
    redis.call('HSET', hook .. ':attempts', entry, '0:0:' .. number)
    redis.call('ZREM', hook .. ':inflight', entry)
    redis.call('ZADD', hook .. ':retry', now, entry)
    return number
    """#)

    /// Counts events the stream trimmed before any worker of the pool read them for this
    /// endpoint (computed by the caller from `XINFO`; it only grows): adds what is new to the
    /// stats and the log. ARGV 8: endpoint, 9: lost so far, 10: log length. Returns the increase.
    static let webhookLost = QueueScript(name: "webhook_lost", body: #"""
    local hook = base .. 'webhook:' .. ARGV[8]
    local total = tonumber(ARGV[9])
    local seen = tonumber(redis.call('GET', hook .. ':lost') or '0')
    if total <= seen then return 0 end
    redis.call('SET', hook .. ':lost', total)
    redis.call('HINCRBY', hook .. ':stats', 'lost', total - seen)
    redis.call('XADD', hook .. ':log', 'MAXLEN', '~', ARGV[10], '*', 'at', occurred_at, 'stream_id', '',
      'event_id', '', 'event_type', '', 'attempt', '0', 'outcome', 'lost', 'status', '0', 'latency_ms', '0',
      'error', (total - seen) .. ' events left the stream (MW_EVENTS_MAXLEN) before any worker read them', 'url', '', 'body', '')
    return total - seen
    """#)
}

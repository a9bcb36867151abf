extension QueueScript {
    /// Webhook deliveries of one endpoint (see `WebhookLedger`). New events come from the
    /// endpoint's consumer group on the queue's stream; an event whose delivery failed is
    /// acknowledged there and kept in the endpoint's retry set instead, with its attempts, so the
    /// group's pending list only ever holds deliveries in flight (a dead deliverer's are claimed
    /// by another). Keys: `webhook:<endpoint>:retry` (stream id → due ms), `…:attempts`
    /// (stream id → "attempts:first_attempt_ms"), `…:log` (a capped stream), `…:disabled`.

    /// Takes due retries, each held for a lease (a deliverer that dies lets it come due again).
    /// ARGV 8: endpoint, 9: max, 10: lease ms. Returns stream id, attempts, first attempt ms, …
    static let webhookTake = QueueScript(name: "webhook_take", body: #"""
    local hook = base .. 'webhook:' .. ARGV[8]
    if redis.call('EXISTS', hook .. ':disabled') == 1 then return {} end
    local out = {}
    for _, entry in ipairs(redis.call('ZRANGEBYSCORE', hook .. ':retry', '-inf', now, 'LIMIT', 0, tonumber(ARGV[9]))) do
      redis.call('ZADD', hook .. ':retry', now + tonumber(ARGV[10]), entry)
      local held = redis.call('HGET', hook .. ':attempts', entry) or ('0:' .. now)
      local colon = string.find(held, ':')
      out[#out + 1] = entry
      out[#out + 1] = string.sub(held, 1, colon - 1)
      out[#out + 1] = string.sub(held, colon + 1)
    end
    return out
    """#)

    /// Records one delivery attempt and what follows from it, with its log line.
    /// ARGV 8: endpoint, 9: stream id, 10: outcome (delivered | retry | gave_up | disabled |
    /// skipped), 11: retry delay ms, 12: attempts so far, 13: first attempt ms, 14: HTTP status
    /// (0: none), 15: latency ms, 16: error text, 17: event id, 18: event type, 19: url,
    /// 20: log length. Returns 1.
    static let webhookRecord = QueueScript(name: "webhook_record", body: #"""
    local hook = base .. 'webhook:' .. ARGV[8]
    local entry, outcome = ARGV[9], ARGV[10]
    redis.call('XACK', base .. 'events', 'webhook:' .. ARGV[8], entry)
    if outcome == 'retry' or outcome == 'disabled' then
      local due = outcome == 'retry' and now + tonumber(ARGV[11]) or now
      redis.call('ZADD', hook .. ':retry', due, entry)
      redis.call('HSET', hook .. ':attempts', entry, ARGV[12] .. ':' .. ARGV[13])
      if outcome == 'disabled' then redis.call('SET', hook .. ':disabled', occurred_at .. ' HTTP 410 Gone') end
    else
      redis.call('ZREM', hook .. ':retry', entry)
      redis.call('HDEL', hook .. ':attempts', entry)
    end
    redis.call('HINCRBY', hook .. ':stats', outcome, 1)
    if outcome ~= 'skipped' then
      redis.call('XADD', hook .. ':log', 'MAXLEN', '~', ARGV[20], '*', 'at', occurred_at, 'stream_id', entry,
        'event_id', ARGV[17], 'event_type', ARGV[18], 'attempt', ARGV[12], 'outcome', outcome, 'status', ARGV[14],
        'latency_ms', ARGV[15], 'error', ARGV[16], 'url', ARGV[19])
    end
    return 1
    """#)

    /// An operator asks for an event to be delivered again (delivered or not): due now, with
    /// fresh attempts. ARGV 8: endpoint, 9: stream id. Returns 1, or 0 when the stream no
    /// longer holds the event.
    static let webhookRedeliver = QueueScript(name: "webhook_redeliver", body: #"""
    local hook = base .. 'webhook:' .. ARGV[8]
    if #redis.call('XRANGE', base .. 'events', ARGV[9], ARGV[9]) == 0 then return 0 end
    redis.call('ZADD', hook .. ':retry', now, ARGV[9])
    redis.call('HSET', hook .. ':attempts', ARGV[9], '0:' .. now)
    return 1
    """#)
}

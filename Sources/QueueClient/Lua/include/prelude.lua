-- Shared head of every queue script: the common arguments, the server clock, RFC 3339
-- formatting, event ids and the event envelope. Every script works on one queue's keys,
-- all named `<prefix>:{<queue>}:...`, so one hash slot: the queue runs on Redis Cluster.
--
-- Common ARGV: 1 key base (`mw:{default}:`), 2 queue name, 3 actor (worker id or "cli"),
-- 4 event-id seed (32 hex digits of a random UUIDv4 from Swift: Lua has no good randomness),
--   then, when an attempt with a trace makes the call, ':' and its trace id (32 hex digits),
-- 5 events stream MAXLEN (approximate), 6 retention of finished jobs (ms),
-- 7 retention of dead jobs (ms). Script-specific arguments start at ARGV[8].

local base = ARGV[1]
local queue = ARGV[2]
local actor = ARGV[3]
local seed = string.sub(ARGV[4], 1, 32)
-- The calling attempt's trace, put in the events it appends (nil: none or malformed).
local event_trace = string.sub(ARGV[4], 34)
if #event_trace ~= 32 or string.find(event_trace, '[^0-9a-f]') then event_trace = nil end
local events_maxlen = ARGV[5]
local retention_ms = tonumber(ARGV[6])
local dead_retention_ms = tonumber(ARGV[7])
--@migration-guard@
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local now_micros = tonumber(clock[2]) % 1000
-- Numbers handed to redis.call are turned into text with a floating-point printf each time:
-- the hot paths pass these, made once per call with integer formatting, instead.
local now_text = string.format('%d', now)

-- RFC 3339 UTC with microseconds; sub_ms adds the microseconds below the millisecond.
local function iso8601(ms, sub_ms)
  local seconds = math.floor(ms / 1000)
  local days = math.floor(seconds / 86400)
  local of_day = seconds - days * 86400
  -- civil_from_days (H. Hinnant)
  local z = days + 719468
  local era = math.floor(z / 146097)
  local doe = z - era * 146097
  local yoe = math.floor((doe - math.floor(doe / 1460) + math.floor(doe / 36524) - math.floor(doe / 146096)) / 365)
  local doy = doe - (365 * yoe + math.floor(yoe / 4) - math.floor(yoe / 100))
  local mp = math.floor((5 * doy + 2) / 153)
  local day = doy - math.floor((153 * mp + 2) / 5) + 1
  local month = mp < 10 and mp + 3 or mp - 9
  local year = yoe + era * 400 + (month <= 2 and 1 or 0)
  return string.format('%04d-%02d-%02dT%02d:%02d:%02d.%06dZ', year, month, day,
    math.floor(of_day / 3600), math.floor(of_day % 3600 / 60), of_day % 60, (ms % 1000) * 1000 + (sub_ms or 0))
end
local occurred_at = iso8601(now, now_micros)

local events_made = 0
local seed_tail = tonumber(string.sub(seed, 25, 32), 16)
local seed_head = nil
local function event_id()
  events_made = events_made + 1
  seed_head = seed_head or (string.sub(seed, 1, 8) .. '-' .. string.sub(seed, 9, 12) .. '-' .. string.sub(seed, 13, 16) .. '-' ..
    string.sub(seed, 17, 20) .. '-' .. string.sub(seed, 21, 24))
  return seed_head .. string.format('%08x', (seed_tail + events_made) % 4294967296)
end

local function job_key(id) return base .. 'job:' .. id end

-- The parent a part of a split job acts on: only while the part belongs to the parent's
-- current split (the parent waits for its parts and lists this one). nil: not a part;
-- false: a late part (its parent ended, was retried or split anew): it acts on nothing.
-- The part and its parent both record the parent's attempt that split (`split_attempt`): one
-- comparison, however many parts the split made (records from before it: the children list).
local function live_parent(id)
  local part = redis.call('HMGET', job_key(id), 'parent', 'split_attempt')
  if not part[1] then return nil end
  local parent = part[1]
  local info = redis.call('HMGET', job_key(parent), 'state', 'split_attempt')
  if info[1] ~= 'waiting_children' then return false end
  if part[2] and info[2] then
    if part[2] ~= info[2] then return false end
    return parent
  end
  local children = redis.call('HGET', job_key(parent), 'children')
  if not children or not string.find(children, cjson.encode(id), 1, true) then return false end
  return parent
end

local type_names = { transcode = 'Transcode', thumbnails = 'Thumbnails', keyframes = 'Keyframes',
  compose = 'Compose', probe = 'Probe', noop = 'Noop', transcode_chunk = 'TranscodeChunk', transcode_audio = 'TranscodeChunk' }
-- TranscodeCompleted, KeyframesFailed, ... ; JobFailed for a payload of no known type.
local function outcome_event(job_type, outcome)
  return (type_names[job_type] or 'Job') .. outcome
end

-- Job types whose events carry file_id and meta_movie_id.
local transcode_types = { transcode = true, transcode_chunk = true, transcode_audio = true }

-- What every event of this call shares, made on the first one.
local event_queue, event_worker = nil, nil

-- Appends one event to the queue's stream, in the envelope of the design, and returns its
-- stream id: the job's metadata is copied in, and transcode events carry file_id and meta_movie_id
-- (and trace_id, when the calling attempt has a trace); a part's events name its parent as
-- parent_id. data_json is raw JSON text, inserted as is; attempt is its decimal text. The event
-- type is one of ours (never a producer's text): it is quoted as it is. The hot transitions pass
-- what they have read of the job; `emit_raw` reads it.
local function append_event(event_type, id, data_json, attempt, metadata, job_type, file_id, meta_movie_id, parent)
  if not event_queue then
    event_queue = ',"queue":' .. cjson.encode(queue) .. ',"occurred_at":"' .. occurred_at .. '","attempt":'
    event_worker = ',"worker_id":' .. cjson.encode(actor) .. ',"metadata":'
  end
  -- One concatenation (Lua joins a chain of `..` in one step): no table per event.
  local tail = ''
  if parent then tail = ',"parent_id":' .. cjson.encode(parent) end
  if event_trace then tail = tail .. ',"trace_id":"' .. event_trace .. '"' end
  if transcode_types[job_type] then
    tail = tail .. ',"file_id":' .. (file_id and cjson.encode(file_id) or 'null') ..
      ',"meta_movie_id":' .. (meta_movie_id and cjson.encode(meta_movie_id) or 'null')
  end
  local event = '{"event_id":"' .. event_id() .. '","type":"' .. event_type .. '","job_id":' .. cjson.encode(id) ..
    event_queue .. (attempt or '0') .. event_worker .. (metadata or '{}') .. tail .. ',"data":' .. (data_json or '{}') .. '}'
  return redis.call('XADD', base .. 'events', 'MAXLEN', '~', events_maxlen, '*',
    'type', event_type, 'job_id', id, 'event', event)
end

-- `known` may carry the job's { attempts, metadata, type, file_id, meta_movie_id, parent } when
-- the caller has read them.
local function emit_raw(event_type, id, data_json, known)
  local job = known or redis.call('HMGET', job_key(id), 'attempts', 'metadata', 'type', 'file_id', 'meta_movie_id', 'parent')
  return append_event(event_type, id, data_json, job[1], job[2], job[3], job[4], job[5], job[6])
end

-- The job remembers its events' stream ids: its page reads them without scanning the
-- stream. The hot transitions (ingest, start, finish) fold the new ids into the HSET they
-- make anyway (`with_event_id`); `emit` records them with a read and a write of its own.
-- Not progress events: a long job makes thousands, and its record holds the latest anyway.
local function with_event_id(held, entry)
  if held and held ~= '' then return held .. ',' .. entry end
  return entry
end

local function emit(event_type, id, data_json, known)
  local entry = emit_raw(event_type, id, data_json, known)
  local held = event_type ~= 'JobProgress' and redis.call('HMGET', job_key(id), 'state', 'event_ids') or {}
  if held[1] then
    redis.call('HSET', job_key(id), 'event_ids', with_event_id(held[2], entry))
  end
  return entry
end

-- Per-minute counts of finished jobs (and retried attempts), kept 8 days in one hash per
-- day: the dashboard's throughput history survives restarts of everything but Redis.
-- The day's key gets its expiry with each minute's first count, not with every job.
-- `count`: jobs counted at once (1 unless given).
local function count_minute(what, count)
  count = count or 1
  local day_key = base .. 'minutes:' .. string.format('%d', math.floor(now / 86400000))
  if redis.call('HINCRBY', day_key, string.format('%d', math.floor(now / 60000)) .. ':' .. what, string.format('%d', count)) == count then
    redis.call('PEXPIRE', day_key, 8 * 86400000)
  end
end

-- Search by file_id or movie id: a sorted set of job ids per value, newest last, kept
-- as long as a dead job is. Ids of expired jobs are dropped by the reader.
local function index_job(id, kind, value)
  if not value or value == '' then return end
  local index = base .. 'by:' .. kind .. ':' .. value
  -- Ids older than a dead job's retention point at records that are gone: a file or movie
  -- that keeps getting jobs keeps an index no longer than its retention.
  redis.call('ZREMRANGEBYSCORE', index, '-inf', now - dead_retention_ms)
  redis.call('ZADD', index, now, id)
  redis.call('PEXPIRE', index, dead_retention_ms)
end

-- Drops at most `batch` ids older than `retention` from a finished-job set (lowest scores
-- first): a script's time never grows with the number of jobs.
local function prune_finished(set, retention, batch)
  local old = redis.call('ZCOUNT', base .. set, '-inf', now - retention)
  if old > 0 then redis.call('ZREMRANGEBYRANK', base .. set, 0, math.min(old, batch) - 1) end
end

local function append_history(id, code, message)
  local key = job_key(id)
  local history = redis.call('HGET', key, 'history') or '[]'
  local entry = '{"at":"' .. occurred_at .. '","attempt":' .. tostring(tonumber(redis.call('HGET', key, 'attempts')) or 0) ..
    ',"worker_id":' .. cjson.encode(actor) .. ',"error_code":' .. cjson.encode(code) .. ',"message":' .. cjson.encode(message) .. '}'
  if history == '[]' then history = '[' .. entry .. ']' else history = string.sub(history, 1, -2) .. ',' .. entry .. ']' end
  redis.call('HSET', key, 'history', history)
end

-- Idle workers block on the marker list; one marker wakes one of them, and its fetch
-- leaves a marker again while jobs remain waiting, so the wake-up passes along.
local function wake()
  if redis.call('LLEN', base .. 'marker') == 0 then redis.call('RPUSH', base .. 'marker', '1') end
end

-- Parts of split jobs wait in a sorted set per priority, handed out before other jobs of
-- that priority: the parent with the most work left first, then the longest part.
local function graph_score(key)
  local part = redis.call('HMGET', key, 'parent', 'work_ms')
  local parent = redis.call('HMGET', job_key(part[1]), 'work_total', 'work_done')
  local remaining_s = math.floor(math.max(0, (tonumber(parent[1]) or 0) - (tonumber(parent[2]) or 0)) / 1000)
  return -(remaining_s * 10000000 + (tonumber(part[2]) or 0))
end

local function make_waiting(id, priority, at_front)
  local key = job_key(id)
  redis.call('HSET', key, 'state', 'waiting', 'worker', '')
  if redis.call('HEXISTS', key, 'parent') == 1 then
    redis.call('ZADD', base .. 'wait:' .. priority .. ':graph', graph_score(key), id)
  elseif at_front then
    redis.call('LPUSH', base .. 'wait:' .. priority, id)
  else
    redis.call('RPUSH', base .. 'wait:' .. priority, id)
  end
end

-- An attempt's output version (see `OutputVersion`) that was not published is trash: the
-- janitor deletes it once `due` (now, or later while a fenced-off writer may still write).
local function trash_version_of(id, due)
  local key = job_key(id)
  local version = redis.call('HGET', key, 'version')
  if not version or version == '' then return end
  redis.call('HSET', key, 'version', '')
  local version_key = base .. 'version:' .. version
  local info = redis.call('HMGET', version_key, 'state', 'slot', 'token')
  if info[1] == 'writing' then
    redis.call('HSET', version_key, 'state', 'trash', 'trashed_at', now)
    redis.call('ZADD', base .. 'trash', due, version)
  end
  -- A delivery that ended itself gives its slot's publication right back at once (a fenced
  -- one keeps it until its lease ends: it may still be writing the stable names).
  if due <= now and info[2] and info[2] ~= '' then
    local slot_key = base .. 'slot:' .. info[2]
    local slot = redis.call('HMGET', slot_key, 'publishing', 'current')
    if slot[1] and slot[1] == info[3] then
      if slot[2] then redis.call('HSET', slot_key, 'publishing', '', 'publishing_until', 0) else redis.call('DEL', slot_key) end
    end
  end
end

-- The version of an attempt that ended without finishing the job. A split job's version
-- holds its parts' outputs: it lives until the job itself ends (make_terminal trashes it).
local function trash_attempt_version(id, due)
  if redis.call('HGET', job_key(id), 'graph') == '1' then return end
  trash_version_of(id, due)
end

-- A new token for a job taken from its delivery by someone else (a recovered lease): the
-- old token then holds nothing, not even the right to repeat an answer.
local function fence(id)
  redis.call('HSET', job_key(id), 'token', redis.call('INCR', base .. 'token'))
end

-- Every terminal state: indexed by finish time, expiring after its retention.
-- `extra` holds more field, value pairs to set in the same HSET (`ended_by`: the token of
-- the delivery that ended the job itself, so that it alone may hear its answer again).
-- `known` may carry what the caller has read of the job already, saving the reads:
-- { version = <its version field>, parent = ..., children = ... } (false: none), and the
-- token of the delivery that ends it.
-- `ended`, for jobs that are not parts: a table the caller gathers the ended ids in, by state;
-- its `end_all` then moves them all out of `active` and into the state's set and counts them in
-- one command each, instead of three per job.
local function make_terminal(id, state, extra, known, ended)
  local key = job_key(id)
  if not known or known.version ~= false then trash_version_of(id, now) end
  if extra then
    redis.call('HSET', key, 'state', state, 'finished_at', now_text, unpack(extra))
  else
    redis.call('HSET', key, 'state', state, 'finished_at', now_text)
  end
  if ended then
    ended[state] = ended[state] or {}
    ended[state][#ended[state] + 1] = id
  else
    redis.call('ZREM', base .. 'active', id)
    redis.call('ZADD', base .. state, now_text, id)
  end
  local ttl = state == 'dead' and dead_retention_ms or retention_ms
  local ttl_text = state == 'dead' and ARGV[7] or ARGV[6]
  -- A worker's finish (its fencing token known) lets up to 32 aged ids go once in 16 tokens:
  -- two per id added, as every other terminal transition does at once, so the set stays
  -- bounded whoever calls fetch, without a ZCOUNT on every job.
  local token = known and tonumber(known.token)
  if not token then prune_finished(state, ttl, 2) elseif token % 16 == 0 then prune_finished(state, ttl, 32) end
  local parent, children
  if known then parent, children = known.parent, known.children else
    local graph = redis.call('HMGET', key, 'parent', 'children')
    parent, children = graph[1], graph[2]
  end
  if parent and live_parent(id) then
    -- A live part's record is what its parent's stitch reads: it lives as long as the
    -- parent's attempt, and expires with the parent.
    redis.call('PERSIST', key)
  else
    redis.call('PEXPIRE', key, ttl_text)
  end
  if children then
    -- A split job's ended parts go with it; a part still running gets its expiry when it ends.
    for _, child in ipairs(cjson.decode(children)) do
      local child_state = redis.call('HGET', job_key(child), 'state')
      if child_state == 'completed' or child_state == 'dead' or child_state == 'canceled' then
        redis.call('PEXPIRE', job_key(child), ttl)
      end
    end
    redis.call('ZREM', base .. 'parents', id)
  end
  if not parent and not ended then count_minute(state) end
end

-- The ids `make_terminal` gathered in `ended` (none of them a part): out of `active`, into their
-- state's set at this time, and counted.
local function end_all(ended)
  for state, ids in pairs(ended) do
    redis.call('ZREM', base .. 'active', unpack(ids))
    local scored = { 'ZADD', base .. state }
    for _, id in ipairs(ids) do
      scored[#scored + 1] = now_text
      scored[#scored + 1] = id
    end
    redis.call(unpack(scored))
    count_minute(state, #ids)
  end
end

-- Removes one claimed item, found by the SHA-1 of its bytes, from a claimed list: the head
-- as a rule; further in when another process shares the list (the same worker id on two
-- hosts), and then only that item. Returns found, displaced (it was not at the head).
local function take_claimed(list, digest)
  local head = redis.call('LINDEX', list, 0)
  if head and redis.sha1hex(head) == digest then
    redis.call('LPOP', list)
    return true, false
  end
  for _, item in ipairs(redis.call('LRANGE', list, 0, 999)) do
    if redis.sha1hex(item) == digest then
      redis.call('LREM', list, 1, item)
      return true, true
    end
  end
  return false, false
end

-- The delivery with this token is the job's current one: fencing for every worker call.
local function holds_lease(id, token)
  local job = redis.call('HMGET', job_key(id), 'state', 'token')
  return job[1] == 'active' and job[2] == token
end

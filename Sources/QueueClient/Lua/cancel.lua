-- Cancels a job: waiting or scheduled ones end at once (terminal event appended); a
-- running one is flagged, its worker sees it at the next heartbeat and stops. A split job
-- waiting for its parts ends at once and cancels them; cancelling a part cancels its job.
-- ARGV 8: id. Returns "canceled", "cancel_requested", "not_found" or "already_<terminal state>".

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
  -- When it was asked, on the server's clock: how long the stop took shows in the record.
  redis.call('HSET', key, 'cancel', 1, 'cancel_requested_at', now_text)
  return 'cancel_requested'
else
  return 'already_' .. state
end
make_terminal(id, 'canceled')
if parent ~= false then emit(outcome_event(job[3], 'Canceled'), id, '{"was":' .. cjson.encode(state) .. '}') end
return 'canceled'

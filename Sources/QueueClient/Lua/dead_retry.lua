-- A dead job back to waiting with as many attempts again as it was given (an operator's
-- `dead retry`). Attempts keep counting up, never restart: every terminal event of a job
-- has an attempt number of its own, so a consumer deduplicating on job_id + attempt keeps
-- the failure it saw and the outcome of the retry.
-- ARGV 8: id. Returns 1, or 0 when the job is not dead.

local id = ARGV[8]
local key = job_key(id)
local job = redis.call('HMGET', key, 'state', 'max_attempts', 'attempts', 'allowance', 'parent')
if job[1] ~= 'dead' then return 0 end
if job[2] == '0' or job[5] then return 0 end  -- an invalid item, or a part (retry its job)
-- A split job starts over: new parts, a new version.
redis.call('HDEL', key, 'graph', 'children', 'pending', 'work_total', 'work_done', 'stage', 'progress_at',
  'split_attempt', 'part_count', 'ranked_remaining')
local attempts = tonumber(job[3]) or 0
-- A job's first max_attempts is its allowance; the hash keeps it once max_attempts moves on.
local allowance = tonumber(job[4]) or tonumber(job[2])
redis.call('ZREM', base .. 'dead', id)
redis.call('PERSIST', key)
redis.call('HSET', key, 'max_attempts', attempts + allowance, 'allowance', allowance, 'stalls', 0, 'finished_at', '', 'ended_by', '')
make_waiting(id, redis.call('HGET', key, 'priority'), false)
emit('JobRequeued', id, '{"attempts":' .. attempts .. ',"max_attempts":' .. (attempts + allowance) .. '}')
wake()
return 1

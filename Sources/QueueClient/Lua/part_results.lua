-- The stored results of a split job's parts, in the order they were made.
-- ARGV 8: id. Returns { part id, state, worker, attempts, asset, result } per part.

local children = redis.call('HGET', job_key(ARGV[8]), 'children')
local out = {}
if not children then return out end
for _, child in ipairs(cjson.decode(children)) do
  local part = redis.call('HMGET', job_key(child), 'state', 'worker', 'attempts', 'asset', 'result')
  out[#out + 1] = child
  for f = 1, 5 do out[#out + 1] = part[f] or '' end
end
return out

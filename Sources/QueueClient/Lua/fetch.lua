-- The worker's call to get work, which also keeps the queue moving: promotes due jobs,
-- recovers expired leases, checks a waiting split job's parts still exist (one lease
-- apart), prunes finished-job indexes to their retention (at most 1,000 ids a set a call),
-- and takes up to N waiting jobs
-- (see include/take.lua).
--
-- ARGV 8: lease ms, 9: max jobs, 10: max stalls.
-- Returns { next_wake_ms, more_waiting, 12 fields per job }.

promote_and_recover(tonumber(ARGV[10]), tonumber(ARGV[8]))
check_parents(tonumber(ARGV[8]))
prune_finished('completed', retention_ms, 1000)
prune_finished('canceled', retention_ms, 1000)
prune_finished('dead', dead_retention_ms, 1000)
local out = {}
take_waiting(tonumber(ARGV[9]), tonumber(ARGV[8]), out)
return out

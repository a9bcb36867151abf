-- Records what a running job learned about its input (file_id, meta_movie_id), so that
-- every later event of the job, its failure included, carries them.
-- ARGV 8: id, 9: token, then field, value pairs. Returns 1, or 0 for a stale token.

if not holds_lease(ARGV[8], ARGV[9]) then return 0 end
for i = 10, #ARGV, 2 do
  if ARGV[i] == 'file_id' or ARGV[i] == 'meta_movie_id' then
    redis.call('HSET', job_key(ARGV[8]), ARGV[i], ARGV[i + 1])
    index_job(ARGV[8], ARGV[i] == 'file_id' and 'file' or 'movie', ARGV[i + 1])
  end
end
return 1

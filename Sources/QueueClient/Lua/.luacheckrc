-- luacheck's settings for the queue's scripts, checked as Redis runs them (prelude, includes,
-- body: scripts/embed-lua.py --assemble); scripts/test/luacheck.sh runs it in `make test`.
std = "lua51"
-- What Redis gives a script.
read_globals = { "redis", "cjson", "cmsgpack", "bit", "struct", "KEYS", "ARGV" }
max_line_length = 160

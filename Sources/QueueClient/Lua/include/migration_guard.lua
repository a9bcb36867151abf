-- Redis Cluster only (the scripts' cluster variant): while this queue's slot migrates to another
-- node, a key not here may be there, and a script would read it as missing. Touching a key that
-- never exists stops the script at once while the slot migrates ("non local key"), before any
-- write; the client tries again until the slot has moved (then MOVED sends it to the new node).
-- One server or a Sentinel group never migrates: there the guard would be a command on every
-- call for nothing. The generator puts this line where the prelude says `--@migration-guard@`.

redis.call('EXISTS', base .. 'migration-guard')

/* Spawning programs with posix_spawn: the signal state a shell gives, and the GNU extras that
 * Swift's Glibc module does not show (they sit behind _GNU_SOURCE). */
#ifndef MW_PROCESS_SPAWN_H
#define MW_PROCESS_SPAWN_H

#include <spawn.h>

/* Closes every descriptor from `lowest` up in the child (glibc 2.34+): the worker's other open
 * files, sockets and pipes, close-on-exec or not, never reach a program it runs. 0 or an errno. */
int mw_spawn_file_actions_close_from(posix_spawn_file_actions_t *actions, int lowest);

/* Initialises `attributes` for a child with the signal state a shell would give it: nothing
 * blocked, every handler the default (the threads of a worker or a test runner block signals, and
 * a child inheriting that mask would ignore SIGTERM); with `new_group`, in a process group of its
 * own (its pid is the group's id). 0 or an errno. */
int mw_spawnattr_init_clean(posix_spawnattr_t *attributes, int new_group);

/* A waitpid status as a shell reports it: the exit code, or 128 + the signal that ended it. */
int mw_exit_code(int status);

#endif

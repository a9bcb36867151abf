/* posix_spawn's GNU extras that Swift's Glibc module does not show (they sit behind _GNU_SOURCE). */
#ifndef MW_PROCESS_SPAWN_H
#define MW_PROCESS_SPAWN_H

#include <spawn.h>

/* Closes every descriptor from `lowest` up in the child (glibc 2.34+): the worker's other open
 * files, sockets and pipes, close-on-exec or not, never reach a program it runs. 0 or an errno. */
int mw_spawn_file_actions_close_from(posix_spawn_file_actions_t *actions, int lowest);

#endif

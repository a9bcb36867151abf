/* See include/mw_process_spawn.h. */
#define _GNU_SOURCE
#include "mw_process_spawn.h"

#include <signal.h>
#include <sys/wait.h>

int mw_spawn_file_actions_close_from(posix_spawn_file_actions_t *actions, int lowest) {
    return posix_spawn_file_actions_addclosefrom_np(actions, lowest);
}

int mw_spawnattr_init_clean(posix_spawnattr_t *attributes, int new_group) {
    int status = posix_spawnattr_init(attributes);
    if (status != 0) return status;
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    short flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
    if (new_group) {
        flags |= POSIX_SPAWN_SETPGROUP;
        posix_spawnattr_setpgroup(attributes, 0);
    }
    posix_spawnattr_setsigmask(attributes, &none);
    posix_spawnattr_setsigdefault(attributes, &all);
    return posix_spawnattr_setflags(attributes, flags);
}

int mw_exit_code(int status) {
    return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
}

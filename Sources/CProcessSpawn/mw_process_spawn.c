/* See include/mw_process_spawn.h. */
#define _GNU_SOURCE
#include "mw_process_spawn.h"

int mw_spawn_file_actions_close_from(posix_spawn_file_actions_t *actions, int lowest) {
    return posix_spawn_file_actions_addclosefrom_np(actions, lowest);
}

/* libFuzzer target: the shim's probe over an in-memory buffer (the same demuxer whitelist and
 * limits as a file). Built with AddressSanitizer by Fuzz/run.sh; any crash, leak or invalid access
 * is a finding. */
#include "mw_shim.h"

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    mw_log_set_level(-8);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static mw_media_info info;
    char message[512];
    mw_limits limits;
    mw_limits_init_default(&limits);
    limits.max_width = limits.max_height = 4096;
    limits.max_pixels = 4096 * 4096;
    limits.timeout_ms = 2000;
    mw_probe_buffer(data, size, &limits, NULL, &info, message, sizeof(message));
    return 0;
}

/* Internal helpers shared by the shim's operations; not part of the public API. */
#ifndef MW_INTERNAL_H
#define MW_INTERNAL_H

#include "mw_shim.h"
#include <libavformat/avformat.h>

/* Writes a formatted message into a caller buffer (NULL/0 allowed) and returns status. */
mw_status mw_fail(char *message, size_t message_size, mw_status status, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Deadline and cancellation consulted by libav*'s interrupt callback. */
typedef struct mw_interrupt {
    mw_cancel_token *cancel;
    int64_t deadline_us;   /* av_gettime_relative() value; 0 = none */
    int fired;             /* 0 none, MW_E_CANCELED or MW_E_TIMEOUT once triggered */
} mw_interrupt;

void mw_interrupt_init(mw_interrupt *interrupt, mw_cancel_token *cancel, int64_t timeout_ms);
int mw_interrupt_check(void *opaque);

/* Opens an untrusted local file for demuxing: file protocol only, demuxer
 * whitelist, limits on streams, dimensions and duration. On success *out is an
 * opened context with stream info read; close it with avformat_close_input. */
mw_status mw_open_input(const char *path, const mw_limits *limits, mw_interrupt *interrupt,
                        AVFormatContext **out, char *message, size_t message_size);

/* Opens `size` bytes in memory as an input (same format whitelist and limits as a file, no
 * protocol reachable), calls `body` with it, then closes it. For fuzzing and tests. */
typedef mw_status (*mw_memory_input_body)(void *user, AVFormatContext *ctx, char *message, size_t message_size);
mw_status mw_with_memory_input(const uint8_t *data, size_t size, const mw_limits *limits, mw_interrupt *interrupt,
                               mw_memory_input_body body, void *user, char *message, size_t message_size);

/* Clockwise degrees (0, 90, 180, 270) a player turns a stream's picture by, from its
 * display matrix, computed as the ffmpeg CLI does. */
int mw_stream_rotation(const AVStream *stream);

/* Maps an AVERROR from reading input to a status, given the interrupt state. */
mw_status mw_status_from_averror(int averror, const mw_interrupt *interrupt);

#endif

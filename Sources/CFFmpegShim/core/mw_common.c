/* Status names, default limits, cancellation tokens and the interrupt callback. */
#include "core/mw_internal.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <math.h>
#include <libavutil/display.h>
#include <libavutil/time.h>

const char *mw_status_name(mw_status status) {
    switch (status) {
    case MW_OK: return "OK";
    case MW_E_INVALID_ARGUMENT: return "MEDIA_INVALID_ARGUMENT";
    case MW_E_INPUT_NOT_FOUND: return "MEDIA_INPUT_NOT_FOUND";
    case MW_E_INPUT_EMPTY: return "MEDIA_INPUT_EMPTY";
    case MW_E_INPUT_UNREADABLE: return "MEDIA_INPUT_UNREADABLE";
    case MW_E_FORMAT_UNRECOGNIZED: return "MEDIA_FORMAT_UNRECOGNIZED";
    case MW_E_FORMAT_NOT_ALLOWED: return "MEDIA_FORMAT_NOT_ALLOWED";
    case MW_E_INPUT_CORRUPT: return "MEDIA_INPUT_CORRUPT";
    case MW_E_NO_MEDIA_STREAMS: return "MEDIA_NO_STREAMS";
    case MW_E_TOO_MANY_STREAMS: return "MEDIA_TOO_MANY_STREAMS";
    case MW_E_DIMENSIONS_TOO_LARGE: return "MEDIA_DIMENSIONS_TOO_LARGE";
    case MW_E_DURATION_TOO_LONG: return "MEDIA_DURATION_TOO_LONG";
    case MW_E_TIMEOUT: return "MEDIA_TIMEOUT";
    case MW_E_CANCELED: return "MEDIA_CANCELED";
    case MW_E_OUT_OF_MEMORY: return "MEDIA_OUT_OF_MEMORY";
    case MW_E_INTERNAL: return "MEDIA_INTERNAL";
    case MW_E_OUTPUT_FAILED: return "MEDIA_OUTPUT_FAILED";
    case MW_E_ENCODER_FAILED: return "MEDIA_ENCODER_FAILED";
    case MW_E_COPY_NOT_POSSIBLE: return "MEDIA_COPY_NOT_POSSIBLE";
    }
    return "MEDIA_UNKNOWN";
}

void mw_limits_init_default(mw_limits *limits) {
    if (!limits) return;
    limits->max_width = 8192;
    limits->max_height = 8192;
    limits->max_pixels = (int64_t)8192 * 8192;
    limits->max_duration_us = (int64_t)6 * 3600 * 1000000;
    limits->max_streams = 16;
    limits->timeout_ms = 0;
}

struct mw_cancel_token {
    atomic_int canceled;
};

mw_cancel_token *mw_cancel_token_new(void) {
    mw_cancel_token *token = calloc(1, sizeof(*token));
    if (token) atomic_init(&token->canceled, 0);
    return token;
}

void mw_cancel_token_cancel(mw_cancel_token *token) {
    if (token) atomic_store(&token->canceled, 1);
}

int mw_cancel_token_is_canceled(const mw_cancel_token *token) {
    return token ? atomic_load(&((mw_cancel_token *)token)->canceled) : 0;
}

void mw_cancel_token_free(mw_cancel_token *token) {
    free(token);
}

void mw_log_set_level(int level) {
    av_log_set_level(level);
    /* SVT-AV1 logs by itself to stderr, at the level it reads from SVT_LOG when an encoder is
     * first created (1: errors only). Called at start-up, before any thread, so setenv is safe;
     * an operator's own SVT_LOG wins. */
    char svt_level[4];
    snprintf(svt_level, sizeof(svt_level), "%d", level >= 32 ? 3 : level >= 24 ? 2 : 1);
    setenv("SVT_LOG", svt_level, 0);
}

mw_status mw_fail(char *message, size_t message_size, mw_status status, const char *fmt, ...) {
    if (message && message_size > 0) {
        va_list args;
        va_start(args, fmt);
        vsnprintf(message, message_size, fmt, args);
        va_end(args);
    }
    return status;
}

void mw_interrupt_init(mw_interrupt *interrupt, mw_cancel_token *cancel, int64_t timeout_ms) {
    interrupt->cancel = cancel;
    interrupt->deadline_us = timeout_ms > 0 ? av_gettime_relative() + timeout_ms * 1000 : 0;
    interrupt->fired = 0;
}

int mw_interrupt_check(void *opaque) {
    mw_interrupt *interrupt = opaque;
    if (!interrupt) return 0;
    if (interrupt->fired) return 1;
    if (mw_cancel_token_is_canceled(interrupt->cancel)) {
        interrupt->fired = MW_E_CANCELED;
        return 1;
    }
    if (interrupt->deadline_us && av_gettime_relative() > interrupt->deadline_us) {
        interrupt->fired = MW_E_TIMEOUT;
        return 1;
    }
    return 0;
}

mw_status mw_status_from_averror(int averror, const mw_interrupt *interrupt) {
    if (interrupt && interrupt->fired) return (mw_status)interrupt->fired;
    switch (averror) {
    case AVERROR(ENOENT): return MW_E_INPUT_NOT_FOUND;
    case AVERROR(EACCES):
    case AVERROR(EISDIR):
    case AVERROR(EPERM): return MW_E_INPUT_UNREADABLE;
    case AVERROR(ENOMEM): return MW_E_OUT_OF_MEMORY;
    case AVERROR_EXIT: return MW_E_CANCELED;
    case AVERROR_PROTOCOL_NOT_FOUND: return MW_E_FORMAT_NOT_ALLOWED;
    default: return MW_E_INPUT_CORRUPT;
    }
}

int mw_stream_rotation(const AVStream *stream) {
    const uint8_t *matrix = av_stream_get_side_data(stream, AV_PKT_DATA_DISPLAYMATRIX, NULL);
    if (!matrix) return 0;
    double theta = -round(av_display_rotation_get((const int32_t *)matrix));
    if (isnan(theta)) return 0;
    theta -= 360 * floor(theta / 360 + 0.9 / 360);
    /* Only right angles are meaningful for transcoding. */
    return (((int)theta + 45) / 90 * 90) % 360;
}

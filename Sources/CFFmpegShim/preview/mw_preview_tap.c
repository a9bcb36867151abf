/* The animated preview from a transcode's decode (see mw_preview_tap.h). A frame fills every
 * planned time it is the first frame at or past (within half a frame), as the seeking preview's
 * mw_video_source_frame_at picks it, so both make the same animation from the same video. */
#include "preview/mw_preview_tap.h"

#include <stdio.h>
#include <string.h>
#include <libavutil/avstring.h>

mw_status mw_preview_tap_open(mw_preview_tap *tap, const char *path, const mw_preview_settings *settings, int width, int height,
                              AVRational sar, double duration_s, char *message, size_t message_size) {
    memset(tap, 0, sizeof(*tap));
    mw_image_renderer_init(&tap->renderer);
    mw_status status = mw_preview_settings_check(settings, message, message_size);
    if (status != MW_OK) return status;
    mw_image_fit(width, height, sar, 0, settings->max_width, 0, &tap->width, &tap->height);
    if (tap->width < 2 || tap->height < 2) return mw_fail(message, message_size, MW_E_INPUT_CORRUPT, "the video has no picture size");
    mw_preview_plan_make(&tap->plan, settings, duration_s);
    tap->path = av_strdup(path);
    tap->temp_path = av_asprintf("%s.tmp", path);
    tap->last = av_frame_alloc();
    if (!tap->path || !tap->temp_path || !tap->last) return mw_fail(message, message_size, MW_E_OUT_OF_MEMORY, "out of memory");
    tap->open = 1;
    return mw_preview_writer_open(&tap->writer, tap->temp_path, tap->width, tap->height, settings->quality, settings->gif != 0,
                                  message, message_size);
}

static int planned_frames(const mw_preview_tap *tap) {
    return tap->plan.excerpts * tap->plan.per_excerpt;
}

/* Writes `frame` as the plan's next frames up to (and including) the time `until_s`. */
static mw_status fill(mw_preview_tap *tap, const AVFrame *frame, double until_s, char *message, size_t message_size) {
    int rendered = 0;
    while (tap->next < planned_frames(tap) && mw_preview_plan_time(&tap->plan, tap->next) <= until_s) {
        if (!rendered) {
            mw_status status = mw_image_render(&tap->renderer, frame, 0, tap->width, tap->height, message, message_size);
            if (status != MW_OK) return status;
            rendered = 1;
        }
        mw_status status = mw_preview_writer_add(&tap->writer, tap->renderer.upright, tap->pts_ms, message, message_size);
        if (status != MW_OK) return status;
        tap->pts_ms += tap->plan.step_ms;
        tap->next++;
    }
    return MW_OK;
}

mw_status mw_preview_tap_frame(mw_preview_tap *tap, const AVFrame *frame, double time_s, double frame_s,
                               char *message, size_t message_size) {
    if (tap->next >= planned_frames(tap)) return MW_OK;
    /* Kept (a reference, not a copy) in case the video ends before the plan does. */
    av_frame_unref(tap->last);
    if (av_frame_ref(tap->last, frame) < 0) return mw_fail(message, message_size, MW_E_OUT_OF_MEMORY, "out of memory");
    return fill(tap, frame, time_s + frame_s / 2, message, message_size);
}

mw_status mw_preview_tap_finish(mw_preview_tap *tap, mw_preview_result *result, char *message, size_t message_size) {
    memset(result, 0, sizeof(*result));
    if (tap->next < planned_frames(tap)) {
        if (!tap->last->data[0]) return mw_fail(message, message_size, MW_E_INPUT_CORRUPT, "no video frame for the preview");
        mw_status status = fill(tap, tap->last, 1e300, message, message_size);
        if (status != MW_OK) return status;
    }
    av_frame_unref(tap->last);
    mw_status status = mw_preview_writer_finish(&tap->writer, message, message_size);
    mw_preview_writer_close(&tap->writer);
    if (status == MW_OK && rename(tap->temp_path, tap->path) != 0)
        status = mw_fail(message, message_size, MW_E_OUTPUT_FAILED, "cannot move the preview into place");
    if (status != MW_OK) return status;
    tap->open = 0;
    result->width = tap->width;
    result->height = tap->height;
    result->frames = tap->next;
    result->excerpts = tap->plan.excerpts;
    result->duration_s = tap->pts_ms / 1000.0;
    return MW_OK;
}

void mw_preview_tap_close(mw_preview_tap *tap) {
    mw_preview_writer_close(&tap->writer);
    if (tap->open && tap->temp_path) remove(tap->temp_path);
    mw_image_renderer_free(&tap->renderer);
    av_frame_free(&tap->last);
    av_freep(&tap->temp_path);
    av_freep(&tap->path);
    memset(tap, 0, sizeof(*tap));
}

/* An animated preview made from a transcode's own decode: the frames the rungs get go by in order,
 * and those at the preview's times are rendered and written as they pass, so the preview costs no
 * read, seek or decode of its own. Internal. */
#ifndef MW_PREVIEW_TAP_H
#define MW_PREVIEW_TAP_H

#include "preview/mw_preview_writer.h"
#include "stills/mw_image.h"

typedef struct mw_preview_tap {
    mw_preview_plan plan;
    mw_preview_writer writer;
    mw_image_renderer renderer;
    int width, height;
    int next;                    /* the next frame of the plan to fill */
    int64_t pts_ms;
    AVFrame *last;               /* the latest frame seen: fills what the video ends before */
    char *temp_path;             /* written here, renamed to `path` when finished */
    char *path;
    int open;
} mw_preview_tap;

/* Opens the preview for frames of width x height pixels of aspect `sar` (upright already) from a
 * video declared `duration_s` long (<= 0: unknown). */
mw_status mw_preview_tap_open(mw_preview_tap *tap, const char *path, const mw_preview_settings *settings, int width, int height,
                              AVRational sar, double duration_s, char *message, size_t message_size);
/* Sees the frame shown at `time_s` (from 0; frames `frame_s` apart, in order). */
mw_status mw_preview_tap_frame(mw_preview_tap *tap, const AVFrame *frame, double time_s, double frame_s,
                               char *message, size_t message_size);
/* Fills the times the video ended before with its last frame, finishes the file and moves it into place. */
mw_status mw_preview_tap_finish(mw_preview_tap *tap, mw_preview_result *result, char *message, size_t message_size);
/* Frees everything; a preview not finished is removed. */
void mw_preview_tap_close(mw_preview_tap *tap);

#endif

/* Writing an animated preview (WebP or GIF) and choosing its frames' times: shared by the preview
 * that reads the input on its own (mw_preview.c) and the one a transcode makes from the frames its
 * rungs get (mw_preview_tap.c). Internal. */
#ifndef MW_PREVIEW_WRITER_H
#define MW_PREVIEW_WRITER_H

#include "core/mw_internal.h"
#include <libavcodec/avcodec.h>
#include <libavfilter/avfilter.h>
#include <libavformat/avformat.h>

typedef struct mw_preview_writer {
    AVFormatContext *muxer;
    AVCodecContext *encoder;
    AVStream *stream;
    AVPacket *packet;
    AVFrame *bgra;
    struct SwsContext *converter;
    int header_written;
    /* GIF: BGRA pictures through palettegen/paletteuse into PAL8 frames. */
    int gif;
    AVFilterGraph *graph;
    AVFilterContext *source, *sink;
    AVFrame *paletted;
} mw_preview_writer;

/* Opens `path` for a width x height animation, looping for ever. */
mw_status mw_preview_writer_open(mw_preview_writer *writer, const char *path, int width, int height, int quality, int gif,
                                 char *message, size_t message_size);
/* Adds a rendered picture (full-range YUV 4:2:0, upright, the writer's size) shown from `pts_ms`. */
mw_status mw_preview_writer_add(mw_preview_writer *writer, const AVFrame *picture, int64_t pts_ms, char *message, size_t message_size);
mw_status mw_preview_writer_finish(mw_preview_writer *writer, char *message, size_t message_size);
void mw_preview_writer_close(mw_preview_writer *writer);

/* Which moments a preview shows: `excerpts` excerpts evenly spread over `duration_s` (fewer when
 * the video is shorter than all of them end to end), `per_excerpt` frames each, `fps` apart. */
typedef struct mw_preview_plan {
    int excerpts, per_excerpt;
    double duration_s, length_s, fps;
    int64_t step_ms;             /* how long each frame is shown */
} mw_preview_plan;

/* MW_E_INVALID_ARGUMENT unless the settings are in their documented ranges. */
mw_status mw_preview_settings_check(const mw_preview_settings *settings, char *message, size_t message_size);
void mw_preview_plan_make(mw_preview_plan *plan, const mw_preview_settings *settings, double duration_s);
/* The source time of frame `index` (0 .. excerpts * per_excerpt - 1), in order. */
double mw_preview_plan_time(const mw_preview_plan *plan, int index);

#endif

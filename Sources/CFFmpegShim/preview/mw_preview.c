/* Animated previews for grids (see mw_animated_preview in mw_shim.h) read from the input on their
 * own: frames of a few excerpts, taken by time from the video source (seeking to each), rendered
 * upright like the stills and handed to the preview writer. A transcode that decodes the whole
 * video anyway takes them from its own decode instead (mw_preview_tap.c). */
#include "core/mw_video_source.h"
#include "preview/mw_preview_writer.h"
#include "stills/mw_image.h"

#include <stdio.h>
#include <string.h>
#include <libavutil/avstring.h>

void mw_preview_settings_init_default(mw_preview_settings *settings) {
    if (!settings) return;
    memset(settings, 0, sizeof(*settings));
    settings->excerpts = 4;
    settings->excerpt_s = 1.5;
    settings->fps = 10;
    settings->max_width = 320;
    settings->quality = 70;
}

mw_status mw_animated_preview(const char *input, const char *output_path, const mw_preview_settings *settings_in,
                              const mw_limits *limits, mw_cancel_token *cancel, mw_preview_result *result,
                              char *message, size_t message_size) {
    if (!input || !output_path || !result) return mw_fail(message, message_size, MW_E_INVALID_ARGUMENT, "missing input, output or result");
    mw_preview_settings settings;
    if (settings_in) settings = *settings_in; else mw_preview_settings_init_default(&settings);
    mw_status checked = mw_preview_settings_check(&settings, message, message_size);
    if (checked != MW_OK) return checked;
    memset(result, 0, sizeof(*result));
    mw_video_source source;
    mw_image_renderer renderer;
    mw_image_renderer_init(&renderer);
    mw_preview_writer writer;
    memset(&writer, 0, sizeof(writer));
    AVFrame *frame = av_frame_alloc(), *scratch = av_frame_alloc();
    char *temp_path = av_asprintf("%s.tmp", output_path);
    mw_status status = frame && scratch && temp_path ? MW_OK : mw_fail(message, message_size, MW_E_OUT_OF_MEMORY, "out of memory");
    if (status == MW_OK) status = mw_video_source_open(&source, input, limits, cancel, 0, message, message_size);
    else memset(&source, 0, sizeof(source));
    /* Pictures shown 320 pixels wide do not need the deblocking filter: skipped, a fifth of the decode. */
    if (status == MW_OK) source.decoder->skip_loop_filter = AVDISCARD_ALL;
    int width = 0, height = 0;
    if (status == MW_OK) {
        mw_image_fit(source.decoder->width, source.decoder->height, source.sar, source.rotation, settings.max_width, 0, &width, &height);
        if (width < 2 || height < 2) status = mw_fail(message, message_size, MW_E_INPUT_CORRUPT, "the video has no picture size");
    }
    if (status == MW_OK) status = mw_preview_writer_open(&writer, temp_path, width, height, settings.quality, settings.gif != 0, message, message_size);
    mw_preview_plan plan;
    mw_preview_plan_make(&plan, &settings, source.duration_s);
    int64_t pts = 0;
    for (int i = 0; status == MW_OK && i < plan.excerpts * plan.per_excerpt; i++) {
        double got = 0;
        status = mw_video_source_frame_at(&source, mw_preview_plan_time(&plan, i), frame, scratch, &got, message, message_size);
        if (status == MW_OK) status = mw_image_render(&renderer, frame, source.rotation, width, height, message, message_size);
        if (status == MW_OK) status = mw_preview_writer_add(&writer, renderer.upright, pts, message, message_size);
        pts += plan.step_ms;
        result->frames++;
    }
    if (status == MW_OK) status = mw_preview_writer_finish(&writer, message, message_size);
    mw_preview_writer_close(&writer);
    if (status == MW_OK && rename(temp_path, output_path) != 0)
        status = mw_fail(message, message_size, MW_E_OUTPUT_FAILED, "cannot move the preview into place");
    if (status != MW_OK && temp_path) remove(temp_path);
    if (status == MW_OK) {
        result->width = width;
        result->height = height;
        result->excerpts = plan.excerpts;
        result->duration_s = pts / 1000.0;
    }
    if (source.format || source.decoder) mw_video_source_close(&source);
    mw_image_renderer_free(&renderer);
    av_frame_free(&frame);
    av_frame_free(&scratch);
    av_free(temp_path);
    return status;
}

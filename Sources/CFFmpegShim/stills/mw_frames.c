/* Still images from a video: keyframes, thumbnails, poster, storyboard. */
#include "core/mw_video_source.h"
#include "stills/mw_image.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <libavutil/avstring.h>

void mw_image_spec_init_default(mw_image_spec *spec) {
    if (!spec) return;
    spec->max_width = 0;
    spec->max_height = 0;
    spec->quality = 3;
}

static mw_image_spec spec_or_default(const mw_image_spec *spec) {
    mw_image_spec value;
    if (spec) value = *spec; else mw_image_spec_init_default(&value);
    return value;
}

/* Renders and writes one frame; reports it through the callback. */
static mw_status emit_image(mw_video_source *source, mw_image_renderer *renderer, const AVFrame *frame,
                            const mw_image_spec *spec, const char *path, int32_t index, double time_s,
                            mw_image_callback on_image, void *user, char *message, size_t message_size) {
    int width, height;
    mw_image_fit(frame->width, frame->height, source->sar, source->rotation, spec->max_width, spec->max_height, &width, &height);
    mw_status status = mw_image_render(renderer, frame, source->rotation, width, height, message, message_size);
    if (status == MW_OK) status = mw_image_write_jpeg(renderer, renderer->upright, spec->quality, path, message, message_size);
    if (status == MW_OK && on_image) on_image(user, index, time_s, width, height, path);
    return status;
}

mw_status mw_extract_keyframes(const char *input, const char *output_dir, const char *prefix,
                               const mw_keyframe_options *options, const mw_image_spec *spec_in,
                               const mw_limits *limits, mw_cancel_token *cancel,
                               mw_image_callback on_image, mw_progress_callback on_progress, void *user,
                               char *message, size_t message_size) {
    if (!output_dir || !prefix) return mw_fail(message, message_size, MW_E_INVALID_ARGUMENT, "no output directory");
    mw_keyframe_options opts = options ? *options : (mw_keyframe_options){0, 0, 0};
    mw_image_spec spec = spec_or_default(spec_in);
    mw_video_source source;
    mw_image_renderer renderer;
    mw_image_renderer_init(&renderer);
    AVFrame *frame = av_frame_alloc();
    if (!frame) return mw_fail(message, message_size, MW_E_OUT_OF_MEMORY, "out of memory");
    mw_status status = mw_video_source_open(&source, input, limits, cancel, 1, message, message_size);
    if (status != MW_OK) { av_frame_free(&frame); return status; }

    int32_t kept = 0;
    double last_kept = -1e9;
    uint8_t last_grid[144], grid[144];
    int have_grid = 0;
    for (;;) {
        int end = 0;
        if ((status = mw_video_source_next(&source, frame, &end, message, message_size)) != MW_OK || end) break;
        double time_s = mw_video_source_time(&source, frame);
        int keep = time_s - last_kept >= opts.min_interval_s - 1e-6;
        if (keep && opts.scene_threshold > 0) {
            /* The difference is measured on the rendered picture, so it sees what viewers see. */
            int width, height;
            mw_image_fit(frame->width, frame->height, source.sar, source.rotation, 160, 90, &width, &height);
            if ((status = mw_image_render(&renderer, frame, source.rotation, width, height, message, message_size)) != MW_OK) break;
            mw_image_luma_grid(renderer.upright, grid);
            if (have_grid) {
                double difference = 0;
                for (int i = 0; i < 144; i++) difference += abs((int)grid[i] - (int)last_grid[i]);
                keep = difference / (144.0 * 255.0) >= opts.scene_threshold;
            }
        }
        if (keep) {
            char *path = av_asprintf("%s/%s%04d.jpg", output_dir, prefix, kept);
            if (!path) { status = mw_fail(message, message_size, MW_E_OUT_OF_MEMORY, "out of memory"); break; }
            status = emit_image(&source, &renderer, frame, &spec, path, kept, time_s, on_image, user, message, message_size);
            av_free(path);
            if (status != MW_OK) break;
            if (opts.scene_threshold > 0) {
                memcpy(last_grid, grid, sizeof(last_grid));
                have_grid = 1;
            }
            kept++;
            last_kept = time_s;
            if (opts.max_count > 0 && kept >= opts.max_count) break;
        }
        if (on_progress && source.duration_s > 0) on_progress(user, fmin(1, time_s / source.duration_s));
        av_frame_unref(frame);
    }
    if (status == MW_OK && kept == 0) status = mw_fail(message, message_size, MW_E_INPUT_CORRUPT, "no keyframe could be decoded");
    if (status == MW_OK && on_progress) on_progress(user, 1);
    av_frame_free(&frame);
    mw_image_renderer_free(&renderer);
    mw_video_source_close(&source);
    return status;
}

/* Decodes the frame shown at `time_s`: seek back to a keyframe, decode forward. The last
 * frame decoded is used when the time is past the end. */
mw_status mw_extract_thumbnails(const char *input, const char *output_dir, const char *prefix,
                                const double *times, int32_t count, const mw_image_spec *spec_in,
                                const mw_limits *limits, mw_cancel_token *cancel,
                                mw_image_callback on_image, mw_progress_callback on_progress, void *user,
                                char *message, size_t message_size) {
    if (!output_dir || !prefix || count <= 0 || count > 10000)
        return mw_fail(message, message_size, MW_E_INVALID_ARGUMENT, "thumbnails need an output directory and a count from 1 to 10000");
    mw_image_spec spec = spec_or_default(spec_in);
    mw_video_source source;
    mw_image_renderer renderer;
    mw_image_renderer_init(&renderer);
    AVFrame *frame = av_frame_alloc(), *scratch = av_frame_alloc();
    if (!frame || !scratch) {
        av_frame_free(&frame);
        av_frame_free(&scratch);
        return mw_fail(message, message_size, MW_E_OUT_OF_MEMORY, "out of memory");
    }
    mw_status status = mw_video_source_open(&source, input, limits, cancel, 0, message, message_size);
    for (int32_t i = 0; status == MW_OK && i < count; i++) {
        double wanted = times ? times[i] : (source.duration_s > 0 ? source.duration_s * (i + 0.5) / count : 0);
        if (wanted < 0) wanted = 0;
        if (source.duration_s > 0 && wanted > source.duration_s) wanted = source.duration_s;
        double got = 0;
        if ((status = mw_video_source_frame_at(&source, wanted, frame, scratch, &got, message, message_size)) != MW_OK) break;
        char *path = av_asprintf("%s/%s%04d.jpg", output_dir, prefix, i);
        if (!path) { status = mw_fail(message, message_size, MW_E_OUT_OF_MEMORY, "out of memory"); break; }
        status = emit_image(&source, &renderer, frame, &spec, path, i, got, on_image, user, message, message_size);
        av_free(path);
        if (on_progress) on_progress(user, (i + 1) / (double)count);
    }
    mw_video_source_close(&source);
    av_frame_free(&frame);
    av_frame_free(&scratch);
    mw_image_renderer_free(&renderer);
    return status;
}

mw_status mw_extract_poster(const char *input, const char *output_path, const mw_image_spec *spec_in,
                            const mw_limits *limits, mw_cancel_token *cancel, double *chosen_time_s,
                            char *message, size_t message_size) {
    if (!output_path) return mw_fail(message, message_size, MW_E_INVALID_ARGUMENT, "no output path");
    mw_image_spec spec = spec_or_default(spec_in);
    mw_video_source source;
    mw_image_renderer renderer;
    mw_image_renderer_init(&renderer);
    AVFrame *frame = av_frame_alloc(), *scratch = av_frame_alloc(), *best = av_frame_alloc();
    mw_status status = (!frame || !scratch || !best)
        ? mw_fail(message, message_size, MW_E_OUT_OF_MEMORY, "out of memory")
        : mw_video_source_open(&source, input, limits, cancel, 0, message, message_size);
    if (status != MW_OK) {
        av_frame_free(&frame);
        av_frame_free(&scratch);
        av_frame_free(&best);
        return status;
    }

    /* Candidates across the middle of the video; a title card or a fade is rarely representative. */
    static const double fractions[] = {0.33, 0.5, 0.2, 0.66, 0.1, 0.8, 0.4, 0.9, 0.05};
    int candidates = source.duration_s > 0 ? (int)(sizeof(fractions) / sizeof(fractions[0])) : 1;
    double best_score = -INFINITY, best_time = 0;
    for (int i = 0; i < candidates; i++) {
        double got = 0;
        if ((status = mw_video_source_frame_at(&source, source.duration_s * (candidates > 1 ? fractions[i] : 0), frame, scratch, &got,
                               message, message_size)) != MW_OK)
            break;
        int width, height;
        mw_image_fit(frame->width, frame->height, source.sar, source.rotation, 320, 180, &width, &height);
        if ((status = mw_image_render(&renderer, frame, source.rotation, width, height, message, message_size)) != MW_OK) break;
        double mean, stddev;
        mw_image_luma_stats(renderer.upright, &mean, &stddev);
        /* Detail (contrast) counts; black, blown-out and flat pictures are pushed to the bottom. */
        double score = stddev;
        if (mean < 24 || mean > 235 || stddev < 12) score -= 1000;
        if (score > best_score) {
            av_frame_unref(best);
            if (av_frame_ref(best, frame) < 0) {
                status = mw_fail(message, message_size, MW_E_OUT_OF_MEMORY, "out of memory");
                break;
            }
            best_score = score;
            best_time = got;
        }
        /* A clearly good candidate early on is enough. */
        if (best_score > 40 && i >= 2) break;
    }
    if (status == MW_OK) {
        status = emit_image(&source, &renderer, best, &spec, output_path, 0, best_time, NULL, NULL, message, message_size);
        if (chosen_time_s) *chosen_time_s = best_time;
    }
    av_frame_free(&frame);
    av_frame_free(&scratch);
    av_frame_free(&best);
    mw_image_renderer_free(&renderer);
    mw_video_source_close(&source);
    return status;
}

mw_status mw_make_storyboard(const char *input, const char *sprite_path, int32_t tile_width,
                             int32_t columns, double interval_s, int32_t max_tiles,
                             const mw_limits *limits, mw_cancel_token *cancel,
                             mw_progress_callback on_progress, void *user, mw_storyboard_info *info,
                             char *message, size_t message_size) {
    if (!sprite_path || !info || tile_width < 16 || tile_width > 1920 || tile_width % 2 || columns < 1 || columns > 100 ||
        max_tiles < 1 || max_tiles > 10000 || !(interval_s > 0))
        return mw_fail(message, message_size, MW_E_INVALID_ARGUMENT,
                       "invalid storyboard geometry (even tile width 16-1920, 1-100 columns, 1-10000 tiles, interval > 0)");
    memset(info, 0, sizeof(*info));
    mw_video_source source;
    mw_image_renderer renderer;
    mw_image_renderer_init(&renderer);
    AVFrame *frame = av_frame_alloc(), *scratch = av_frame_alloc(), *sheet = NULL;
    mw_status status = (!frame || !scratch)
        ? mw_fail(message, message_size, MW_E_OUT_OF_MEMORY, "out of memory")
        : mw_video_source_open(&source, input, limits, cancel, 0, message, message_size);
    if (status != MW_OK) {
        av_frame_free(&frame);
        av_frame_free(&scratch);
        return status;
    }
    /* The tile height follows the display aspect; the width is the caller's. */
    int fit_w, fit_h;
    mw_image_fit(source.decoder->width, source.decoder->height, source.sar, source.rotation, 0, 0, &fit_w, &fit_h);
    int64_t tile_height64 = llround(tile_width * (double)fit_h / fit_w / 2) * 2;
    if (tile_height64 < 2) tile_height64 = 2;
    double tiles = source.duration_s > 0 ? ceil(source.duration_s / interval_s - 1e-9) : 1;
    int count = tiles < 1 ? 1 : tiles > max_tiles ? max_tiles : (int)tiles;
    int cols = count < columns ? count : columns;
    int rows = (count + cols - 1) / cols;
    /* Sizes in 64 bits against the pixel limits: a hostile aspect ratio must not wrap them. */
    int64_t sheet_width = (int64_t)cols * tile_width, sheet_height = (int64_t)rows * tile_height64;
    int64_t max_pixels = limits ? limits->max_pixels : (int64_t)8192 * 8192;
    if (tile_height64 > 16384 || sheet_height > 65535 || sheet_width > 65535 || sheet_width * sheet_height > max_pixels) {
        av_frame_free(&frame);
        av_frame_free(&scratch);
        mw_video_source_close(&source);
        return mw_fail(message, message_size, MW_E_DIMENSIONS_TOO_LARGE,
                       "storyboard of %dx%d tiles of %dx%" PRId64 " is over the pixel limit", cols, rows, tile_width, tile_height64);
    }
    int tile_height = (int)tile_height64;
    sheet = av_frame_alloc();
    if (!sheet) status = mw_fail(message, message_size, MW_E_OUT_OF_MEMORY, "out of memory");
    if (status == MW_OK) {
        sheet->format = AV_PIX_FMT_YUV420P;
        sheet->color_range = AVCOL_RANGE_JPEG;
        sheet->width = (int)sheet_width;
        sheet->height = (int)sheet_height;
        if (av_frame_get_buffer(sheet, 0) < 0) status = mw_fail(message, message_size, MW_E_OUT_OF_MEMORY, "out of memory");
    }
    if (status == MW_OK) {
        /* Unused cells stay black. */
        for (int plane = 0; plane < 3; plane++) {
            int h = plane ? sheet->height / 2 : sheet->height;
            memset(sheet->data[plane], plane ? 128 : 0, (size_t)sheet->linesize[plane] * h);
        }
    }
    for (int i = 0; status == MW_OK && i < count; i++) {
        double got = 0;
        /* Each tile shows the middle of its interval (bounded by the end). */
        double wanted = fmin(i * interval_s + interval_s / 2, fmax(0, source.duration_s - 0.05));
        if ((status = mw_video_source_frame_at(&source, wanted, frame, scratch, &got, message, message_size)) != MW_OK) break;
        if ((status = mw_image_render(&renderer, frame, source.rotation, tile_width, tile_height, message, message_size)) != MW_OK) break;
        int x0 = (i % cols) * tile_width, y0 = (i / cols) * tile_height;
        for (int plane = 0; plane < 3; plane++) {
            int shift = plane ? 1 : 0;
            for (int y = 0; y < tile_height >> shift; y++) {
                memcpy(sheet->data[plane] + (ptrdiff_t)((y0 >> shift) + y) * sheet->linesize[plane] + (x0 >> shift),
                       renderer.upright->data[plane] + (ptrdiff_t)y * renderer.upright->linesize[plane], (size_t)(tile_width >> shift));
            }
        }
        if (on_progress) on_progress(user, (i + 1) / (double)count);
    }
    if (status == MW_OK) status = mw_image_write_jpeg(&renderer, sheet, 4, sprite_path, message, message_size);
    if (status == MW_OK) {
        info->tile_width = tile_width;
        info->tile_height = tile_height;
        info->columns = cols;
        info->rows = rows;
        info->count = count;
        info->interval_s = interval_s;
        info->duration_s = source.duration_s;
    }
    av_frame_free(&frame);
    av_frame_free(&scratch);
    av_frame_free(&sheet);
    mw_image_renderer_free(&renderer);
    mw_video_source_close(&source);
    return status;
}

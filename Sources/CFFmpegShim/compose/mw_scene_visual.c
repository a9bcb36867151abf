/* Scene pictures for compose: fitting, Ken Burns, clips. */
#include "compose/mw_scene_visual.h"

#include <math.h>
#include <string.h>
#include <libavutil/imgutils.h>
#include <libavutil/pixdesc.h>

static int even_floor(double value) { int v = (int)floor(value); return v - (v & 1); }
static int even_round(double value) { int v = (int)lround(value / 2) * 2; return v < 2 ? 2 : v; }

AVFrame *mw_picture_alloc(int width, int height) {
    AVFrame *frame = av_frame_alloc();
    if (!frame) return NULL;
    frame->format = AV_PIX_FMT_YUV420P;
    frame->width = width;
    frame->height = height;
    if (av_frame_get_buffer(frame, 0) < 0) av_frame_free(&frame);
    return frame;
}

void mw_picture_fill_black(AVFrame *frame) {
    for (int y = 0; y < frame->height; y++) memset(frame->data[0] + (size_t)y * frame->linesize[0], 16, frame->width);
    int chroma_width = (frame->width + 1) / 2, chroma_height = (frame->height + 1) / 2;
    for (int plane = 1; plane <= 2; plane++)
        for (int y = 0; y < chroma_height; y++) memset(frame->data[plane] + (size_t)y * frame->linesize[plane], 128, chroma_width);
}

/* Scales the (x, y, w, h) part of a YUV 4:2:0 `source` (x, y even) into the (dx, dy, dw, dh)
 * part of `target` (dx, dy even). */
static mw_status scale_region(struct SwsContext **scaler, const AVFrame *source, int x, int y, int w, int h,
                              AVFrame *target, int dx, int dy, int dw, int dh, char *message, size_t message_size) {
    *scaler = sws_getCachedContext(*scaler, w, h, source->format, dw, dh, AV_PIX_FMT_YUV420P, SWS_BICUBIC, NULL, NULL, NULL);
    if (!*scaler) return mw_fail(message, message_size, MW_E_INTERNAL, "no scaler for %dx%d to %dx%d", w, h, dw, dh);
    const uint8_t *in[4] = {
        source->data[0] + (size_t)y * source->linesize[0] + x,
        source->data[1] + (size_t)(y / 2) * source->linesize[1] + x / 2,
        source->data[2] + (size_t)(y / 2) * source->linesize[2] + x / 2, NULL};
    uint8_t *out[4] = {
        target->data[0] + (size_t)dy * target->linesize[0] + dx,
        target->data[1] + (size_t)(dy / 2) * target->linesize[1] + dx / 2,
        target->data[2] + (size_t)(dy / 2) * target->linesize[2] + dx / 2, NULL};
    int in_lines[4] = {source->linesize[0], source->linesize[1], source->linesize[2], 0};
    int out_lines[4] = {target->linesize[0], target->linesize[1], target->linesize[2], 0};
    sws_scale(*scaler, in, in_lines, 0, h, out, out_lines);
    return MW_OK;
}

/* Fits an upright YUV 4:2:0 picture with pixel aspect `sar` into `target`: cover crops the
 * middle, letterbox leaves black bars. */
static mw_status fit_into(struct SwsContext **scaler, const AVFrame *source, AVRational sar, int fit, AVFrame *target,
                          char *message, size_t message_size) {
    double pixel = sar.num > 0 && sar.den > 0 ? av_q2d(sar) : 1;
    double source_aspect = source->width * pixel / source->height;
    double target_aspect = (double)target->width / target->height;
    if (fit == MW_FIT_LETTERBOX) {
        int w = target->width, h = target->height;
        if (source_aspect > target_aspect) h = even_round(target->width / source_aspect);
        else w = even_round(target->height * source_aspect);
        if (w > target->width) w = target->width;
        if (h > target->height) h = target->height;
        if (w != target->width || h != target->height) mw_picture_fill_black(target);
        return scale_region(scaler, source, 0, 0, source->width, source->height, target, even_floor((target->width - w) / 2.0),
                            even_floor((target->height - h) / 2.0), w, h, message, message_size);
    }
    int w = source->width, h = source->height;
    if (source_aspect > target_aspect) w = even_round(source->height * target_aspect / pixel);
    else h = even_round(source->width * pixel / target_aspect);
    if (w > source->width) w = source->width;
    if (h > source->height) h = source->height;
    return scale_region(scaler, source, even_floor((source->width - w) / 2.0), even_floor((source->height - h) / 2.0), w, h,
                        target, 0, 0, target->width, target->height, message, message_size);
}

/* Any decoded picture as upright YUV 4:2:0 at its own size; a picture with alpha is laid on black. */
static mw_status normalize(struct SwsContext **scaler, const AVFrame *frame, int rotation, AVFrame **out,
                           char *message, size_t message_size) {
    const AVPixFmtDescriptor *desc = av_pix_fmt_desc_get(frame->format);
    if (!desc) return mw_fail(message, message_size, MW_E_INPUT_CORRUPT, "picture of unknown pixel format");
    int width = frame->width, height = frame->height;
    AVFrame *flat = NULL;
    mw_status status = MW_OK;
    if (desc->flags & AV_PIX_FMT_FLAG_ALPHA) {
        /* Premultiply over black in RGBA, then convert. */
        AVFrame *rgba = av_frame_alloc();
        if (!rgba) return mw_fail(message, message_size, MW_E_OUT_OF_MEMORY, "out of memory");
        rgba->format = AV_PIX_FMT_RGBA;
        rgba->width = width;
        rgba->height = height;
        *scaler = sws_getCachedContext(*scaler, width, height, frame->format, width, height, AV_PIX_FMT_RGBA, SWS_BICUBIC, NULL, NULL, NULL);
        if (!*scaler || av_frame_get_buffer(rgba, 0) < 0) {
            av_frame_free(&rgba);
            return mw_fail(message, message_size, MW_E_OUT_OF_MEMORY, "cannot convert the picture");
        }
        sws_scale(*scaler, (const uint8_t *const *)frame->data, frame->linesize, 0, height, rgba->data, rgba->linesize);
        for (int y = 0; y < height; y++) {
            uint8_t *p = rgba->data[0] + (size_t)y * rgba->linesize[0];
            for (int x = 0; x < width; x++, p += 4) {
                unsigned a = p[3];
                p[0] = (uint8_t)((p[0] * a + 127) / 255);
                p[1] = (uint8_t)((p[1] * a + 127) / 255);
                p[2] = (uint8_t)((p[2] * a + 127) / 255);
                p[3] = 255;
            }
        }
        flat = mw_picture_alloc(width, height);
        *scaler = sws_getCachedContext(*scaler, width, height, AV_PIX_FMT_RGBA, width, height, AV_PIX_FMT_YUV420P, SWS_BICUBIC, NULL, NULL, NULL);
        if (!flat || !*scaler) status = mw_fail(message, message_size, MW_E_OUT_OF_MEMORY, "cannot convert the picture");
        else sws_scale(*scaler, (const uint8_t *const *)rgba->data, rgba->linesize, 0, height, flat->data, flat->linesize);
        av_frame_free(&rgba);
    } else if (frame->format == AV_PIX_FMT_YUV420P || frame->format == AV_PIX_FMT_YUVJ420P) {
        flat = av_frame_clone(frame);
        if (!flat) status = mw_fail(message, message_size, MW_E_OUT_OF_MEMORY, "out of memory");
    } else {
        flat = mw_picture_alloc(width, height);
        *scaler = sws_getCachedContext(*scaler, width, height, frame->format, width, height, AV_PIX_FMT_YUV420P, SWS_BICUBIC, NULL, NULL, NULL);
        if (!flat || !*scaler) status = mw_fail(message, message_size, MW_E_OUT_OF_MEMORY, "cannot convert the picture");
        else sws_scale(*scaler, (const uint8_t *const *)frame->data, frame->linesize, 0, height, flat->data, flat->linesize);
    }
    if (status != MW_OK) {
        av_frame_free(&flat);
        return status;
    }
    if (rotation == 0) {
        *out = flat;
        return MW_OK;
    }
    /* Turn clockwise by `rotation`, plane by plane. */
    int turned = rotation == 90 || rotation == 270;
    AVFrame *upright = mw_picture_alloc(turned ? height : width, turned ? width : height);
    if (!upright) {
        av_frame_free(&flat);
        return mw_fail(message, message_size, MW_E_OUT_OF_MEMORY, "out of memory");
    }
    for (int plane = 0; plane < 3; plane++) {
        int shift = plane ? 1 : 0;
        int sw = (width + shift) >> shift, sh = (height + shift) >> shift;
        int ow = (upright->width + shift) >> shift, oh = (upright->height + shift) >> shift;
        for (int y = 0; y < sh; y++) {
            const uint8_t *row = flat->data[plane] + (size_t)y * flat->linesize[plane];
            for (int x = 0; x < sw; x++) {
                int tx, ty;
                if (rotation == 90) { tx = sh - 1 - y; ty = x; }
                else if (rotation == 180) { tx = sw - 1 - x; ty = sh - 1 - y; }
                else { tx = y; ty = sw - 1 - x; }
                if (tx < ow && ty < oh) upright->data[plane][(size_t)ty * upright->linesize[plane] + tx] = row[x];
            }
        }
    }
    av_frame_free(&flat);
    *out = upright;
    return MW_OK;
}

static int is_still_format(const AVFormatContext *format) {
    const char *name = format->iformat ? format->iformat->name : "";
    size_t length = strlen(name);
    return length > 5 && !strcmp(name + length - 5, "_pipe");
}

static mw_status load_still(mw_scene_visual *visual, const mw_compose_options *options, char *message, size_t message_size) {
    AVFrame *frame = av_frame_alloc();
    if (!frame) return mw_fail(message, message_size, MW_E_OUT_OF_MEMORY, "out of memory");
    int end = 0;
    mw_status status = mw_video_source_next(&visual->clip, frame, &end, message, message_size);
    if (status == MW_OK && end) status = mw_fail(message, message_size, MW_E_INPUT_CORRUPT, "the image has no picture");
    AVFrame *flat = NULL;
    if (status == MW_OK) status = normalize(&visual->scaler, frame, 0, &flat, message, message_size);
    av_frame_free(&frame);
    if (status != MW_OK) return status;
    /* With Ken Burns the canvas is larger than the frame: the zoom ends on native pixels. */
    double scale = visual->ken_burns ? 1 + visual->zoom : 1;
    visual->canvas = mw_picture_alloc(even_round(visual->width * scale), even_round(visual->height * scale));
    if (!visual->canvas) status = mw_fail(message, message_size, MW_E_OUT_OF_MEMORY, "out of memory");
    if (status == MW_OK) status = fit_into(&visual->scaler, flat, visual->clip.sar, visual->fit, visual->canvas, message, message_size);
    av_frame_free(&flat);
    return status;
}

mw_status mw_scene_visual_open(mw_scene_visual *visual, const char *path, int index, const mw_compose_options *options,
                               const mw_limits *limits, mw_cancel_token *cancel, char *message, size_t message_size) {
    memset(visual, 0, sizeof(*visual));
    visual->width = options->width;
    visual->height = options->height;
    visual->fit = options->fit;
    visual->shown_time = -1;
    mw_status status = mw_video_source_open(&visual->clip, path, limits, cancel, 0, message, message_size);
    if (status != MW_OK) return status;
    visual->clip_open = 1;
    visual->is_still = is_still_format(visual->clip.format);
    visual->decoded = av_frame_alloc();
    visual->lookahead = av_frame_alloc();
    if (!visual->decoded || !visual->lookahead) return mw_fail(message, message_size, MW_E_OUT_OF_MEMORY, "out of memory");
    if (visual->is_still) {
        visual->ken_burns = options->ken_burns;
        visual->zoom = options->ken_burns_zoom;
        /* Alternate the motion so consecutive stills do not all drift the same way. */
        static const double targets[4][2] = {{0.3, 0.35}, {0.7, 0.6}, {0.65, 0.3}, {0.35, 0.65}};
        visual->zoom_in = index % 2 == 0;
        visual->pan_x = targets[index % 4][0];
        visual->pan_y = targets[index % 4][1];
        status = load_still(visual, options, message, message_size);
        mw_video_source_close(&visual->clip);
        visual->clip_open = 0;
        return status;
    }
    /* A clip: its first picture now, so a broken one fails before any encoding. */
    int end = 0;
    status = mw_video_source_next(&visual->clip, visual->decoded, &end, message, message_size);
    if (status == MW_OK && end) return mw_fail(message, message_size, MW_E_INPUT_CORRUPT, "the clip has no picture");
    visual->have_decoded = status == MW_OK;
    return status;
}

/* Ken Burns: a window of the canvas, shrinking (zoom in) or growing (zoom out) at a steady
 * rate while its centre drifts from the middle toward the scene's target. */
static mw_status render_ken_burns(mw_scene_visual *visual, double progress, char *message, size_t message_size) {
    AVFrame *canvas = visual->canvas;
    double p = visual->zoom_in ? progress : 1 - progress;
    double scale = 1 + visual->zoom * p;            /* 1: the whole canvas, 1 + zoom: the output's size */
    int w = even_round(canvas->width / scale), h = even_round(canvas->height / scale);
    if (w > canvas->width) w = canvas->width;
    if (h > canvas->height) h = canvas->height;
    double cx = 0.5 + (visual->pan_x - 0.5) * p, cy = 0.5 + (visual->pan_y - 0.5) * p;
    int x = even_floor((canvas->width - w) * cx), y = even_floor((canvas->height - h) * cy);
    AVFrame *picture = mw_picture_alloc(visual->width, visual->height);
    if (!picture) return mw_fail(message, message_size, MW_E_OUT_OF_MEMORY, "out of memory");
    mw_status status = scale_region(&visual->scaler, canvas, x, y, w, h, picture, 0, 0, visual->width, visual->height, message, message_size);
    if (status != MW_OK) {
        av_frame_free(&picture);
        return status;
    }
    av_frame_free(&visual->picture);
    visual->picture = picture;
    return MW_OK;
}

/* Advances the clip to the last picture at or before `time_s`; past its end the last one stays. */
static mw_status advance_clip(mw_scene_visual *visual, double time_s, char *message, size_t message_size) {
    const double epsilon = 1e-4;
    while (!visual->clip_ended) {
        if (!visual->have_lookahead) {
            int end = 0;
            mw_status status = mw_video_source_next(&visual->clip, visual->lookahead, &end, message, message_size);
            if (status != MW_OK) return status;
            if (end) {
                visual->clip_ended = 1;
                break;
            }
            visual->have_lookahead = 1;
        }
        if (mw_video_source_time(&visual->clip, visual->lookahead) > time_s + epsilon) break;
        av_frame_unref(visual->decoded);
        av_frame_move_ref(visual->decoded, visual->lookahead);
        visual->have_lookahead = 0;
    }
    return MW_OK;
}

mw_status mw_scene_visual_render(mw_scene_visual *visual, double time_s, double length_s, AVFrame **picture,
                                 char *message, size_t message_size) {
    *picture = NULL;
    if (visual->is_still) {
        if (!visual->ken_burns) {
            *picture = visual->canvas;
            return MW_OK;
        }
        double progress = length_s > 0 ? time_s / length_s : 0;
        progress = progress < 0 ? 0 : progress > 1 ? 1 : progress;
        mw_status status = render_ken_burns(visual, progress, message, message_size);
        if (status == MW_OK) *picture = visual->picture;
        return status;
    }
    mw_status status = advance_clip(visual, time_s < 0 ? 0 : time_s, message, message_size);
    if (status != MW_OK) return status;
    double shown = mw_video_source_time(&visual->clip, visual->decoded);
    if (visual->picture && shown == visual->shown_time) {
        *picture = visual->picture;
        return MW_OK;
    }
    AVFrame *upright = NULL;
    status = normalize(&visual->scaler, visual->decoded, visual->clip.rotation, &upright, message, message_size);
    if (status != MW_OK) return status;
    AVFrame *fitted = mw_picture_alloc(visual->width, visual->height);
    if (!fitted) status = mw_fail(message, message_size, MW_E_OUT_OF_MEMORY, "out of memory");
    AVRational sar = visual->clip.sar;
    if (visual->clip.rotation == 90 || visual->clip.rotation == 270) sar = (AVRational){sar.den, sar.num};
    if (status == MW_OK) status = fit_into(&visual->scaler, upright, sar, visual->fit, fitted, message, message_size);
    av_frame_free(&upright);
    if (status != MW_OK) {
        av_frame_free(&fitted);
        return status;
    }
    av_frame_free(&visual->picture);
    visual->picture = fitted;
    visual->shown_time = shown;
    *picture = fitted;
    return MW_OK;
}

void mw_scene_visual_close(mw_scene_visual *visual) {
    if (visual->clip_open) mw_video_source_close(&visual->clip);
    visual->clip_open = 0;
    av_frame_free(&visual->canvas);
    av_frame_free(&visual->decoded);
    av_frame_free(&visual->lookahead);
    av_frame_free(&visual->upright);
    av_frame_free(&visual->picture);
    sws_freeContext(visual->scaler);
    visual->scaler = NULL;
}

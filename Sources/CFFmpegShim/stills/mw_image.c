/* Turning decoded frames into upright, square-pixel JPEG images. */
#include "stills/mw_image.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <libavutil/avstring.h>
#include <libavutil/imgutils.h>
#include <libavutil/opt.h>
#include <libavutil/pixdesc.h>

void mw_image_renderer_init(mw_image_renderer *renderer) {
    memset(renderer, 0, sizeof(*renderer));
}

void mw_image_renderer_free(mw_image_renderer *renderer) {
    sws_freeContext(renderer->scaler);
    av_frame_free(&renderer->scaled);
    av_frame_free(&renderer->upright);
    av_packet_free(&renderer->packet);
    memset(renderer, 0, sizeof(*renderer));
}

static int even(double value) {
    int rounded = (int)lround(value / 2) * 2;
    return rounded < 2 ? 2 : rounded;
}

void mw_image_fit(int width, int height, AVRational sar, int rotation, int max_width, int max_height,
                  int *out_width, int *out_height) {
    double w = width, h = height;
    if (sar.num > 0 && sar.den > 0) w = w * sar.num / sar.den;
    if (rotation == 90 || rotation == 270) { double t = w; w = h; h = t; }
    double scale = 1;
    if (max_width > 0 && w * scale > max_width) scale = max_width / w;
    if (max_height > 0 && h * scale > max_height) scale = max_height / h;
    *out_width = even(w * scale);
    *out_height = even(h * scale);
}

static mw_status ensure_frame(AVFrame **frame, int width, int height, char *message, size_t message_size) {
    if (*frame && (*frame)->width == width && (*frame)->height == height && (*frame)->buf[0]) {
        if (av_frame_make_writable(*frame) < 0) return mw_fail(message, message_size, MW_E_OUT_OF_MEMORY, "out of memory");
        return MW_OK;
    }
    av_frame_free(frame);
    *frame = av_frame_alloc();
    if (!*frame) return mw_fail(message, message_size, MW_E_OUT_OF_MEMORY, "out of memory");
    (*frame)->format = AV_PIX_FMT_YUV420P;
    (*frame)->color_range = AVCOL_RANGE_JPEG;
    (*frame)->width = width;
    (*frame)->height = height;
    if (av_frame_get_buffer(*frame, 0) < 0) {
        av_frame_free(frame);
        return mw_fail(message, message_size, MW_E_OUT_OF_MEMORY, "out of memory");
    }
    return MW_OK;
}

/* Rotates one plane clockwise by 90, 180 or 270 degrees. */
static void rotate_plane(const uint8_t *src, int src_stride, int width, int height, uint8_t *dst, int dst_stride, int rotation) {
    for (int y = 0; y < height; y++) {
        const uint8_t *row = src + (ptrdiff_t)y * src_stride;
        for (int x = 0; x < width; x++) {
            int dx, dy;
            switch (rotation) {
            case 90: dx = height - 1 - y; dy = x; break;
            case 180: dx = width - 1 - x; dy = height - 1 - y; break;
            default: dx = y; dy = width - 1 - x; break; /* 270 */
            }
            dst[(ptrdiff_t)dy * dst_stride + dx] = row[x];
        }
    }
}

mw_status mw_image_render(mw_image_renderer *renderer, const AVFrame *frame, int rotation, int out_width,
                          int out_height, char *message, size_t message_size) {
    if (frame->width <= 0 || frame->height <= 0 || frame->format < 0 || out_width <= 0 || out_height <= 0)
        return mw_fail(message, message_size, MW_E_INPUT_CORRUPT, "no picture to render");
    int turned = rotation == 90 || rotation == 270;
    int width = turned ? out_height : out_width;
    int height = turned ? out_width : out_height;
    mw_status status = ensure_frame(&renderer->scaled, width, height, message, message_size);
    if (status != MW_OK) return status;

    /* Limited-range sources are expanded to the full range JPEG expects. The ranges are given
     * before the context is set up: given after (sws_setColorspaceDetails on a made context), a
     * same-size conversion has already been made a plain copy that ignores them, and a full-size
     * image came out limited-range tagged full (washed-out blacks, 30 dB from its source). */
    int full_range = frame->color_range == AVCOL_RANGE_JPEG;
    int key[6] = {frame->width, frame->height, frame->format, full_range, width, height};
    if (!renderer->scaler || memcmp(key, renderer->scaler_key, sizeof(key)) != 0) {
        sws_freeContext(renderer->scaler);
        renderer->scaler = sws_alloc_context();
        if (!renderer->scaler) return mw_fail(message, message_size, MW_E_OUT_OF_MEMORY, "out of memory");
        av_opt_set_int(renderer->scaler, "srcw", frame->width, 0);
        av_opt_set_int(renderer->scaler, "srch", frame->height, 0);
        av_opt_set_int(renderer->scaler, "src_format", frame->format, 0);
        av_opt_set_int(renderer->scaler, "dstw", width, 0);
        av_opt_set_int(renderer->scaler, "dsth", height, 0);
        av_opt_set_int(renderer->scaler, "dst_format", AV_PIX_FMT_YUV420P, 0);
        av_opt_set_int(renderer->scaler, "sws_flags", SWS_BICUBIC, 0);
        av_opt_set_int(renderer->scaler, "src_range", full_range, 0);
        av_opt_set_int(renderer->scaler, "dst_range", 1, 0);
        if (sws_init_context(renderer->scaler, NULL, NULL) < 0) {
            sws_freeContext(renderer->scaler);
            renderer->scaler = NULL;
            return mw_fail(message, message_size, MW_E_INTERNAL, "cannot scale from %s",
                           av_get_pix_fmt_name((enum AVPixelFormat)frame->format));
        }
        memcpy(renderer->scaler_key, key, sizeof(key));
    }
    const int *coefficients = sws_getCoefficients(frame->colorspace == AVCOL_SPC_BT709 ? SWS_CS_ITU709 : SWS_CS_DEFAULT);
    sws_setColorspaceDetails(renderer->scaler, coefficients, full_range, coefficients, 1, 0, 1 << 16, 1 << 16);
    sws_scale(renderer->scaler, (const uint8_t *const *)frame->data, frame->linesize, 0, frame->height,
              renderer->scaled->data, renderer->scaled->linesize);

    if (rotation == 0) {
        if (!renderer->upright && !(renderer->upright = av_frame_alloc()))
            return mw_fail(message, message_size, MW_E_OUT_OF_MEMORY, "out of memory");
        av_frame_unref(renderer->upright);
        if (av_frame_ref(renderer->upright, renderer->scaled) < 0)
            return mw_fail(message, message_size, MW_E_OUT_OF_MEMORY, "out of memory");
        return MW_OK;
    }
    if (renderer->upright) av_frame_unref(renderer->upright);
    status = ensure_frame(&renderer->upright, out_width, out_height, message, message_size);
    if (status != MW_OK) return status;
    for (int plane = 0; plane < 3; plane++) {
        int shift = plane == 0 ? 0 : 1;
        rotate_plane(renderer->scaled->data[plane], renderer->scaled->linesize[plane], width >> shift, height >> shift,
                     renderer->upright->data[plane], renderer->upright->linesize[plane], rotation);
    }
    return MW_OK;
}

mw_status mw_image_write_jpeg(mw_image_renderer *renderer, const AVFrame *picture, int quality,
                              const char *path, char *message, size_t message_size) {
    const AVCodec *codec = avcodec_find_encoder(AV_CODEC_ID_MJPEG);
    if (!codec) return mw_fail(message, message_size, MW_E_INTERNAL, "no JPEG encoder in this FFmpeg build");
    if (!renderer->packet && !(renderer->packet = av_packet_alloc()))
        return mw_fail(message, message_size, MW_E_OUT_OF_MEMORY, "out of memory");
    if (quality < 2 || quality > 31) quality = 3;

    mw_status status = MW_OK;
    char *temp_path = NULL;
    FILE *file = NULL;
    AVFrame *frame = NULL;
    AVCodecContext *encoder = avcodec_alloc_context3(codec);
    if (!encoder) return mw_fail(message, message_size, MW_E_OUT_OF_MEMORY, "out of memory");
    encoder->width = picture->width;
    encoder->height = picture->height;
    encoder->pix_fmt = AV_PIX_FMT_YUV420P;
    encoder->color_range = AVCOL_RANGE_JPEG;
    encoder->time_base = (AVRational){1, 25};
    encoder->flags |= AV_CODEC_FLAG_QSCALE;
    encoder->global_quality = FF_QP2LAMBDA * quality;
    int ret = avcodec_open2(encoder, codec, NULL);
    if (ret < 0) {
        status = mw_fail(message, message_size, MW_E_INTERNAL, "cannot open the JPEG encoder: %s", av_err2str(ret));
        goto end;
    }
    if (!(frame = av_frame_clone(picture))) {
        status = mw_fail(message, message_size, MW_E_OUT_OF_MEMORY, "out of memory");
        goto end;
    }
    frame->quality = encoder->global_quality;
    frame->pict_type = AV_PICTURE_TYPE_I;
    frame->pts = 0;
    if ((ret = avcodec_send_frame(encoder, frame)) < 0 || (ret = avcodec_send_frame(encoder, NULL)) < 0 ||
        (ret = avcodec_receive_packet(encoder, renderer->packet)) < 0) {
        status = mw_fail(message, message_size, MW_E_INTERNAL, "JPEG encoding failed: %s", av_err2str(ret));
        goto end;
    }
    if (!(temp_path = av_asprintf("%s.tmp", path))) {
        status = mw_fail(message, message_size, MW_E_OUT_OF_MEMORY, "out of memory");
        goto end;
    }
    file = fopen(temp_path, "wb");
    if (!file || fwrite(renderer->packet->data, 1, renderer->packet->size, file) != (size_t)renderer->packet->size) {
        status = mw_fail(message, message_size, MW_E_INTERNAL, "cannot write %s", path);
        goto end;
    }
    if (fclose(file) != 0) {
        file = NULL;
        status = mw_fail(message, message_size, MW_E_INTERNAL, "cannot write %s", path);
        goto end;
    }
    file = NULL;
    if (rename(temp_path, path) != 0) status = mw_fail(message, message_size, MW_E_INTERNAL, "cannot write %s", path);

end:
    if (file) fclose(file);
    if (status != MW_OK && temp_path) remove(temp_path);
    av_free(temp_path);
    av_packet_unref(renderer->packet);
    av_frame_free(&frame);
    avcodec_free_context(&encoder);
    return status;
}

void mw_image_luma_stats(const AVFrame *picture, double *mean, double *stddev) {
    double sum = 0, squares = 0;
    int64_t count = 0;
    /* Every other pixel of every other row: plenty for a brightness and contrast estimate. */
    for (int y = 0; y < picture->height; y += 2) {
        const uint8_t *row = picture->data[0] + (ptrdiff_t)y * picture->linesize[0];
        for (int x = 0; x < picture->width; x += 2) {
            sum += row[x];
            squares += (double)row[x] * row[x];
            count++;
        }
    }
    *mean = count ? sum / count : 0;
    double variance = count ? squares / count - *mean * *mean : 0;
    *stddev = variance > 0 ? sqrt(variance) : 0;
}

void mw_image_luma_grid(const AVFrame *picture, uint8_t grid[144]) {
    for (int gy = 0; gy < 9; gy++) {
        for (int gx = 0; gx < 16; gx++) {
            int x0 = gx * picture->width / 16, x1 = (gx + 1) * picture->width / 16;
            int y0 = gy * picture->height / 9, y1 = (gy + 1) * picture->height / 9;
            int64_t sum = 0, count = 0;
            for (int y = y0; y < y1; y++) {
                const uint8_t *row = picture->data[0] + (ptrdiff_t)y * picture->linesize[0];
                for (int x = x0; x < x1; x++) { sum += row[x]; count++; }
            }
            grid[gy * 16 + gx] = (uint8_t)(count ? sum / count : 0);
        }
    }
}

/* A rung's encode compared with its source in the same pass (see mw_rung_judge.h). */
#include "transcode/mw_rung_judge.h"

#include <libswscale/swscale.h>
#include <string.h>

mw_status mw_rung_judge_open(mw_rung_judge *judge, const AVCodecContext *encoder, int width, int height,
                             char *message, size_t message_size) {
    memset(judge, 0, sizeof(*judge));
    judge->width = width;
    judge->height = height;
    const AVCodec *codec = avcodec_find_decoder(encoder->codec_id);
    if (!codec) return mw_fail(message, message_size, MW_E_INTERNAL, "no decoder for %s", avcodec_get_name(encoder->codec_id));
    judge->decoder = avcodec_alloc_context3(codec);
    judge->decoded = av_frame_alloc();
    judge->scaled = av_frame_alloc();
    if (!judge->decoder || !judge->decoded || !judge->scaled) return mw_fail(message, message_size, MW_E_OUT_OF_MEMORY, "out of memory");
    judge->decoder->pkt_timebase = encoder->time_base;
    judge->decoder->time_base = encoder->time_base;
    judge->decoder->width = encoder->width;
    judge->decoder->height = encoder->height;
    judge->decoder->pix_fmt = encoder->pix_fmt;
    /* One thread: the rung's own thread decodes, and frame threading would only add delay. */
    judge->decoder->thread_count = 1;
    if (encoder->extradata_size > 0) {
        judge->decoder->extradata = av_mallocz((size_t)encoder->extradata_size + AV_INPUT_BUFFER_PADDING_SIZE);
        if (!judge->decoder->extradata) return mw_fail(message, message_size, MW_E_OUT_OF_MEMORY, "out of memory");
        memcpy(judge->decoder->extradata, encoder->extradata, (size_t)encoder->extradata_size);
        judge->decoder->extradata_size = encoder->extradata_size;
    }
    int ret = avcodec_open2(judge->decoder, codec, NULL);
    if (ret < 0) return mw_fail(message, message_size, MW_E_INTERNAL, "cannot open the %s decoder: %s", codec->name, av_err2str(ret));
    return MW_OK;
}

mw_status mw_rung_judge_expect(mw_rung_judge *judge, const AVFrame *reference, char *message, size_t message_size) {
    if (judge->waiting_count == judge->waiting_capacity) {
        int larger = judge->waiting_capacity ? judge->waiting_capacity * 2 : 32;
        AVFrame **grown = av_realloc_array(judge->waiting, (size_t)larger, sizeof(*grown));
        if (!grown) return mw_fail(message, message_size, MW_E_OUT_OF_MEMORY, "out of memory");
        judge->waiting = grown;
        judge->waiting_capacity = larger;
    }
    AVFrame *kept = av_frame_clone(reference);
    if (!kept) return mw_fail(message, message_size, MW_E_OUT_OF_MEMORY, "out of memory");
    judge->waiting[judge->waiting_count++] = kept;
    judge->expected++;
    return MW_OK;
}

/* The luma MSE of two 8-bit pictures of one size, as libavfilter's psnr computes it per frame. */
static double luma_mse(const AVFrame *a, const AVFrame *b) {
    uint64_t sum = 0;
    for (int y = 0; y < a->height; y++) {
        const uint8_t *p = a->data[0] + (ptrdiff_t)y * a->linesize[0], *q = b->data[0] + (ptrdiff_t)y * b->linesize[0];
        uint32_t row = 0;  /* 16384 pixels at most: 255² × 16384 fits */
        for (int x = 0; x < a->width; x++) {
            int d = p[x] - q[x];
            row += (uint32_t)(d * d);
        }
        sum += row;
    }
    return (double)sum / ((double)a->width * a->height);
}

/* Compares one decoded frame with the source frame of its timestamp. */
static mw_status judge_frame(mw_rung_judge *judge, char *message, size_t message_size) {
    AVFrame *decoded = judge->decoded;
    int64_t pts = decoded->best_effort_timestamp != AV_NOPTS_VALUE ? decoded->best_effort_timestamp : decoded->pts;
    /* Source frames older than this one were never shown back (none are, with these encoders): dropped. */
    int matched = -1;
    for (int i = 0; i < judge->waiting_count; i++) {
        if (judge->waiting[i]->pts == pts) { matched = i; break; }
        if (judge->waiting[i]->pts > pts) break;
    }
    if (matched < 0) return MW_OK;
    AVFrame *reference = judge->waiting[matched];
    const AVFrame *compared = decoded;
    if (decoded->width != judge->width || decoded->height != judge->height || decoded->format != AV_PIX_FMT_YUV420P) {
        judge->scaler = sws_getCachedContext(judge->scaler, decoded->width, decoded->height, decoded->format, judge->width, judge->height,
                                             AV_PIX_FMT_YUV420P, SWS_BICUBIC, NULL, NULL, NULL);
        if (!judge->scaler) return mw_fail(message, message_size, MW_E_INTERNAL, "no scaler for this picture format");
        if (!judge->scaled->data[0]) {
            judge->scaled->format = AV_PIX_FMT_YUV420P;
            judge->scaled->width = judge->width;
            judge->scaled->height = judge->height;
            if (av_frame_get_buffer(judge->scaled, 0) < 0) return mw_fail(message, message_size, MW_E_OUT_OF_MEMORY, "out of memory");
        }
        sws_scale(judge->scaler, (const uint8_t *const *)decoded->data, decoded->linesize, 0, decoded->height,
                  judge->scaled->data, judge->scaled->linesize);
        compared = judge->scaled;
    }
    judge->mse_y_sum += luma_mse(compared, reference);
    judge->frames++;
    for (int i = 0; i <= matched; i++) av_frame_free(&judge->waiting[i]);
    memmove(judge->waiting, judge->waiting + matched + 1, (size_t)(judge->waiting_count - matched - 1) * sizeof(*judge->waiting));
    judge->waiting_count -= matched + 1;
    return MW_OK;
}

mw_status mw_rung_judge_packet(mw_rung_judge *judge, const AVPacket *packet, char *message, size_t message_size) {
    int ret = avcodec_send_packet(judge->decoder, packet);
    if (ret < 0 && ret != AVERROR_EOF) return mw_fail(message, message_size, MW_E_INTERNAL, "the encoded video cannot be decoded: %s", av_err2str(ret));
    for (;;) {
        ret = avcodec_receive_frame(judge->decoder, judge->decoded);
        if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF) {
            if (packet || judge->frames == judge->expected) return MW_OK;
            return mw_fail(message, message_size, MW_E_INTERNAL, "%lld of %lld encoded frames matched their source frame",
                           (long long)judge->frames, (long long)judge->expected);
        }
        if (ret < 0) return mw_fail(message, message_size, MW_E_INTERNAL, "the encoded video cannot be decoded: %s", av_err2str(ret));
        mw_status status = judge_frame(judge, message, message_size);
        av_frame_unref(judge->decoded);
        if (status != MW_OK) return status;
    }
}

void mw_rung_judge_close(mw_rung_judge *judge) {
    avcodec_free_context(&judge->decoder);
    sws_freeContext(judge->scaler);
    judge->scaler = NULL;
    av_frame_free(&judge->decoded);
    av_frame_free(&judge->scaled);
    for (int i = 0; i < judge->waiting_count; i++) av_frame_free(&judge->waiting[i]);
    av_freep(&judge->waiting);
    judge->waiting_count = judge->waiting_capacity = 0;
}

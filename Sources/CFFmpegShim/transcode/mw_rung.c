/* One video rendition of a ladder, scaled and encoded on a thread of its own. */
#include "transcode/mw_rung.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <libavutil/opt.h>
#include <libswscale/swscale.h>

const char *mw_video_encoder_name(int codec) {
    switch (codec) {
    case MW_CODEC_H264: return "libx264";
    case MW_CODEC_HEVC: return "libx265";
    case MW_CODEC_AV1: return "libsvtav1";
    default: return NULL;
    }
}

double mw_default_crf(int codec) {
    /* About the same picture as x264's 23 (see Benchmarks/media: bytes at equal PSNR). */
    return codec == MW_CODEC_HEVC ? 25 : codec == MW_CODEC_AV1 ? 35 : 23;
}

int mw_svtav1_preset(const char *x264_preset) {
    /* SVT-AV1 presets run 0 (slowest) to 13; x264's names map onto its usable fast half. */
    static const char *names[] = {"ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow", "placebo"};
    static const int numbers[] = {12, 11, 10, 9, 8, 7, 6, 5, 4, 3};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (!strcmp(names[i], x264_preset)) return numbers[i];
    return 10;
}

mw_status mw_rung_open(mw_rung *rung, int width, int height, AVRational frame_rate, const mw_video_rung *spec,
                       const mw_encode_settings *settings, int threads, int global_header, atomic_int *abort,
                       char *message, size_t message_size) {
    memset(rung, 0, sizeof(*rung));
    rung->width = width;
    rung->height = height;
    rung->frame_rate = frame_rate;
    rung->codec = spec->codec;
    rung->abort = abort;
    const char *encoder_name = mw_video_encoder_name(spec->codec);
    if (!encoder_name) return mw_fail(message, message_size, MW_E_INVALID_ARGUMENT, "unknown video codec %d", spec->codec);
    const AVCodec *codec = avcodec_find_encoder_by_name(encoder_name);
    if (!codec) return mw_fail(message, message_size, MW_E_INTERNAL, "%s is not available in this FFmpeg build", encoder_name);
    rung->encoder = avcodec_alloc_context3(codec);
    rung->packet = av_packet_alloc();
    rung->scaled = av_frame_alloc();
    if (!rung->encoder || !rung->packet || !rung->scaled) return mw_fail(message, message_size, MW_E_OUT_OF_MEMORY, "out of memory");

    AVCodecContext *encoder = rung->encoder;
    encoder->width = width;
    encoder->height = height;
    encoder->pix_fmt = AV_PIX_FMT_YUV420P;
    encoder->sample_aspect_ratio = (AVRational){1, 1};
    encoder->framerate = frame_rate;
    encoder->time_base = av_inv_q(frame_rate);
    int gop_frames = (int)lround(settings->gop_s * av_q2d(frame_rate));
    if (gop_frames < 1) gop_frames = 1;
    /* Keyframes are forced by time by the caller; the encoder's own limit stays out of the way. */
    encoder->gop_size = gop_frames * 2 + 1;
    encoder->keyint_min = gop_frames;
    encoder->thread_count = threads;
    if (global_header) encoder->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;

    const char *preset = settings->preset[0] ? settings->preset : "veryfast";
    AVDictionary *options = NULL;
    char number[32];
    switch (spec->codec) {
    case MW_CODEC_H264:
        av_dict_set(&options, "preset", preset, 0);
        av_dict_set(&options, "forced-idr", "1", 0);
        /* No scene-cut keyframes (they would differ between rungs) and closed GOPs. */
        av_dict_set(&options, "x264-params", "scenecut=0:open-gop=0", 0);
        break;
    case MW_CODEC_HEVC:
        av_dict_set(&options, "preset", preset, 0);
        av_dict_set(&options, "forced-idr", "1", 0);
        av_dict_set(&options, "x265-params", "scenecut=0:open-gop=0:log-level=error", 0);
        break;
    case MW_CODEC_AV1:
        snprintf(number, sizeof(number), "%d", mw_svtav1_preset(preset));
        av_dict_set(&options, "preset", number, 0);
        /* Without enable-force-key-frames SVT-AV1 ignores the frames we mark as keyframes. */
        av_dict_set(&options, "svtav1-params", "enable-force-key-frames=1:scd=0", 0);
        break;
    }
    if (spec->bitrate > 0) {
        encoder->bit_rate = spec->bitrate;
    } else {
        double crf = spec->crf > 0 ? spec->crf : mw_default_crf(spec->codec);
        /* SVT-AV1 takes a whole number. */
        if (spec->codec == MW_CODEC_AV1) snprintf(number, sizeof(number), "%d", (int)lround(fmin(63, fmax(1, crf))));
        else snprintf(number, sizeof(number), "%.2f", crf);
        av_dict_set(&options, "crf", number, 0);
    }
    if (spec->max_bitrate > 0) {
        encoder->rc_max_rate = spec->max_bitrate;
        int64_t buffer = spec->buffer_size > 0 ? spec->buffer_size : 2 * spec->max_bitrate;
        encoder->rc_buffer_size = buffer > INT_MAX ? INT_MAX : (int)buffer;
    }
    int ret = avcodec_open2(encoder, codec, &options);
    av_dict_free(&options);
    if (ret < 0)
        return mw_fail(message, message_size, MW_E_ENCODER_FAILED, "cannot open %s for %dx%d: %s", encoder_name, width, height, av_err2str(ret));
    return MW_OK;
}

static void item_free(mw_rung_item *item) {
    av_frame_free(&item->frame);
    av_frame_free(&item->reference);
    av_packet_free(&item->audio);
}

/* Blocks while the queue is full. The item is consumed (freed on abort). */
static mw_status push_item(mw_rung *rung, mw_rung_item item) {
    pthread_mutex_lock(&rung->lock);
    while (rung->count == MW_RUNG_QUEUE_CAPACITY && !atomic_load(rung->abort)) pthread_cond_wait(&rung->changed, &rung->lock);
    if (atomic_load(rung->abort)) {
        pthread_mutex_unlock(&rung->lock);
        item_free(&item);
        return MW_E_CANCELED;
    }
    rung->items[(rung->head + rung->count) % MW_RUNG_QUEUE_CAPACITY] = item;
    rung->count++;
    pthread_cond_broadcast(&rung->changed);
    pthread_mutex_unlock(&rung->lock);
    return MW_OK;
}

/* Returns 0 when the job is aborted. */
static int pop_item(mw_rung *rung, mw_rung_item *item) {
    pthread_mutex_lock(&rung->lock);
    while (rung->count == 0 && !atomic_load(rung->abort)) pthread_cond_wait(&rung->changed, &rung->lock);
    if (atomic_load(rung->abort)) {
        pthread_cond_broadcast(&rung->changed);
        pthread_mutex_unlock(&rung->lock);
        return 0;
    }
    *item = rung->items[rung->head];
    rung->head = (rung->head + 1) % MW_RUNG_QUEUE_CAPACITY;
    rung->count--;
    pthread_cond_broadcast(&rung->changed);
    pthread_mutex_unlock(&rung->lock);
    return 1;
}

mw_status mw_rung_push_frame(mw_rung *rung, const AVFrame *frame, const AVFrame *reference) {
    mw_rung_item item = {.frame = av_frame_clone(frame), .reference = reference ? av_frame_clone(reference) : NULL};
    if (!item.frame || (reference && !item.reference)) {
        item_free(&item);
        return MW_E_OUT_OF_MEMORY;
    }
    return push_item(rung, item);
}

mw_status mw_rung_push_audio(mw_rung *rung, const AVPacket *packet) {
    AVPacket *copy = av_packet_clone(packet);
    if (!copy) return MW_E_OUT_OF_MEMORY;
    return push_item(rung, (mw_rung_item){.audio = copy});
}

mw_status mw_rung_push_audio_watermark(mw_rung *rung, double until_s) {
    return push_item(rung, (mw_rung_item){.watermark = 1, .audio_until_s = until_s});
}

static mw_status fail(mw_rung *rung, mw_status status, const char *what, int averror) {
    if (averror) snprintf(rung->message, sizeof(rung->message), "%dp: %s: %s", rung->height, what, av_err2str(averror));
    else snprintf(rung->message, sizeof(rung->message), "%dp: %s", rung->height, what);
    rung->status = status;
    return status;
}

static double packet_time(const AVPacket *packet, AVRational time_base) {
    int64_t dts = packet->dts != AV_NOPTS_VALUE ? packet->dts : packet->pts;
    return dts == AV_NOPTS_VALUE ? 0 : dts * av_q2d(time_base);
}

/* Audio up to `until_s` (decoding time) goes out before the video packet at that time. */
static mw_status write_audio_until(mw_rung *rung, double until_s) {
    int written = 0;
    while (written < rung->pending_count && packet_time(rung->pending_audio[written], rung->audio_time_base) <= until_s) {
        mw_status status = mw_packager_write(&rung->packager, rung->pending_audio[written], 0, 0, rung->message, sizeof(rung->message));
        av_packet_free(&rung->pending_audio[written]);
        written++;
        if (status != MW_OK) {
            rung->status = status;
            for (int i = written; i < rung->pending_count; i++) av_packet_free(&rung->pending_audio[i]);
            rung->pending_count = 0;
            return status;
        }
    }
    memmove(rung->pending_audio, rung->pending_audio + written, (size_t)(rung->pending_count - written) * sizeof(AVPacket *));
    rung->pending_count -= written;
    return MW_OK;
}

/* Writes one video packet after the audio that precedes it; a keyframe at or past the next
 * cut starts a segment (the first segment opens by itself). */
static mw_status mux_video(mw_rung *rung, AVPacket *packet) {
    AVRational time_base = rung->encoder->time_base;
    mw_status status = write_audio_until(rung, packet_time(packet, time_base));
    if (status != MW_OK) return status;
    int starts_segment = 0;
    if (rung->segment_s > 0 && (packet->flags & AV_PKT_FLAG_KEY)) {
        double time_s = packet->pts * av_q2d(time_base);
        double half_frame = 0.5 / av_q2d(rung->frame_rate);
        if (time_s >= rung->next_cut_s - half_frame) {
            starts_segment = rung->next_cut_s > 0 && !(time_s >= rung->tail_from_s && time_s <= rung->tail_to_s);
            while (rung->next_cut_s <= time_s + half_frame) rung->next_cut_s += rung->segment_s;
        }
    }
    status = mw_packager_write(&rung->packager, packet, 1, starts_segment, rung->message, sizeof(rung->message));
    if (status != MW_OK) rung->status = status;
    return status;
}

/* Video waits until the audio up to its decoding time has arrived (audio reaches the rung
 * later: it is demuxed in chunks and encoded first), so each segment gets its own audio. */
static mw_status flush_interleaved(mw_rung *rung, int final) {
    AVRational time_base = rung->encoder->time_base;
    int written = 0;
    mw_status status = MW_OK;
    while (written < rung->pending_video_count &&
           (final || rung->audio_received_s >= packet_time(rung->pending_video[written], time_base))) {
        status = mux_video(rung, rung->pending_video[written]);
        av_packet_free(&rung->pending_video[written]);
        written++;
        if (status != MW_OK) break;
    }
    memmove(rung->pending_video, rung->pending_video + written, (size_t)(rung->pending_video_count - written) * sizeof(AVPacket *));
    rung->pending_video_count -= written;
    if (status == MW_OK && final) status = write_audio_until(rung, INFINITY);
    return status;
}

static mw_status grow(mw_rung *rung, AVPacket ***list, int *count, int *capacity) {
    if (*count < *capacity) return MW_OK;
    int larger = *capacity ? *capacity * 2 : 64;
    AVPacket **grown = av_realloc_array(*list, larger, sizeof(*grown));
    if (!grown) return fail(rung, MW_E_OUT_OF_MEMORY, "out of memory", 0);
    *list = grown;
    *capacity = larger;
    return MW_OK;
}

static mw_status write_video(mw_rung *rung, AVPacket *packet) {
    if (packet->duration <= 0) packet->duration = 1;
    if (rung->packager.audio_stream < 0) return mux_video(rung, packet);
    mw_status status = grow(rung, &rung->pending_video, &rung->pending_video_count, &rung->pending_video_capacity);
    if (status != MW_OK) return status;
    AVPacket *copy = av_packet_clone(packet);
    if (!copy) return fail(rung, MW_E_OUT_OF_MEMORY, "out of memory", 0);
    rung->pending_video[rung->pending_video_count++] = copy;
    status = flush_interleaved(rung, 0);
    if (rung->pending_video_count > 0) {
        double held = packet_time(rung->pending_video[rung->pending_video_count - 1], rung->encoder->time_base) -
                      packet_time(rung->pending_video[0], rung->encoder->time_base);
        if (held > rung->audio_wait_peak_s) rung->audio_wait_peak_s = held;
    }
    return status;
}

static mw_status drain_encoder(mw_rung *rung) {
    for (;;) {
        int ret = avcodec_receive_packet(rung->encoder, rung->packet);
        if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF) return MW_OK;
        if (ret < 0) return fail(rung, MW_E_ENCODER_FAILED, "encoding failed", ret);
        /* Judged before it is written: the muxer may take the packet or change its timestamps. */
        if (rung->judge) {
            mw_status judged = mw_rung_judge_packet(rung->judge, rung->packet, rung->message, sizeof(rung->message));
            if (judged != MW_OK) {
                av_packet_unref(rung->packet);
                rung->status = judged;
                return judged;
            }
        }
        mw_status status = write_video(rung, rung->packet);
        av_packet_unref(rung->packet);
        if (status != MW_OK) return status;
    }
}

static mw_status encode_frame(mw_rung *rung, AVFrame *frame, const AVFrame *reference) {
    AVFrame *input = frame;
    if (frame->width != rung->width || frame->height != rung->height || frame->format != AV_PIX_FMT_YUV420P) {
        rung->scaler = sws_getCachedContext(rung->scaler, frame->width, frame->height, frame->format, rung->width, rung->height,
                                            AV_PIX_FMT_YUV420P, SWS_BICUBIC, NULL, NULL, NULL);
        if (!rung->scaler) return fail(rung, MW_E_INTERNAL, "no scaler for this picture format", 0);
        /* A new picture each time: the encoder and a smaller rung may still hold the last one. */
        av_frame_unref(rung->scaled);
        rung->scaled->format = AV_PIX_FMT_YUV420P;
        rung->scaled->width = rung->width;
        rung->scaled->height = rung->height;
        if (av_frame_get_buffer(rung->scaled, 0) < 0) return fail(rung, MW_E_OUT_OF_MEMORY, "out of memory", 0);
        sws_scale(rung->scaler, (const uint8_t *const *)frame->data, frame->linesize, 0, frame->height,
                  rung->scaled->data, rung->scaled->linesize);
        rung->scaled->pts = frame->pts;
        rung->scaled->pict_type = frame->pict_type;
        input = rung->scaled;
    }
    input->sample_aspect_ratio = (AVRational){1, 1};
    /* The next smaller rung scales from this picture, not from the source: fewer filter taps. */
    if (rung->child && mw_rung_push_frame(rung->child, input, reference) != MW_OK) {
        if (atomic_load(rung->abort)) return MW_E_CANCELED;
        return fail(rung, MW_E_OUT_OF_MEMORY, "cannot hand a frame to the next rung", 0);
    }
    if (rung->judge && reference) {
        mw_status expected = mw_rung_judge_expect(rung->judge, reference, rung->message, sizeof(rung->message));
        if (expected != MW_OK) return rung->status = expected;
    }
    int ret = avcodec_send_frame(rung->encoder, input);
    if (ret < 0) return fail(rung, MW_E_ENCODER_FAILED, "encoding failed", ret);
    return drain_encoder(rung);
}

/* Takes the packet: kept until the video it precedes is written. */
static mw_status keep_audio(mw_rung *rung, AVPacket *packet) {
    mw_status status = grow(rung, &rung->pending_audio, &rung->pending_count, &rung->pending_capacity);
    if (status != MW_OK) {
        av_packet_free(&packet);
        return status;
    }
    rung->audio_received_s = packet_time(packet, rung->audio_time_base);
    rung->pending_audio[rung->pending_count++] = packet;
    return flush_interleaved(rung, 0);
}

static void *rung_main(void *opaque) {
    mw_rung *rung = opaque;
    mw_rung_item item;
    while (rung->status == MW_OK && pop_item(rung, &item)) {
        if (item.frame) {
            mw_status status = encode_frame(rung, item.frame, item.reference);
            av_frame_free(&item.frame);
            av_frame_free(&item.reference);
            if (status == MW_E_CANCELED) break;
        } else if (item.audio) {
            keep_audio(rung, item.audio);
        } else if (item.watermark) {
            if (item.audio_until_s > rung->audio_received_s) {
                rung->audio_received_s = item.audio_until_s;
                flush_interleaved(rung, 0);
            }
        } else {
            int ret = avcodec_send_frame(rung->encoder, NULL);
            if (ret < 0) fail(rung, MW_E_ENCODER_FAILED, "encoding failed", ret);
            else if (drain_encoder(rung) == MW_OK && flush_interleaved(rung, 1) == MW_OK && rung->judge) {
                mw_status judged = mw_rung_judge_packet(rung->judge, NULL, rung->message, sizeof(rung->message));
                if (judged != MW_OK) rung->status = judged;
            }
            break;
        }
    }
    /* Whoever waits on this rung (the main thread, a larger rung) must wake up, whether this
     * rung failed or stopped for an abort raised elsewhere. */
    pthread_mutex_lock(&rung->lock);
    if (rung->status != MW_OK) atomic_store(rung->abort, 1);
    pthread_cond_broadcast(&rung->changed);
    pthread_mutex_unlock(&rung->lock);
    return NULL;
}

mw_status mw_rung_start(mw_rung *rung, double segment_s, double first_cut_s, AVRational audio_time_base, char *message, size_t message_size) {
    rung->segment_s = segment_s;
    rung->next_cut_s = first_cut_s;
    if (rung->tail_to_s <= rung->tail_from_s) rung->tail_from_s = rung->tail_to_s = INFINITY;
    rung->audio_received_s = -INFINITY;
    rung->audio_time_base = audio_time_base;
    if (pthread_mutex_init(&rung->lock, NULL) != 0) return mw_fail(message, message_size, MW_E_INTERNAL, "no mutex");
    if (pthread_cond_init(&rung->changed, NULL) != 0) {
        pthread_mutex_destroy(&rung->lock);
        return mw_fail(message, message_size, MW_E_INTERNAL, "no condition variable");
    }
    rung->sync_ready = 1;
    if (pthread_create(&rung->thread, NULL, rung_main, rung) != 0)
        return mw_fail(message, message_size, MW_E_INTERNAL, "cannot start an encoder thread");
    rung->thread_started = 1;
    return MW_OK;
}

void mw_rung_wake(mw_rung *rung) {
    if (!rung->sync_ready) return;
    pthread_mutex_lock(&rung->lock);
    pthread_cond_broadcast(&rung->changed);
    pthread_mutex_unlock(&rung->lock);
}

mw_status mw_rung_finish(mw_rung *rung, char *message, size_t message_size) {
    if (!rung->thread_started) return MW_OK;
    push_item(rung, (mw_rung_item){0});
    pthread_join(rung->thread, NULL);
    rung->thread_started = 0;
    if (rung->status != MW_OK) return mw_fail(message, message_size, rung->status, "%s", rung->message);
    return MW_OK;
}

void mw_rung_stop(mw_rung *rung) {
    if (!rung->thread_started) return;
    atomic_store(rung->abort, 1);
    mw_rung_wake(rung);
    pthread_join(rung->thread, NULL);
    rung->thread_started = 0;
}

void mw_rung_close(mw_rung *rung) {
    mw_rung_stop(rung);
    if (rung->sync_ready) {
        while (rung->count > 0) {
            item_free(&rung->items[rung->head]);
            rung->head = (rung->head + 1) % MW_RUNG_QUEUE_CAPACITY;
            rung->count--;
        }
        pthread_cond_destroy(&rung->changed);
        pthread_mutex_destroy(&rung->lock);
        rung->sync_ready = 0;
    }
    for (int i = 0; i < rung->pending_count; i++) av_packet_free(&rung->pending_audio[i]);
    av_freep(&rung->pending_audio);
    for (int i = 0; i < rung->pending_video_count; i++) av_packet_free(&rung->pending_video[i]);
    av_freep(&rung->pending_video);
    if (rung->judge) mw_rung_judge_close(rung->judge);
    av_freep(&rung->judge);
    mw_packager_close(&rung->packager);
    avcodec_free_context(&rung->encoder);
    sws_freeContext(rung->scaler);
    rung->scaler = NULL;
    av_frame_free(&rung->scaled);
    av_packet_free(&rung->packet);
}

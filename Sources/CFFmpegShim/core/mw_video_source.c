/* A decoded video stream of an untrusted input: open, read frames, seek. */
#include "core/mw_video_source.h"

#include <math.h>
#include <string.h>

mw_status mw_video_source_open(mw_video_source *source, const char *path, const mw_limits *limits,
                               mw_cancel_token *cancel, int keyframes_only, char *message, size_t message_size) {
    memset(source, 0, sizeof(*source));
    source->stream_index = -1;
    source->last_time = -1;
    mw_interrupt_init(&source->interrupt, cancel, limits ? limits->timeout_ms : 0);
    mw_status status = mw_open_input(path, limits, &source->interrupt, &source->format, message, message_size);
    if (status != MW_OK) return status;

    const AVCodec *codec = NULL;
    int index = av_find_best_stream(source->format, AVMEDIA_TYPE_VIDEO, -1, -1, &codec, 0);
    /* Cover art is a picture, not the video. */
    if (index >= 0 && (source->format->streams[index]->disposition & AV_DISPOSITION_ATTACHED_PIC)) index = -1;
    if (index < 0 || !codec) {
        mw_video_source_close(source);
        return mw_fail(message, message_size, MW_E_NO_MEDIA_STREAMS, "input has no video stream");
    }
    source->stream_index = index;
    source->stream = source->format->streams[index];
    for (unsigned i = 0; i < source->format->nb_streams; i++) {
        if ((int)i != index) source->format->streams[i]->discard = AVDISCARD_ALL;
    }
    /* Keyframes only: non-key packets are dropped before the decoder, which also skips
     * non-key frames (AVDISCARD_NONKEY). The stream's own discard flag is not used: FFmpeg
     * 5.1's MP4 demuxer then pairs the packets it keeps with the composition offsets of the
     * ones it dropped, and keyframe times come out a frame or two late (a test compares
     * them with ffprobe's). */
    source->keyframes_only = keyframes_only;

    source->decoder = avcodec_alloc_context3(codec);
    source->packet = av_packet_alloc();
    if (!source->decoder || !source->packet) {
        mw_video_source_close(source);
        return mw_fail(message, message_size, MW_E_OUT_OF_MEMORY, "out of memory");
    }
    int ret = avcodec_parameters_to_context(source->decoder, source->stream->codecpar);
    if (ret < 0) {
        mw_video_source_close(source);
        return mw_fail(message, message_size, MW_E_INTERNAL, "decoder parameters: %s", av_err2str(ret));
    }
    source->decoder->pkt_timebase = source->stream->time_base;
    source->decoder->max_pixels = limits ? limits->max_pixels : (int64_t)8192 * 8192;
    source->decoder->thread_count = 0; /* one per core */
    if (keyframes_only) source->decoder->skip_frame = AVDISCARD_NONKEY;
    ret = avcodec_open2(source->decoder, codec, NULL);
    if (ret < 0) {
        mw_video_source_close(source);
        return mw_fail(message, message_size, MW_E_INPUT_CORRUPT, "cannot open the %s decoder: %s", codec->name, av_err2str(ret));
    }
    source->rotation = mw_stream_rotation(source->stream);
    source->sar = av_guess_sample_aspect_ratio(source->format, source->stream, NULL);
    /* Real pixel shapes are within 1:4..4:1; anything beyond is a broken or hostile header. */
    if (source->sar.num <= 0 || source->sar.den <= 0 || av_q2d(source->sar) > 4 || av_q2d(source->sar) < 0.25)
        source->sar = (AVRational){1, 1};
    if (source->format->duration != AV_NOPTS_VALUE && source->format->duration > 0)
        source->duration_s = source->format->duration / (double)AV_TIME_BASE;
    else if (source->stream->duration != AV_NOPTS_VALUE)
        source->duration_s = source->stream->duration * av_q2d(source->stream->time_base);
    return MW_OK;
}

mw_status mw_video_source_next(mw_video_source *source, AVFrame *frame, int *end, char *message, size_t message_size) {
    *end = 0;
    for (;;) {
        int ret = avcodec_receive_frame(source->decoder, frame);
        if (ret == 0) return MW_OK;
        if (ret == AVERROR_EOF) { *end = 1; return MW_OK; }
        if (ret != AVERROR(EAGAIN))
            return mw_fail(message, message_size, MW_E_INPUT_CORRUPT, "video cannot be decoded: %s", av_err2str(ret));
        if (source->draining) { *end = 1; return MW_OK; }

        ret = av_read_frame(source->format, source->packet);
        if (ret == AVERROR_EOF || (ret < 0 && avio_feof(source->format->pb) && !source->interrupt.fired)) {
            source->draining = 1;
            avcodec_send_packet(source->decoder, NULL);
            continue;
        }
        if (ret < 0)
            return mw_fail(message, message_size, mw_status_from_averror(ret, &source->interrupt),
                           "input cannot be read: %s", av_err2str(ret));
        /* Non-key packets are dropped here rather than by the demuxer (see open). */
        int wanted = source->packet->stream_index == source->stream_index &&
                     (!source->keyframes_only || (source->packet->flags & AV_PKT_FLAG_KEY));
        if (wanted) {
            ret = avcodec_send_packet(source->decoder, source->packet);
            /* A damaged packet is skipped: the next keyframe recovers the picture. */
            if (ret < 0 && ret != AVERROR(EAGAIN) && ret != AVERROR_INVALIDDATA) {
                av_packet_unref(source->packet);
                return mw_fail(message, message_size, MW_E_INPUT_CORRUPT, "video cannot be decoded: %s", av_err2str(ret));
            }
        }
        av_packet_unref(source->packet);
        if (mw_interrupt_check(&source->interrupt))
            return mw_fail(message, message_size, (mw_status)source->interrupt.fired, "stopped");
    }
}

mw_status mw_video_source_seek(mw_video_source *source, double time_s, char *message, size_t message_size) {
    AVRational tb = source->stream->time_base;
    int64_t start = source->stream->start_time != AV_NOPTS_VALUE ? source->stream->start_time : 0;
    int64_t target = start + (int64_t)llround(time_s / av_q2d(tb));
    int ret = av_seek_frame(source->format, source->stream_index, target, AVSEEK_FLAG_BACKWARD);
    if (ret < 0) ret = av_seek_frame(source->format, source->stream_index, start, AVSEEK_FLAG_BACKWARD);
    if (ret < 0)
        return mw_fail(message, message_size, mw_status_from_averror(ret, &source->interrupt), "cannot seek: %s", av_err2str(ret));
    avcodec_flush_buffers(source->decoder);
    source->draining = 0;
    source->last_time = -1;
    return MW_OK;
}

double mw_video_source_time(const mw_video_source *source, const AVFrame *frame) {
    /* The packet's own pts when it has one: the best-effort guess drifts when frames are skipped. */
    int64_t pts = frame->pts != AV_NOPTS_VALUE ? frame->pts : frame->best_effort_timestamp;
    if (pts == AV_NOPTS_VALUE) return 0;
    int64_t start = source->stream->start_time != AV_NOPTS_VALUE ? source->stream->start_time : 0;
    return (pts - start) * av_q2d(source->stream->time_base);
}

void mw_video_source_close(mw_video_source *source) {
    avcodec_free_context(&source->decoder);
    av_packet_free(&source->packet);
    avformat_close_input(&source->format);
}

mw_status mw_video_source_frame_at(mw_video_source *source, double time_s, AVFrame *frame, AVFrame *scratch, double *frame_time,
                          char *message, size_t message_size) {
    /* When the keyframe before the time is at or behind what was decoded last (times asked
     * in order, within one GOP), decoding on is cheaper than seeking back to it. */
    int keep_going = 0;
    if (source->last_time >= 0 && time_s > source->last_time && !source->draining) {
        AVRational tb = source->stream->time_base;
        int64_t start = source->stream->start_time != AV_NOPTS_VALUE ? source->stream->start_time : 0;
        const AVIndexEntry *entry = avformat_index_get_entry_from_timestamp(
            source->stream, start + (int64_t)llround(time_s / av_q2d(tb)), AVSEEK_FLAG_BACKWARD);
        keep_going = entry && (entry->timestamp - start) * av_q2d(tb) <= source->last_time + 1e-6;
    }
    mw_status status = keep_going ? MW_OK : mw_video_source_seek(source, time_s, message, message_size);
    if (status != MW_OK) return status;
    int have = 0;
    double frame_duration = 0.5 / fmax(1, av_q2d(source->stream->avg_frame_rate));
    for (;;) {
        int end = 0;
        if ((status = mw_video_source_next(source, scratch, &end, message, message_size)) != MW_OK) return status;
        if (end) break;
        double t = mw_video_source_time(source, scratch);
        av_frame_unref(frame);
        av_frame_move_ref(frame, scratch);
        have = 1;
        *frame_time = t;
        source->last_time = t;
        if (t >= time_s - frame_duration) break;
    }
    if (!have) return mw_fail(message, message_size, MW_E_INPUT_CORRUPT, "no frame could be decoded near %.3f s", time_s);
    return MW_OK;
}

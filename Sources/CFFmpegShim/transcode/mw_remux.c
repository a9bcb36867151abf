/* HLS by stream copy: an H.264/AAC source packaged as it is, segments cut at its own IDR
 * frames. Taken only when the result is as good as an encode would give: upright, square
 * pixels, progressive, 8-bit 4:2:0, and keyframes close enough for segments within the target. */
#include "package/mw_packager.h"

#include <inttypes.h>
#include <math.h>
#include <string.h>
#include <libavutil/avstring.h>

typedef struct mw_keyframe_plan {
    int64_t *cuts;        /* decoding timestamps of the keyframes that start segments */
    int count;
} mw_keyframe_plan;

static int compare_int64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* Keyframe times from the container's index, or by reading the video packets once. */
static mw_status keyframe_times(AVFormatContext *format, AVStream *stream, mw_interrupt *interrupt,
                                int64_t **times, int *count, int64_t *end, char *message, size_t message_size) {
    int entries = avformat_index_get_entries_count(stream);
    int capacity = entries > 0 ? entries : 1024, used = 0;
    int64_t *list = av_malloc_array(capacity, sizeof(int64_t));
    if (!list) return mw_fail(message, message_size, MW_E_OUT_OF_MEMORY, "out of memory");
    *end = AV_NOPTS_VALUE;
    if (entries > 0) {
        for (int i = 0; i < entries; i++) {
            const AVIndexEntry *entry = avformat_index_get_entry(stream, i);
            if (entry && (entry->flags & AVINDEX_KEYFRAME)) list[used++] = entry->timestamp;
        }
        if (stream->duration != AV_NOPTS_VALUE)
            *end = (stream->start_time != AV_NOPTS_VALUE ? stream->start_time : 0) + stream->duration;
    } else {
        AVPacket *packet = av_packet_alloc();
        if (!packet) { av_free(list); return mw_fail(message, message_size, MW_E_OUT_OF_MEMORY, "out of memory"); }
        int ret;
        while ((ret = av_read_frame(format, packet)) >= 0) {
            if (packet->stream_index == stream->index) {
                int64_t dts = packet->dts != AV_NOPTS_VALUE ? packet->dts : packet->pts;
                if ((packet->flags & AV_PKT_FLAG_KEY) && dts != AV_NOPTS_VALUE) {
                    if (used == capacity) {
                        int64_t *grown = av_realloc_array(list, capacity * 2, sizeof(int64_t));
                        if (!grown) { av_packet_free(&packet); av_free(list); return mw_fail(message, message_size, MW_E_OUT_OF_MEMORY, "out of memory"); }
                        list = grown;
                        capacity *= 2;
                    }
                    list[used++] = dts;
                }
                if (dts != AV_NOPTS_VALUE && (*end == AV_NOPTS_VALUE || dts + packet->duration > *end)) *end = dts + packet->duration;
            }
            av_packet_unref(packet);
        }
        av_packet_free(&packet);
        if (ret != AVERROR_EOF && !avio_feof(format->pb)) {
            av_free(list);
            return mw_fail(message, message_size, mw_status_from_averror(ret, interrupt), "input cannot be read: %s", av_err2str(ret));
        }
        ret = av_seek_frame(format, -1, 0, AVSEEK_FLAG_BACKWARD);
        if (ret < 0) ret = avformat_seek_file(format, -1, INT64_MIN, 0, INT64_MAX, 0);
        if (ret < 0) {
            av_free(list);
            return mw_fail(message, message_size, MW_E_COPY_NOT_POSSIBLE, "the input cannot be read a second time: %s", av_err2str(ret));
        }
    }
    qsort(list, used, sizeof(int64_t), compare_int64);
    *times = list;
    *count = used;
    return MW_OK;
}

/* Greedy: a keyframe starts a segment once the segment has reached the target, or when
 * waiting for the next keyframe would run over it. Fails when a segment cannot stay within
 * target + 0.5 s. */
static mw_status plan_cuts(const int64_t *keys, int count, int64_t end, AVRational time_base, double target_s,
                           mw_keyframe_plan *plan, char *message, size_t message_size) {
    if (count == 0) return mw_fail(message, message_size, MW_E_COPY_NOT_POSSIBLE, "the video has no keyframes");
    plan->cuts = av_malloc_array(count, sizeof(int64_t));
    if (!plan->cuts) return mw_fail(message, message_size, MW_E_OUT_OF_MEMORY, "out of memory");
    double tb = av_q2d(time_base);
    double limit = target_s + 0.5;
    plan->cuts[0] = keys[0];
    plan->count = 1;
    int64_t start = keys[0];
    for (int i = 1; i < count; i++) {
        int64_t next = i + 1 < count ? keys[i + 1] : end;
        if ((keys[i] - start) * tb >= target_s - 1e-3 || (next != AV_NOPTS_VALUE && (next - start) * tb > limit)) {
            if ((keys[i] - start) * tb > limit)
                return mw_fail(message, message_size, MW_E_COPY_NOT_POSSIBLE,
                               "keyframes %.2f s apart do not allow %.0f s segments", (keys[i] - start) * tb, target_s);
            plan->cuts[plan->count++] = keys[i];
            start = keys[i];
        }
    }
    if (end != AV_NOPTS_VALUE && (end - start) * tb > limit)
        return mw_fail(message, message_size, MW_E_COPY_NOT_POSSIBLE, "the last keyframe is %.2f s before the end", (end - start) * tb);
    return MW_OK;
}

static mw_status check_copyable(AVFormatContext *format, int video, int audio, const mw_video_rung *rung,
                                const mw_encode_settings *settings, char *message, size_t message_size) {
    if (video < 0) return mw_fail(message, message_size, MW_E_COPY_NOT_POSSIBLE, "no video stream");
    AVStream *stream = format->streams[video];
    const AVCodecParameters *par = stream->codecpar;
    if (rung && rung->codec != MW_CODEC_H264)
        return mw_fail(message, message_size, MW_E_COPY_NOT_POSSIBLE, "stream copy makes H.264 rungs only");
    if (rung) {
        int box_long = rung->max_width > rung->max_height ? rung->max_width : rung->max_height;
        int box_short = rung->max_width > rung->max_height ? rung->max_height : rung->max_width;
        int source_long = par->width > par->height ? par->width : par->height;
        int source_short = par->width > par->height ? par->height : par->width;
        if ((box_long > 0 && source_long > box_long) || (box_short > 0 && source_short > box_short))
            return mw_fail(message, message_size, MW_E_COPY_NOT_POSSIBLE, "%dx%d does not fit the rung's %dx%d box",
                           par->width, par->height, rung->max_width, rung->max_height);
    }
    if (settings && settings->max_fps > 0 && stream->avg_frame_rate.num > 0 && av_q2d(stream->avg_frame_rate) > settings->max_fps + 0.01)
        return mw_fail(message, message_size, MW_E_COPY_NOT_POSSIBLE, "%.3f fps is over the cap", av_q2d(stream->avg_frame_rate));
    if (par->codec_id != AV_CODEC_ID_H264) return mw_fail(message, message_size, MW_E_COPY_NOT_POSSIBLE, "video is %s, not H.264", avcodec_get_name(par->codec_id));
    if (par->format != AV_PIX_FMT_YUV420P && par->format != AV_PIX_FMT_YUVJ420P)
        return mw_fail(message, message_size, MW_E_COPY_NOT_POSSIBLE, "video is not 8-bit 4:2:0");
    if (par->field_order > AV_FIELD_PROGRESSIVE) return mw_fail(message, message_size, MW_E_COPY_NOT_POSSIBLE, "video is interlaced");
    if (mw_stream_rotation(stream) != 0) return mw_fail(message, message_size, MW_E_COPY_NOT_POSSIBLE, "video must be turned upright");
    AVRational average = stream->avg_frame_rate, real = stream->r_frame_rate;
    if (average.num > 0 && real.num > 0 && fabs(av_q2d(average) / av_q2d(real) - 1) > 0.01)
        return mw_fail(message, message_size, MW_E_COPY_NOT_POSSIBLE, "the frame rate varies");
    AVRational sar = av_guess_sample_aspect_ratio(format, stream, NULL);
    if (sar.num > 0 && sar.den > 0 && sar.num != sar.den) return mw_fail(message, message_size, MW_E_COPY_NOT_POSSIBLE, "pixels are not square");
    if (!par->extradata_size || par->extradata[0] != 1)
        return mw_fail(message, message_size, MW_E_COPY_NOT_POSSIBLE, "video has no avcC parameter sets");
    if (audio >= 0 && format->streams[audio]->codecpar->codec_id != AV_CODEC_ID_AAC)
        return mw_fail(message, message_size, MW_E_COPY_NOT_POSSIBLE, "audio is %s, not AAC",
                       avcodec_get_name(format->streams[audio]->codecpar->codec_id));
    return MW_OK;
}

mw_status mw_package_hls_copy(const char *input, const char *output_dir, const mw_video_rung *rung,
                              const mw_encode_settings *settings, const mw_hls_settings *hls_in,
                              const mw_limits *limits_in, mw_cancel_token *cancel,
                              mw_progress_callback on_progress, void *user, mw_package_result *result,
                              char *message, size_t message_size) {
    if (!input || !output_dir || !result) return mw_fail(message, message_size, MW_E_INVALID_ARGUMENT, "missing input, output or result");
    mw_hls_settings hls;
    if (hls_in) hls = *hls_in; else mw_hls_settings_init_default(&hls);
    if (hls.target_duration_s < 1 || hls.target_duration_s > 60)
        return mw_fail(message, message_size, MW_E_INVALID_ARGUMENT, "target_duration_s must be in [1, 60]");
    mw_limits limits;
    if (limits_in) limits = *limits_in; else mw_limits_init_default(&limits);
    memset(result, 0, sizeof(*result));

    mw_interrupt interrupt;
    mw_interrupt_init(&interrupt, cancel, limits.timeout_ms);
    AVFormatContext *format = NULL;
    AVPacket *packet = NULL;
    int64_t *keys = NULL;
    mw_keyframe_plan plan = {0};
    mw_packager packager;
    int packager_open = 0;
    char *location = NULL;
    mw_status status = mw_open_input(input, &limits, &interrupt, &format, message, message_size);
    if (status != MW_OK) return status;

    int video = av_find_best_stream(format, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);
    if (video >= 0 && (format->streams[video]->disposition & AV_DISPOSITION_ATTACHED_PIC)) video = -1;
    int audio = av_find_best_stream(format, AVMEDIA_TYPE_AUDIO, -1, -1, NULL, 0);
    if ((status = check_copyable(format, video, audio, rung, settings, message, message_size)) != MW_OK) goto end;
    for (unsigned i = 0; i < format->nb_streams; i++)
        if ((int)i != video && (int)i != audio) format->streams[i]->discard = AVDISCARD_ALL;
    AVStream *video_stream = format->streams[video];
    AVStream *audio_stream = audio >= 0 ? format->streams[audio] : NULL;
    int length_size = (video_stream->codecpar->extradata[4] & 3) + 1;

    int key_count = 0;
    int64_t end_dts = AV_NOPTS_VALUE;
    if ((status = keyframe_times(format, video_stream, &interrupt, &keys, &key_count, &end_dts, message, message_size)) != MW_OK) goto end;
    if ((status = plan_cuts(keys, key_count, end_dts, video_stream->time_base, hls.target_duration_s, &plan, message, message_size)) != MW_OK) goto end;

    /* The audio stays muxed with the one variant: a copy has nothing to share between rungs. */
    location = av_asprintf("%s/%dp", output_dir, video_stream->codecpar->height);
    if (!location) { status = mw_fail(message, message_size, MW_E_OUT_OF_MEMORY, "out of memory"); goto end; }
    status = mw_packager_open(&packager, hls.segment_format == MW_SEGMENTS_TS ? MW_PACKAGE_HLS_TS : MW_PACKAGE_HLS_FMP4, location,
                              video_stream->codecpar, video_stream->time_base,
                              audio_stream ? audio_stream->codecpar : NULL, audio_stream ? audio_stream->time_base : (AVRational){1, 1},
                              message, message_size);
    packager_open = 1;
    packager.timeline_offset_s = MW_HLS_TIMELINE_OFFSET_S;
    if (status == MW_OK) status = mw_packager_start(&packager, message, message_size);
    if (status != MW_OK) goto end;

    packet = av_packet_alloc();
    if (!packet) { status = mw_fail(message, message_size, MW_E_OUT_OF_MEMORY, "out of memory"); goto end; }
    int64_t origin_us = format->start_time != AV_NOPTS_VALUE ? format->start_time : 0;
    double duration_s = format->duration > 0 ? format->duration / (double)AV_TIME_BASE : 0;
    int next_cut = 0;
    double reported = 0;
    for (;;) {
        if (mw_interrupt_check(&interrupt)) { status = mw_fail(message, message_size, (mw_status)interrupt.fired, "stopped"); goto end; }
        int ret = av_read_frame(format, packet);
        if (ret == AVERROR_EOF || (ret < 0 && avio_feof(format->pb) && !interrupt.fired)) break;
        if (ret < 0) {
            status = mw_fail(message, message_size, mw_status_from_averror(ret, &interrupt), "input cannot be read: %s", av_err2str(ret));
            goto end;
        }
        int is_video = packet->stream_index == video;
        if (!is_video && packet->stream_index != audio) { av_packet_unref(packet); continue; }
        AVStream *stream = format->streams[packet->stream_index];
        int starts_segment = 0;
        if (is_video && (packet->flags & AV_PKT_FLAG_KEY) && next_cut < plan.count) {
            int64_t dts = packet->dts != AV_NOPTS_VALUE ? packet->dts : packet->pts;
            if (dts >= plan.cuts[next_cut]) {
                if (!mw_h264_packet_is_idr(packet->data, packet->size, length_size)) {
                    status = mw_fail(message, message_size, MW_E_COPY_NOT_POSSIBLE, "a segment would start with a keyframe that is not an IDR");
                    goto end;
                }
                starts_segment = next_cut > 0;
                while (next_cut < plan.count && plan.cuts[next_cut] <= dts) next_cut++;
            }
        }
        int64_t origin = av_rescale_q(origin_us, AV_TIME_BASE_Q, stream->time_base);
        if (packet->pts != AV_NOPTS_VALUE) packet->pts -= origin;
        if (packet->dts != AV_NOPTS_VALUE) packet->dts -= origin;
        if (duration_s > 0 && on_progress && packet->pts != AV_NOPTS_VALUE) {
            double fraction = packet->pts * av_q2d(stream->time_base) / duration_s * 0.99;
            if (fraction >= reported + 0.01) { reported = fraction; on_progress(user, fraction); }
        }
        int64_t dts = packet->dts != AV_NOPTS_VALUE ? packet->dts : packet->pts;
        if (dts != AV_NOPTS_VALUE && dts * av_q2d(stream->time_base) < -MW_HLS_TIMELINE_OFFSET_S) {
            status = mw_fail(message, message_size, MW_E_COPY_NOT_POSSIBLE, "the source's decoding delay is over %.1f s", MW_HLS_TIMELINE_OFFSET_S);
            goto end;
        }
        status = mw_packager_write(&packager, packet, is_video, starts_segment, message, message_size);
        av_packet_unref(packet);
        if (status != MW_OK) goto end;
    }
    if ((status = mw_packager_finish(&packager, message, message_size)) != MW_OK) goto end;
    {
        mw_rendition_info *info = &result->renditions[0];
        mw_packager_describe(&packager, info);
        info->kind = MW_RENDITION_VIDEO;
        info->width = video_stream->codecpar->width;
        info->height = video_stream->codecpar->height;
        AVRational rate = video_stream->avg_frame_rate.num > 0 ? video_stream->avg_frame_rate : video_stream->r_frame_rate;
        info->fps_num = rate.num;
        info->fps_den = rate.den;
        info->audio_channels = audio_stream ? audio_stream->codecpar->ch_layout.nb_channels : 0;
        snprintf(info->playlist, sizeof(info->playlist), "%dp/index.m3u8", info->height);
        snprintf(info->iframe_playlist, sizeof(info->iframe_playlist), "%dp/iframes.m3u8", info->height);
        result->rendition_count = 1;
        result->duration_s = info->duration_s;
        result->stream_copied = 1;
        result->timeline_offset_s = packager.timeline_offset_s;
        if (on_progress) on_progress(user, 1);
    }
end:
    if (packager_open) mw_packager_close(&packager);
    av_packet_free(&packet);
    av_free(location);
    av_free(keys);
    av_free(plan.cuts);
    avformat_close_input(&format);
    return status;
}

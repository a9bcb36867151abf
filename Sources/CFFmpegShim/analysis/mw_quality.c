/* The quality report: segments of a package against the source they came from. The source goes
 * through the transcode's own decoding chain again (so frames line up one for one), is scaled
 * to each rendition's size, and each pair of frames goes through libavfilter's psnr and ssim, whose
 * per-frame values are summed per segment (the caller averages, as the filters' own summaries do). */
#include "core/mw_decode_chain.h"
#include "core/mw_internal.h"
#include <libavfilter/buffersink.h>
#include <libavfilter/buffersrc.h>
#include <libavutil/opt.h>
#include <libswscale/swscale.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct quality_target {
    const mw_quality_target *spec;
    AVFormatContext *format;        /* the segment being read */
    AVCodecContext *decoder;
    int stream_index;
    AVPacket *packet;
    AVFrame *decoded;               /* the rendition's current frame, when `has_decoded` */
    int has_decoded, flushed, ended;
    int64_t decoded_index;          /* its frame number in output time */
    struct SwsContext *ref_scaler, *dist_scaler;
    AVFrame *ref, *dist;
    AVFilterGraph *graph;
    AVFilterContext *dist_source, *ref_source, *psnr_sink, *ssim_sink;
    AVFrame *measured;
    mw_quality_sample *sample;      /* of the segment being read */
} quality_target;

typedef struct quality_job {
    AVFormatContext *format;        /* the source */
    int video_index;
    AVRational rate;
    int64_t origin;
    const mw_limits *limits;
    mw_interrupt interrupt;
    double timeline_offset_s;
    const char *package_dir;
    int fmp4;
    int psnr_only;
    quality_target targets[MW_MAX_RENDITIONS];
    int target_count;
    double start_s, end_s;          /* the segment being measured */
    int segment_done;
} quality_job;

static int64_t frame_number(double time_s, AVRational rate) { return llround(time_s * av_q2d(rate)); }

static void close_segment(quality_target *target) {
    avfilter_graph_free(&target->graph);
    avcodec_free_context(&target->decoder);
    avformat_close_input(&target->format);
    target->has_decoded = target->flushed = target->ended = 0;
}

static mw_status open_graph(quality_job *job, quality_target *target, char *message, size_t message_size) {
    char args[256];
    snprintf(args, sizeof(args), "video_size=%dx%d:pix_fmt=%d:time_base=%d/%d:pixel_aspect=1/1", target->spec->width,
             target->spec->height, AV_PIX_FMT_YUV420P, job->rate.den, job->rate.num);
    target->graph = avfilter_graph_alloc();
    if (!target->graph) return mw_fail(message, message_size, MW_E_OUT_OF_MEMORY, "out of memory");
    target->graph->nb_threads = 1;
    const AVFilter *buffer = avfilter_get_by_name("buffer"), *sink = avfilter_get_by_name("buffersink");
    int ret = avfilter_graph_create_filter(&target->dist_source, buffer, "dist", args, NULL, target->graph);
    if (ret >= 0) ret = avfilter_graph_create_filter(&target->ref_source, buffer, "ref", args, NULL, target->graph);
    if (ret >= 0) ret = avfilter_graph_create_filter(&target->psnr_sink, sink, "psnr_out", NULL, NULL, target->graph);
    if (ret >= 0 && !job->psnr_only) ret = avfilter_graph_create_filter(&target->ssim_sink, sink, "ssim_out", NULL, NULL, target->graph);
    if (job->psnr_only) target->ssim_sink = NULL;
    AVFilterInOut *dist = avfilter_inout_alloc(), *ref = avfilter_inout_alloc();
    AVFilterInOut *psnr = avfilter_inout_alloc(), *ssim = avfilter_inout_alloc();
    if (ret >= 0 && (!dist || !ref || !psnr || !ssim)) ret = AVERROR(ENOMEM);
    if (ret >= 0) {
        /* The graph's open ends: our two sources feed it, our two sinks read it. */
        *dist = (AVFilterInOut){av_strdup("dist"), target->dist_source, 0, ref};
        *ref = (AVFilterInOut){av_strdup("ref"), target->ref_source, 0, NULL};
        *psnr = (AVFilterInOut){av_strdup("psnr_out"), target->psnr_sink, 0, job->psnr_only ? NULL : ssim};
        *ssim = (AVFilterInOut){av_strdup("ssim_out"), target->ssim_sink, 0, NULL};
        AVFilterInOut *outputs = dist, *inputs = psnr;
        dist = ref = psnr = NULL;
        if (!job->psnr_only) ssim = NULL;
        ret = avfilter_graph_parse_ptr(target->graph,
                                       /* Luma only: the report reads Y, and U and V would add half the work. */
                                       job->psnr_only ? "[dist]extractplanes=y[dy];[ref]extractplanes=y[ry];[dy][ry]psnr[psnr_out]"
                                                      : "[dist]extractplanes=y,split[d1][d2];[ref]extractplanes=y,split[r1][r2];"
                                                        "[d1][r1]psnr[psnr_out];[d2][r2]ssim[ssim_out]",
                                       &inputs, &outputs, NULL);
        avfilter_inout_free(&inputs);
        avfilter_inout_free(&outputs);
    }
    avfilter_inout_free(&dist);
    avfilter_inout_free(&ref);
    avfilter_inout_free(&psnr);
    avfilter_inout_free(&ssim);
    if (ret >= 0) ret = avfilter_graph_config(target->graph, NULL);
    if (ret < 0) return mw_fail(message, message_size, MW_E_INTERNAL, "cannot set up the psnr/ssim filters: %s", av_err2str(ret));
    return MW_OK;
}

/* Opens one segment of a rendition (behind its init segment for fMP4) and its decoder. */
static mw_status open_segment(quality_job *job, quality_target *target, const mw_quality_segment *segment,
                              char *message, size_t message_size) {
    char url[2048];
    if (job->fmp4)
        snprintf(url, sizeof(url), "concat:%s/%s/init.mp4|%s/%s/%s", job->package_dir, target->spec->folder, job->package_dir,
                 target->spec->folder, segment->name);
    else
        snprintf(url, sizeof(url), "%s/%s/%s", job->package_dir, target->spec->folder, segment->name);
    AVDictionary *options = NULL;
    av_dict_set(&options, "protocol_whitelist", "concat,file", 0);
    int ret = avformat_open_input(&target->format, url, NULL, &options);
    av_dict_free(&options);
    if (ret < 0) return mw_fail(message, message_size, MW_E_INPUT_UNREADABLE, "cannot open %s/%s: %s", target->spec->folder, segment->name, av_err2str(ret));
    if ((ret = avformat_find_stream_info(target->format, NULL)) < 0)
        return mw_fail(message, message_size, MW_E_INPUT_CORRUPT, "cannot read %s/%s: %s", target->spec->folder, segment->name, av_err2str(ret));
    target->stream_index = av_find_best_stream(target->format, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);
    if (target->stream_index < 0)
        return mw_fail(message, message_size, MW_E_NO_MEDIA_STREAMS, "%s/%s has no video", target->spec->folder, segment->name);
    AVStream *stream = target->format->streams[target->stream_index];
    const AVCodec *codec = avcodec_find_decoder(stream->codecpar->codec_id);
    if (!codec) return mw_fail(message, message_size, MW_E_INTERNAL, "no decoder for %s", avcodec_get_name(stream->codecpar->codec_id));
    target->decoder = avcodec_alloc_context3(codec);
    if (!target->decoder) return mw_fail(message, message_size, MW_E_OUT_OF_MEMORY, "out of memory");
    if ((ret = avcodec_parameters_to_context(target->decoder, stream->codecpar)) < 0)
        return mw_fail(message, message_size, MW_E_INTERNAL, "decoder parameters: %s", av_err2str(ret));
    target->decoder->pkt_timebase = stream->time_base;
    target->decoder->thread_count = 1;
    if ((ret = avcodec_open2(target->decoder, codec, NULL)) < 0)
        return mw_fail(message, message_size, MW_E_INTERNAL, "cannot open the %s decoder: %s", codec->name, av_err2str(ret));
    return open_graph(job, target, message, message_size);
}

/* Moves the rendition to its next decoded frame; sets `ended` after the last. */
static mw_status decode_next(quality_job *job, quality_target *target, char *message, size_t message_size) {
    target->has_decoded = 0;
    for (;;) {
        av_frame_unref(target->decoded);
        int ret = avcodec_receive_frame(target->decoder, target->decoded);
        if (ret >= 0) {
            AVStream *stream = target->format->streams[target->stream_index];
            int64_t ts = target->decoded->best_effort_timestamp != AV_NOPTS_VALUE ? target->decoded->best_effort_timestamp : target->decoded->pts;
            target->decoded_index = frame_number(ts * av_q2d(stream->time_base) - job->timeline_offset_s, job->rate);
            target->has_decoded = 1;
            return MW_OK;
        }
        if (ret == AVERROR_EOF) {
            target->ended = 1;
            return MW_OK;
        }
        if (ret != AVERROR(EAGAIN)) return mw_fail(message, message_size, MW_E_INPUT_CORRUPT, "%s cannot be decoded: %s", target->spec->folder, av_err2str(ret));
        if (target->flushed) {
            target->ended = 1;
            return MW_OK;
        }
        ret = av_read_frame(target->format, target->packet);
        if (ret < 0) {
            avcodec_send_packet(target->decoder, NULL);
            target->flushed = 1;
            continue;
        }
        if (target->packet->stream_index == target->stream_index) ret = avcodec_send_packet(target->decoder, target->packet);
        av_packet_unref(target->packet);
        if (ret < 0 && ret != AVERROR(EAGAIN)) return mw_fail(message, message_size, MW_E_INPUT_CORRUPT, "%s cannot be decoded: %s", target->spec->folder, av_err2str(ret));
    }
}

static double metadata_value(const AVFrame *frame, const char *key) {
    const AVDictionaryEntry *entry = av_dict_get(frame->metadata, key, NULL, 0);
    return entry ? strtod(entry->value, NULL) : NAN;
}

/* Takes what the filters measured: psnr's frames carry the MSE, ssim's the SSIM. */
static mw_status collect(quality_target *target, char *message, size_t message_size) {
    int ret;
    while ((ret = av_buffersink_get_frame(target->psnr_sink, target->measured)) >= 0) {
        double mse = metadata_value(target->measured, "lavfi.psnr.mse.y");
        av_frame_unref(target->measured);
        if (isnan(mse)) return mw_fail(message, message_size, MW_E_INTERNAL, "psnr gave no luma MSE");
        target->sample->mse_y_sum += mse;
        target->sample->frames++;
    }
    if (ret != AVERROR(EAGAIN) && ret != AVERROR_EOF) return mw_fail(message, message_size, MW_E_INTERNAL, "psnr failed: %s", av_err2str(ret));
    if (!target->ssim_sink) return MW_OK;
    while ((ret = av_buffersink_get_frame(target->ssim_sink, target->measured)) >= 0) {
        double ssim = metadata_value(target->measured, "lavfi.ssim.Y");
        av_frame_unref(target->measured);
        if (isnan(ssim)) return mw_fail(message, message_size, MW_E_INTERNAL, "ssim gave no luma value");
        target->sample->ssim_y_sum += ssim;
    }
    if (ret != AVERROR(EAGAIN) && ret != AVERROR_EOF) return mw_fail(message, message_size, MW_E_INTERNAL, "ssim failed: %s", av_err2str(ret));
    return MW_OK;
}

/* Scales `from` into `to` (allocated here) at the target's size in 8-bit 4:2:0. */
static mw_status convert(struct SwsContext **scaler, const AVFrame *from, AVFrame *to, int width, int height,
                         char *message, size_t message_size) {
    av_frame_unref(to);
    if (from->width == width && from->height == height && from->format == AV_PIX_FMT_YUV420P) {
        /* Already the picture wanted: shared, not copied. */
        if (av_frame_ref(to, from) < 0) return mw_fail(message, message_size, MW_E_OUT_OF_MEMORY, "out of memory");
        return MW_OK;
    }
    *scaler = sws_getCachedContext(*scaler, from->width, from->height, from->format, width, height, AV_PIX_FMT_YUV420P,
                                   SWS_BICUBIC, NULL, NULL, NULL);
    if (!*scaler) return mw_fail(message, message_size, MW_E_INTERNAL, "no scaler for this picture format");
    to->format = AV_PIX_FMT_YUV420P;
    to->width = width;
    to->height = height;
    if (av_frame_get_buffer(to, 0) < 0) return mw_fail(message, message_size, MW_E_OUT_OF_MEMORY, "out of memory");
    sws_scale(*scaler, (const uint8_t *const *)from->data, from->linesize, 0, from->height, to->data, to->linesize);
    return MW_OK;
}

/* A source frame of the segment: compared with each rendition's frame of the same number. */
static mw_status compare_frame(void *opaque, AVFrame *frame, char *message, size_t message_size) {
    quality_job *job = opaque;
    if (mw_interrupt_check(&job->interrupt))
        return mw_fail(message, message_size, (mw_status)job->interrupt.fired, job->interrupt.fired == MW_E_CANCELED ? "canceled" : "timed out");
    double frame_s = 1 / av_q2d(job->rate);
    double time_s = frame->pts * frame_s;
    if (time_s < job->start_s - frame_s / 2) return MW_OK;
    if (time_s >= job->end_s - frame_s / 2) {
        job->segment_done = 1;
        return MW_OK;
    }
    int64_t number = frame->pts;
    for (int i = 0; i < job->target_count; i++) {
        quality_target *target = &job->targets[i];
        mw_status status = MW_OK;
        while (status == MW_OK && !target->ended && (!target->has_decoded || target->decoded_index < number))
            status = decode_next(job, target, message, message_size);
        if (status != MW_OK) return status;
        if (!target->has_decoded || target->decoded_index != number) continue;
        status = convert(&target->ref_scaler, frame, target->ref, target->spec->width, target->spec->height, message, message_size);
        const AVFrame *dist = target->decoded;
        if (status == MW_OK && (dist->format != AV_PIX_FMT_YUV420P || dist->width != target->spec->width || dist->height != target->spec->height)) {
            status = convert(&target->dist_scaler, dist, target->dist, target->spec->width, target->spec->height, message, message_size);
            dist = target->dist;
        }
        if (status != MW_OK) return status;
        target->ref->pts = number;
        AVFrame *dist_copy = av_frame_clone(dist);
        if (!dist_copy) return mw_fail(message, message_size, MW_E_OUT_OF_MEMORY, "out of memory");
        dist_copy->pts = number;
        dist_copy->sample_aspect_ratio = target->ref->sample_aspect_ratio = (AVRational){1, 1};
        int ret = av_buffersrc_add_frame_flags(target->dist_source, dist_copy, 0);
        av_frame_free(&dist_copy);
        if (ret >= 0) ret = av_buffersrc_add_frame_flags(target->ref_source, target->ref, 0);
        if (ret < 0) return mw_fail(message, message_size, MW_E_INTERNAL, "cannot compare frames: %s", av_err2str(ret));
        if ((status = collect(target, message, message_size)) != MW_OK) return status;
    }
    return MW_OK;
}

/* Decodes the source over one segment's time, from the keyframe before it (half a second of
 * margin for timestamps that reorder around the start; more would only add decoding). */
static mw_status measure_segment(quality_job *job, const mw_quality_segment *segment, char *message, size_t message_size) {
    job->start_s = segment->start_s;
    job->end_s = segment->end_s;
    job->segment_done = 0;
    AVStream *stream = job->format->streams[job->video_index];
    int64_t origin_ts = av_rescale_q(job->origin, AV_TIME_BASE_Q, stream->time_base);
    int64_t target = origin_ts + av_rescale_q((int64_t)((segment->start_s - 0.5) * AV_TIME_BASE), AV_TIME_BASE_Q, stream->time_base);
    int ret = av_seek_frame(job->format, job->video_index, segment->start_s > 0 ? target : origin_ts, AVSEEK_FLAG_BACKWARD);
    if (ret < 0) ret = av_seek_frame(job->format, job->video_index, origin_ts, AVSEEK_FLAG_BACKWARD);
    if (ret < 0) return mw_fail(message, message_size, MW_E_INPUT_CORRUPT, "cannot seek to %.3f s: %s", segment->start_s, av_err2str(ret));
    mw_video_chain chain;
    mw_status status = mw_video_chain_open(&chain, job->format, job->video_index, job->origin, job->rate, segment->start_s,
                                           job->limits, 2, message, message_size);
    AVPacket *packet = av_packet_alloc();
    if (status == MW_OK && !packet) status = mw_fail(message, message_size, MW_E_OUT_OF_MEMORY, "out of memory");
    while (status == MW_OK && !job->segment_done) {
        ret = av_read_frame(job->format, packet);
        if (ret < 0) {
            if (job->interrupt.fired) status = mw_fail(message, message_size, (mw_status)job->interrupt.fired, "canceled or timed out");
            else status = mw_video_chain_send(&chain, NULL, compare_frame, job, message, message_size);
            break;
        }
        if (packet->stream_index == job->video_index) status = mw_video_chain_send(&chain, packet, compare_frame, job, message, message_size);
        av_packet_unref(packet);
    }
    av_packet_free(&packet);
    mw_video_chain_close(&chain);
    /* The rest of what the filters hold. */
    for (int i = 0; status == MW_OK && i < job->target_count; i++) {
        quality_target *t = &job->targets[i];
        if (av_buffersrc_add_frame(t->dist_source, NULL) < 0 || av_buffersrc_add_frame(t->ref_source, NULL) < 0)
            status = mw_fail(message, message_size, MW_E_INTERNAL, "cannot end the comparison");
        else
            status = collect(t, message, message_size);
    }
    return status;
}

mw_status mw_measure_quality(const char *input, const char *package_dir, const mw_quality_target *targets, int32_t target_count,
                             const mw_quality_segment *segments, int32_t segment_count, double max_fps, double timeline_offset_s,
                             int32_t fmp4, int32_t psnr_only, const mw_limits *limits, mw_cancel_token *cancel,
                             mw_quality_sample *samples, char *message, size_t message_size) {
    if (!input || !package_dir || !targets || !segments || !samples || !limits || target_count < 1 || target_count > MW_MAX_RENDITIONS
        || segment_count < 0)
        return mw_fail(message, message_size, MW_E_INVALID_ARGUMENT, "bad arguments");
    for (int i = 0; i < target_count; i++)
        if (targets[i].width < 2 || targets[i].height < 2 || targets[i].width > 16384 || targets[i].height > 16384)
            return mw_fail(message, message_size, MW_E_INVALID_ARGUMENT, "target %d has no usable size", i);
    memset(samples, 0, sizeof(*samples) * (size_t)target_count * (size_t)segment_count);
    quality_job job;
    memset(&job, 0, sizeof(job));
    job.limits = limits;
    job.timeline_offset_s = timeline_offset_s;
    job.package_dir = package_dir;
    job.fmp4 = fmp4;
    job.psnr_only = psnr_only;
    job.target_count = target_count;
    mw_interrupt_init(&job.interrupt, cancel, limits->timeout_ms);
    mw_status status = mw_open_input(input, limits, &job.interrupt, &job.format, message, message_size);
    if (status == MW_OK) {
        job.video_index = av_find_best_stream(job.format, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);
        if (job.video_index < 0) status = mw_fail(message, message_size, MW_E_NO_MEDIA_STREAMS, "input has no video");
    }
    if (status == MW_OK) {
        for (unsigned i = 0; i < job.format->nb_streams; i++)
            if ((int)i != job.video_index) job.format->streams[i]->discard = AVDISCARD_ALL;
        job.origin = job.format->start_time != AV_NOPTS_VALUE ? job.format->start_time : 0;
        job.rate = mw_choose_frame_rate(job.format->streams[job.video_index], max_fps);
    }
    for (int i = 0; status == MW_OK && i < target_count; i++) {
        quality_target *target = &job.targets[i];
        target->spec = &targets[i];
        target->packet = av_packet_alloc();
        target->decoded = av_frame_alloc();
        target->ref = av_frame_alloc();
        target->dist = av_frame_alloc();
        target->measured = av_frame_alloc();
        if (!target->packet || !target->decoded || !target->ref || !target->dist || !target->measured)
            status = mw_fail(message, message_size, MW_E_OUT_OF_MEMORY, "out of memory");
    }
    for (int s = 0; status == MW_OK && s < segment_count; s++) {
        for (int i = 0; status == MW_OK && i < target_count; i++) {
            job.targets[i].sample = &samples[(size_t)i * (size_t)segment_count + (size_t)s];
            status = open_segment(&job, &job.targets[i], &segments[s], message, message_size);
        }
        if (status == MW_OK) status = measure_segment(&job, &segments[s], message, message_size);
        for (int i = 0; i < target_count; i++) close_segment(&job.targets[i]);
    }
    if (status == MW_OK && job.interrupt.fired)
        status = mw_fail(message, message_size, (mw_status)job.interrupt.fired, job.interrupt.fired == MW_E_CANCELED ? "canceled" : "timed out");
    for (int i = 0; i < target_count; i++) {
        quality_target *target = &job.targets[i];
        close_segment(target);
        av_packet_free(&target->packet);
        av_frame_free(&target->decoded);
        av_frame_free(&target->ref);
        av_frame_free(&target->dist);
        av_frame_free(&target->measured);
        sws_freeContext(target->ref_scaler);
        sws_freeContext(target->dist_scaler);
    }
    avformat_close_input(&job.format);
    return status;
}

/* The video side of a transcode: decode, then one filter graph shared by all rungs that
 * deinterlaces, turns the picture upright and makes the frame rate constant. */
#include "core/mw_decode_chain.h"
#include "core/mw_filter_graph.h"

#include <math.h>
#include <string.h>
#include <libavfilter/buffersink.h>
#include <libavfilter/buffersrc.h>
#include <libavutil/avstring.h>
#include <libavutil/pixdesc.h>

AVRational mw_choose_frame_rate(const AVStream *stream, double max_fps) {
    AVRational average = stream->avg_frame_rate, real = stream->r_frame_rate;
    int average_ok = average.num > 0 && average.den > 0 && av_q2d(average) <= 240;
    int real_ok = real.num > 0 && real.den > 0 && av_q2d(real) <= 240;
    AVRational rate = average_ok ? average : real_ok ? real : (AVRational){25, 1};
    /* Variable rate: keep every frame of the fastest passages (the real base rate), unless
     * that looks like a field rate of interlaced video. */
    if (average_ok && real_ok && av_q2d(real) > av_q2d(average) * 1.01 && stream->codecpar->field_order <= AV_FIELD_PROGRESSIVE)
        rate = real;
    if (max_fps > 0 && av_q2d(rate) > max_fps + 1e-6) rate = av_d2q(max_fps, 1001000);
    static const AVRational standard[] = {{24000, 1001}, {24, 1}, {25, 1}, {30000, 1001}, {30, 1},
                                          {48, 1}, {50, 1}, {60000, 1001}, {60, 1}, {15, 1}, {12, 1}};
    for (size_t i = 0; i < sizeof(standard) / sizeof(standard[0]); i++) {
        if (fabs(av_q2d(rate) / av_q2d(standard[i]) - 1) < 0.0005 + 1e-9) return standard[i];
    }
    return av_d2q(av_q2d(rate), 1001000);
}

static const char *rotation_filters(int rotation) {
    switch (rotation) {
    case 90: return "transpose=clock,";
    case 180: return "hflip,vflip,";
    case 270: return "transpose=cclock,";
    default: return "";
    }
}

static mw_status build_graph(mw_video_chain *chain, const AVFormatContext *format, double start_s, char *message, size_t message_size) {
    AVCodecParameters *par = chain->stream->codecpar;
    AVRational sar = av_guess_sample_aspect_ratio((AVFormatContext *)format, chain->stream, NULL);
    if (sar.num <= 0 || sar.den <= 0 || av_q2d(sar) > 4 || av_q2d(sar) < 0.25) sar = (AVRational){1, 1};
    if (par->format < 0) return mw_fail(message, message_size, MW_E_INPUT_CORRUPT, "video has no known pixel format");
    int interlaced = par->field_order > AV_FIELD_PROGRESSIVE;
    int rotation = mw_stream_rotation(chain->stream);

    char source_args[256];
    snprintf(source_args, sizeof(source_args), "video_size=%dx%d:pix_fmt=%d:time_base=%d/%d:pixel_aspect=%d/%d",
             par->width, par->height, par->format, chain->stream->time_base.num, chain->stream->time_base.den,
             sar.num, sar.den);
    /* yadif only touches frames flagged interlaced; fps pads the start from `start_s` (0 for a
     * whole input; a range's start, whose frames before it were decoded only to reach it). */
    char *description = av_asprintf("%s%sfps=fps=%d/%d:start_time=%.6f:round=near",
                                    interlaced ? "yadif=mode=send_frame:parity=auto:deint=interlaced," : "",
                                    rotation_filters(rotation), chain->frame_rate.num, chain->frame_rate.den, start_s);
    if (!description) return mw_fail(message, message_size, MW_E_OUT_OF_MEMORY, "out of memory");
    int ret = mw_filter_graph_build(&chain->graph, &chain->source, &chain->sink, "buffer", source_args, "buffersink", description);
    av_free(description);
    if (ret < 0) return mw_fail(message, message_size, MW_E_INTERNAL, "cannot set up the video filters: %s", av_err2str(ret));
    chain->width = av_buffersink_get_w(chain->sink);
    chain->height = av_buffersink_get_h(chain->sink);
    chain->sar = av_buffersink_get_sample_aspect_ratio(chain->sink);
    if (chain->sar.num <= 0 || chain->sar.den <= 0) chain->sar = (AVRational){1, 1};
    return MW_OK;
}

mw_status mw_video_chain_open(mw_video_chain *chain, AVFormatContext *format, int stream_index, int64_t origin_us,
                              AVRational frame_rate, double start_s, const mw_limits *limits, int threads,
                              char *message, size_t message_size) {
    memset(chain, 0, sizeof(*chain));
    chain->stream = format->streams[stream_index];
    chain->frame_rate = frame_rate;
    chain->origin = av_rescale_q(origin_us, AV_TIME_BASE_Q, chain->stream->time_base);
    const AVCodec *codec = avcodec_find_decoder(chain->stream->codecpar->codec_id);
    if (!codec) return mw_fail(message, message_size, MW_E_INPUT_CORRUPT, "no decoder for the video codec %s",
                               avcodec_get_name(chain->stream->codecpar->codec_id));
    chain->decoder = avcodec_alloc_context3(codec);
    chain->frame = av_frame_alloc();
    if (!chain->decoder || !chain->frame) return mw_fail(message, message_size, MW_E_OUT_OF_MEMORY, "out of memory");
    int ret = avcodec_parameters_to_context(chain->decoder, chain->stream->codecpar);
    if (ret < 0) return mw_fail(message, message_size, MW_E_INTERNAL, "decoder parameters: %s", av_err2str(ret));
    chain->decoder->pkt_timebase = chain->stream->time_base;
    chain->decoder->max_pixels = limits->max_pixels;
    chain->decoder->thread_count = threads;
    ret = avcodec_open2(chain->decoder, codec, NULL);
    if (ret < 0) return mw_fail(message, message_size, MW_E_INPUT_CORRUPT, "cannot open the %s decoder: %s", codec->name, av_err2str(ret));
    return build_graph(chain, format, start_s, message, message_size);
}

static mw_status pull_frames(mw_video_chain *chain, mw_frame_sink emit, void *user, char *message, size_t message_size) {
    for (;;) {
        int ret = av_buffersink_get_frame(chain->sink, chain->frame);
        if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF) return MW_OK;
        if (ret < 0) return mw_fail(message, message_size, MW_E_INTERNAL, "video filters failed: %s", av_err2str(ret));
        mw_status status = emit(user, chain->frame, message, message_size);
        av_frame_unref(chain->frame);
        if (status != MW_OK) return status;
    }
}

mw_status mw_video_chain_send(mw_video_chain *chain, const AVPacket *packet, mw_frame_sink emit, void *user,
                              char *message, size_t message_size) {
    if (chain->draining) return MW_OK;
    int ret, resend, attempts = 0;
    do {
        ret = avcodec_send_packet(chain->decoder, packet);
        /* EAGAIN: the decoder wants its frames taken first; the packet goes again after that. */
        resend = ret == AVERROR(EAGAIN) && attempts++ == 0;
        /* A damaged packet is skipped: the next keyframe recovers the picture. */
        if (ret < 0 && ret != AVERROR_INVALIDDATA && ret != AVERROR(EAGAIN) && ret != AVERROR_EOF)
            return mw_fail(message, message_size, MW_E_INPUT_CORRUPT, "video cannot be decoded: %s", av_err2str(ret));
        if (!packet && !resend) chain->draining = 1;
        for (;;) {
            ret = avcodec_receive_frame(chain->decoder, chain->frame);
            if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF) break;
            if (ret < 0) return mw_fail(message, message_size, MW_E_INPUT_CORRUPT, "video cannot be decoded: %s", av_err2str(ret));
            AVCodecParameters *par = chain->stream->codecpar;
            if (chain->frame->width != par->width || chain->frame->height != par->height || chain->frame->format != par->format) {
                av_frame_unref(chain->frame);
                return mw_fail(message, message_size, MW_E_INPUT_CORRUPT, "the picture size or format changes mid-stream (%dx%d %s to %dx%d %s)",
                               par->width, par->height, av_get_pix_fmt_name(par->format), chain->frame->width, chain->frame->height,
                               av_get_pix_fmt_name(chain->frame->format));
            }
            int64_t pts = chain->frame->best_effort_timestamp;
            chain->frame->pts = pts == AV_NOPTS_VALUE ? AV_NOPTS_VALUE : pts - chain->origin;
            if (chain->frame->pts != AV_NOPTS_VALUE) {
                int64_t duration = chain->frame->pkt_duration > 0 ? chain->frame->pkt_duration
                    : av_rescale_q(1, av_inv_q(chain->frame_rate), chain->stream->time_base);
                if (chain->frame->pts + duration > chain->end_pts) chain->end_pts = chain->frame->pts + duration;
            }
            chain->frame->pict_type = AV_PICTURE_TYPE_NONE;
            ret = av_buffersrc_add_frame(chain->source, chain->frame);
            av_frame_unref(chain->frame);
            if (ret < 0) return mw_fail(message, message_size, MW_E_INTERNAL, "video filters failed: %s", av_err2str(ret));
            mw_status status = pull_frames(chain, emit, user, message, message_size);
            if (status != MW_OK) return status;
        }
    } while (resend);
    if (packet) return MW_OK;
    /* Ending at the last frame's end (not its start) keeps that frame in the constant-rate output. */
    ret = av_buffersrc_close(chain->source, chain->end_pts, AV_BUFFERSRC_FLAG_PUSH);
    if (ret < 0) return mw_fail(message, message_size, MW_E_INTERNAL, "video filters failed: %s", av_err2str(ret));
    return pull_frames(chain, emit, user, message, message_size);
}

void mw_fit_video(const mw_video_chain *chain, int box_width, int box_height, int *width, int *height) {
    double display_width = chain->width * av_q2d(chain->sar), display_height = chain->height;
    if (display_height > display_width && box_width > box_height) {
        int turned = box_width;
        box_width = box_height;
        box_height = turned;
    }
    double scale = 1;
    if (box_width > 0) scale = fmin(scale, box_width / display_width);
    if (box_height > 0) scale = fmin(scale, box_height / display_height);
    /* H.264 in 4:2:0 needs even sizes; rounding down never upscales an odd source. */
    *width = 2 * (int)(display_width * scale / 2 + 1e-6);
    *height = 2 * (int)(display_height * scale / 2 + 1e-6);
    if (*width < 2) *width = 2;
    if (*height < 2) *height = 2;
}

void mw_video_chain_close(mw_video_chain *chain) {
    avfilter_graph_free(&chain->graph);
    avcodec_free_context(&chain->decoder);
    av_frame_free(&chain->frame);
}

/* The audio side of a transcode: decode, resample in step with the timestamps (gaps filled,
 * drift corrected, the start padded from time 0) and encode AAC once for every output. */
#include "core/mw_decode_chain.h"
#include "core/mw_filter_graph.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <libavfilter/buffersink.h>
#include <libavfilter/buffersrc.h>
#include <libavutil/avstring.h>
#include <libavutil/channel_layout.h>

static int output_sample_rate(int source_rate, int wanted) {
    if (wanted > 0) return wanted;
    return source_rate == 44100 || source_rate == 48000 ? source_rate : 48000;
}

mw_status mw_open_aac_encoder(AVCodecContext **out, int sample_rate, int channels, int bit_rate, int global_header,
                              char *message, size_t message_size) {
    const AVCodec *codec = avcodec_find_encoder(AV_CODEC_ID_AAC);
    if (!codec) return mw_fail(message, message_size, MW_E_INTERNAL, "no AAC encoder in this FFmpeg build");
    AVCodecContext *encoder = *out = avcodec_alloc_context3(codec);
    if (!encoder) return mw_fail(message, message_size, MW_E_OUT_OF_MEMORY, "out of memory");
    av_channel_layout_default(&encoder->ch_layout, channels);
    encoder->sample_rate = sample_rate;
    encoder->sample_fmt = AV_SAMPLE_FMT_FLTP;
    encoder->bit_rate = bit_rate > 0 ? bit_rate : 128000;
    encoder->time_base = (AVRational){1, sample_rate};
    if (global_header) encoder->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    int ret = avcodec_open2(encoder, codec, NULL);
    if (ret < 0) return mw_fail(message, message_size, MW_E_ENCODER_FAILED, "cannot open the AAC encoder: %s", av_err2str(ret));
    return MW_OK;
}

static mw_status open_encoder(mw_audio_chain *chain, const mw_encode_settings *settings, int global_header,
                              char *message, size_t message_size) {
    int channels = chain->decoder->ch_layout.nb_channels;
    int wanted = settings->audio_channels > 0 ? settings->audio_channels : 2;
    if (channels > wanted) channels = wanted;
    if (channels < 1) channels = 1;
    return mw_open_aac_encoder(&chain->encoder, output_sample_rate(chain->decoder->sample_rate, settings->audio_sample_rate),
                               channels, settings->audio_bitrate, global_header, message, message_size);
}

void mw_loudness_filters(char *text, size_t size, double gain_db, double limit_db) {
    text[0] = 0;
    if (fabs(gain_db) > 1e-6) snprintf(text, size, "volume=%.4fdB:precision=float,", gain_db);
    /* Dynamic correction only when asked: peaks the gain pushes over the ceiling are held under it
     * (5 ms lookahead, delay compensated so audio stays in sync; no auto-levelling). */
    if (limit_db < -1e-6 && limit_db > -24) {
        size_t used = strlen(text);
        snprintf(text + used, size - used, "alimiter=limit=%.6f:attack=5:release=50:level=0:latency=1,", pow(10, limit_db / 20));
    }
}

static mw_status build_graph(mw_audio_chain *chain, double gain_db, double limit_db, char *message, size_t message_size) {
    AVCodecContext *decoder = chain->decoder;
    if (decoder->ch_layout.order == AV_CHANNEL_ORDER_UNSPEC) av_channel_layout_default(&decoder->ch_layout, decoder->ch_layout.nb_channels);
    char source_layout[64], output_layout[64];
    av_channel_layout_describe(&decoder->ch_layout, source_layout, sizeof(source_layout));
    av_channel_layout_describe(&chain->encoder->ch_layout, output_layout, sizeof(output_layout));
    const char *format = av_get_sample_fmt_name(decoder->sample_fmt);
    if (!format || decoder->sample_rate <= 0)
        return mw_fail(message, message_size, MW_E_INPUT_CORRUPT, "audio has no known sample format or rate");
    char *source_args = av_asprintf("time_base=1/%d:sample_rate=%d:sample_fmt=%s:channel_layout=%s",
                                    decoder->sample_rate, decoder->sample_rate, format, source_layout);
    /* async: stretch or pad to follow the timestamps, so audio stays with the video. */
    char gain[160];
    mw_loudness_filters(gain, sizeof(gain), gain_db, limit_db);
    char *description = av_asprintf("%saresample=async=1:first_pts=0,aformat=sample_fmts=fltp:sample_rates=%d:channel_layouts=%s",
                                    gain, chain->encoder->sample_rate, output_layout);
    int ret = mw_filter_graph_build(&chain->graph, &chain->source, &chain->sink, "abuffer", source_args, "abuffersink", description);
    av_free(source_args);
    av_free(description);
    if (ret < 0) return mw_fail(message, message_size, MW_E_INTERNAL, "cannot set up the audio filters: %s", av_err2str(ret));
    /* The encoder takes whole frames of its own size. */
    av_buffersink_set_frame_size(chain->sink, chain->encoder->frame_size);
    return MW_OK;
}

mw_status mw_audio_chain_open(mw_audio_chain *chain, AVFormatContext *format, int stream_index, int64_t origin_us,
                              const mw_encode_settings *settings, double gain_db, double limit_db, int global_header,
                              char *message, size_t message_size) {
    memset(chain, 0, sizeof(*chain));
    chain->stream = format->streams[stream_index];
    chain->origin = av_rescale_q(origin_us, AV_TIME_BASE_Q, chain->stream->time_base);
    const AVCodec *codec = avcodec_find_decoder(chain->stream->codecpar->codec_id);
    if (!codec) return mw_fail(message, message_size, MW_E_INPUT_CORRUPT, "no decoder for the audio codec %s",
                               avcodec_get_name(chain->stream->codecpar->codec_id));
    chain->decoder = avcodec_alloc_context3(codec);
    chain->frame = av_frame_alloc();
    chain->packet = av_packet_alloc();
    if (!chain->decoder || !chain->frame || !chain->packet) return mw_fail(message, message_size, MW_E_OUT_OF_MEMORY, "out of memory");
    int ret = avcodec_parameters_to_context(chain->decoder, chain->stream->codecpar);
    if (ret < 0) return mw_fail(message, message_size, MW_E_INTERNAL, "decoder parameters: %s", av_err2str(ret));
    chain->decoder->pkt_timebase = chain->stream->time_base;
    ret = avcodec_open2(chain->decoder, codec, NULL);
    if (ret < 0) return mw_fail(message, message_size, MW_E_INPUT_CORRUPT, "cannot open the %s decoder: %s", codec->name, av_err2str(ret));
    mw_status status = open_encoder(chain, settings, global_header, message, message_size);
    if (status == MW_OK) status = build_graph(chain, gain_db, limit_db, message, message_size);
    return status;
}

static mw_status drain_encoder(mw_audio_chain *chain, mw_packet_sink emit, void *user, char *message, size_t message_size) {
    for (;;) {
        int ret = avcodec_receive_packet(chain->encoder, chain->packet);
        if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF) return MW_OK;
        if (ret < 0) return mw_fail(message, message_size, MW_E_ENCODER_FAILED, "AAC encoding failed: %s", av_err2str(ret));
        mw_status status = emit(user, chain->packet, message, message_size);
        av_packet_unref(chain->packet);
        if (status != MW_OK) return status;
    }
}

static mw_status pull_frames(mw_audio_chain *chain, int end, mw_packet_sink emit, void *user, char *message, size_t message_size) {
    AVRational sink_time_base = av_buffersink_get_time_base(chain->sink);
    for (;;) {
        int ret = av_buffersink_get_frame(chain->sink, chain->frame);
        if (ret == AVERROR(EAGAIN)) return MW_OK;
        if (ret == AVERROR_EOF) break;
        if (ret < 0) return mw_fail(message, message_size, MW_E_INTERNAL, "audio filters failed: %s", av_err2str(ret));
        chain->frame->pts = av_rescale_q(chain->frame->pts, sink_time_base, chain->encoder->time_base);
        if (chain->tap) {
            mw_status tapped = chain->tap(chain->tap_user, chain->frame, message, message_size);
            if (tapped != MW_OK) {
                av_frame_unref(chain->frame);
                return tapped;
            }
        }
        ret = avcodec_send_frame(chain->encoder, chain->frame);
        av_frame_unref(chain->frame);
        if (ret < 0) return mw_fail(message, message_size, MW_E_ENCODER_FAILED, "AAC encoding failed: %s", av_err2str(ret));
        mw_status status = drain_encoder(chain, emit, user, message, message_size);
        if (status != MW_OK) return status;
    }
    if (!end) return MW_OK;
    int ret = avcodec_send_frame(chain->encoder, NULL);
    if (ret < 0 && ret != AVERROR_EOF) return mw_fail(message, message_size, MW_E_ENCODER_FAILED, "AAC encoding failed: %s", av_err2str(ret));
    return drain_encoder(chain, emit, user, message, message_size);
}

mw_status mw_audio_chain_send(mw_audio_chain *chain, const AVPacket *packet, mw_packet_sink emit, void *user,
                              char *message, size_t message_size) {
    if (chain->draining) return MW_OK;
    int ret, resend, attempts = 0;
    do {
        ret = avcodec_send_packet(chain->decoder, packet);
        /* EAGAIN: the decoder wants its frames taken first; the packet goes again after that. */
        resend = ret == AVERROR(EAGAIN) && attempts++ == 0;
        /* A damaged audio packet is a short gap, filled by the resampler. */
        if (ret < 0 && ret != AVERROR_INVALIDDATA && ret != AVERROR(EAGAIN) && ret != AVERROR_EOF)
            return mw_fail(message, message_size, MW_E_INPUT_CORRUPT, "audio cannot be decoded: %s", av_err2str(ret));
        if (!packet && !resend) chain->draining = 1;
        for (;;) {
            ret = avcodec_receive_frame(chain->decoder, chain->frame);
            if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF) break;
            if (ret == AVERROR_INVALIDDATA) continue;
            if (ret < 0) return mw_fail(message, message_size, MW_E_INPUT_CORRUPT, "audio cannot be decoded: %s", av_err2str(ret));
            int64_t pts = chain->frame->best_effort_timestamp;
            chain->frame->pts = pts == AV_NOPTS_VALUE ? AV_NOPTS_VALUE
                : av_rescale_q(pts - chain->origin, chain->stream->time_base, (AVRational){1, chain->decoder->sample_rate});
            int64_t end = (chain->frame->pts == AV_NOPTS_VALUE ? chain->next_pts : chain->frame->pts) + chain->frame->nb_samples;
            if (end > chain->next_pts) chain->next_pts = end;
            ret = av_buffersrc_add_frame(chain->source, chain->frame);
            av_frame_unref(chain->frame);
            if (ret < 0) return mw_fail(message, message_size, MW_E_INPUT_CORRUPT, "audio filters refused a frame: %s", av_err2str(ret));
            mw_status status = pull_frames(chain, 0, emit, user, message, message_size);
            if (status != MW_OK) return status;
        }
    } while (resend);
    if (packet) return MW_OK;
    ret = av_buffersrc_add_frame(chain->source, NULL);
    if (ret < 0) return mw_fail(message, message_size, MW_E_INTERNAL, "audio filters failed: %s", av_err2str(ret));
    return pull_frames(chain, 1, emit, user, message, message_size);
}

mw_status mw_audio_chain_fill_silence(mw_audio_chain *chain, double until_s, mw_packet_sink emit, void *user,
                                      char *message, size_t message_size) {
    if (chain->draining) return MW_OK;
    AVCodecContext *decoder = chain->decoder;
    int64_t until = (int64_t)(until_s * decoder->sample_rate);
    while (chain->next_pts < until) {
        AVFrame *silence = av_frame_alloc();
        if (!silence) return mw_fail(message, message_size, MW_E_OUT_OF_MEMORY, "out of memory");
        silence->format = decoder->sample_fmt;
        silence->sample_rate = decoder->sample_rate;
        silence->nb_samples = (int)FFMIN(until - chain->next_pts, 1024);
        silence->pts = chain->next_pts;
        int ret = av_channel_layout_copy(&silence->ch_layout, &decoder->ch_layout);
        if (ret >= 0) ret = av_frame_get_buffer(silence, 0);
        if (ret >= 0) ret = av_samples_set_silence(silence->extended_data, 0, silence->nb_samples, decoder->ch_layout.nb_channels,
                                                   decoder->sample_fmt);
        if (ret >= 0) {
            chain->next_pts += silence->nb_samples;
            ret = av_buffersrc_add_frame(chain->source, silence);
        }
        av_frame_free(&silence);
        if (ret < 0) return mw_fail(message, message_size, MW_E_INTERNAL, "cannot feed silence to the audio filters: %s", av_err2str(ret));
        mw_status status = pull_frames(chain, 0, emit, user, message, message_size);
        if (status != MW_OK) return status;
    }
    return MW_OK;
}

void mw_audio_chain_close(mw_audio_chain *chain) {
    avfilter_graph_free(&chain->graph);
    avcodec_free_context(&chain->decoder);
    avcodec_free_context(&chain->encoder);
    av_frame_free(&chain->frame);
    av_packet_free(&chain->packet);
}

/* EBU R128 loudness of audio streams (see mw_measure_loudness in mw_shim.h): each stream decoded
 * through FFmpeg's ebur128 (true peak on), all in one read of the input; the last frame's
 * metadata holds the whole stream's integrated loudness and range. */
#include "core/mw_internal.h"
#include "core/mw_decode_chain.h"
#include "core/mw_filter_graph.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <libavcodec/avcodec.h>
#include <libavfilter/buffersink.h>
#include <libavfilter/buffersrc.h>
#include <libavformat/avformat.h>
#include <libavutil/avstring.h>
#include <libavutil/channel_layout.h>

typedef struct meter {
    int stream_index;
    AVCodecContext *decoder;
    AVFilterGraph *graph;
    AVFilterContext *source, *sink;
    double integrated, range, peak;
    int channels;
} meter;

static mw_status open_meter(meter *m, AVFormatContext *format, int index, double gain_db, double limit_db, char *message, size_t message_size) {
    AVStream *stream = format->streams[index];
    m->stream_index = index;
    m->integrated = -70;
    m->peak = 0;
    const AVCodec *codec = avcodec_find_decoder(stream->codecpar->codec_id);
    if (!codec) return mw_fail(message, message_size, MW_E_INPUT_CORRUPT, "no decoder for audio stream %d", index);
    if (!(m->decoder = avcodec_alloc_context3(codec))) return mw_fail(message, message_size, MW_E_OUT_OF_MEMORY, "out of memory");
    int ret = avcodec_parameters_to_context(m->decoder, stream->codecpar);
    m->decoder->pkt_timebase = stream->time_base;
    if (ret >= 0) ret = avcodec_open2(m->decoder, codec, NULL);
    if (ret < 0) return mw_fail(message, message_size, MW_E_INPUT_CORRUPT, "cannot decode audio stream %d: %s", index, av_err2str(ret));
    if (m->decoder->ch_layout.order == AV_CHANNEL_ORDER_UNSPEC) av_channel_layout_default(&m->decoder->ch_layout, m->decoder->ch_layout.nb_channels);
    m->channels = m->decoder->ch_layout.nb_channels;
    char layout[64];
    av_channel_layout_describe(&m->decoder->ch_layout, layout, sizeof(layout));
    const char *sample_format = av_get_sample_fmt_name(m->decoder->sample_fmt);
    if (!sample_format || m->decoder->sample_rate <= 0) return mw_fail(message, message_size, MW_E_INPUT_CORRUPT, "audio stream %d has no format", index);
    char *args = av_asprintf("time_base=1/%d:sample_rate=%d:sample_fmt=%s:channel_layout=%s", m->decoder->sample_rate,
                             m->decoder->sample_rate, sample_format, layout);
    char correction[160];
    mw_loudness_filters(correction, sizeof(correction), gain_db, limit_db);
    char *description = av_asprintf("%sebur128=peak=true:metadata=1", correction);
    ret = args && description ? mw_filter_graph_build(&m->graph, &m->source, &m->sink, "abuffer", args, "abuffersink", description) : AVERROR(ENOMEM);
    av_free(args);
    av_free(description);
    if (ret < 0) return mw_fail(message, message_size, MW_E_INTERNAL, "cannot set up the loudness meter: %s", av_err2str(ret));
    return MW_OK;
}

static mw_status read_meter(meter *m, AVFrame *out, char *message, size_t message_size) {
    for (;;) {
        int ret = av_buffersink_get_frame(m->sink, out);
        if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF) return MW_OK;
        if (ret < 0) return mw_fail(message, message_size, MW_E_INTERNAL, "loudness meter failed: %s", av_err2str(ret));
        int found;
        double value = mw_frame_metadata_number(out, "lavfi.r128.I", &found);
        if (found) m->integrated = value;
        value = mw_frame_metadata_number(out, "lavfi.r128.LRA", &found);
        if (found) m->range = value;
        for (int c = 0; c < m->channels; c++) {
            char key[48];
            snprintf(key, sizeof(key), "lavfi.r128.true_peaks_ch%d", c);
            value = mw_frame_metadata_number(out, key, &found);
            if (found && value > m->peak) m->peak = value;
        }
        av_frame_unref(out);
    }
}

/* Decodes `packet` (NULL: the end) into the meter. */
static mw_status feed(meter *m, const AVPacket *packet, AVFrame *frame, AVFrame *out, char *message, size_t message_size) {
    int ret = avcodec_send_packet(m->decoder, packet);
    if (ret < 0 && ret != AVERROR_EOF && ret != AVERROR_INVALIDDATA) return MW_OK;   /* a bad packet: skipped, as players do */
    for (;;) {
        ret = avcodec_receive_frame(m->decoder, frame);
        if (ret == AVERROR(EAGAIN)) return MW_OK;
        if (ret == AVERROR_EOF) break;
        if (ret < 0) return MW_OK;
        frame->pts = frame->best_effort_timestamp;
        ret = av_buffersrc_add_frame(m->source, frame);
        av_frame_unref(frame);
        if (ret < 0) return mw_fail(message, message_size, MW_E_INTERNAL, "loudness meter failed: %s", av_err2str(ret));
        mw_status status = read_meter(m, out, message, message_size);
        if (status != MW_OK) return status;
    }
    if (av_buffersrc_add_frame(m->source, NULL) < 0) return MW_OK;
    return read_meter(m, out, message, message_size);
}

mw_status mw_measure_loudness(const char *input, const int32_t *streams, int32_t count, const double *gains_db,
                              const double *limits_db, const mw_limits *limits,
                              mw_cancel_token *cancel, mw_loudness *results, char *message, size_t message_size) {
    if (!input || !streams || !results || count < 1 || count > 8)
        return mw_fail(message, message_size, MW_E_INVALID_ARGUMENT, "1 to 8 audio streams to measure");
    mw_limits bounds;
    if (limits) bounds = *limits; else mw_limits_init_default(&bounds);
    mw_interrupt interrupt;
    mw_interrupt_init(&interrupt, cancel, bounds.timeout_ms);
    AVFormatContext *format = NULL;
    mw_status status = mw_open_input(input, &bounds, &interrupt, &format, message, message_size);
    meter meters[8];
    memset(meters, 0, sizeof(meters));
    for (int i = 0; status == MW_OK && i < count; i++) {
        if (streams[i] < 0 || streams[i] >= (int)format->nb_streams || format->streams[streams[i]]->codecpar->codec_type != AVMEDIA_TYPE_AUDIO)
            status = mw_fail(message, message_size, MW_E_INVALID_ARGUMENT, "stream %d is not an audio stream", streams[i]);
        else
            status = open_meter(&meters[i], format, streams[i], gains_db ? gains_db[i] : 0, limits_db ? limits_db[i] : 0, message, message_size);
    }
    if (status == MW_OK)
        for (unsigned s = 0; s < format->nb_streams; s++) {
            int wanted = 0;
            for (int i = 0; i < count; i++) wanted |= streams[i] == (int)s;
            if (!wanted) format->streams[s]->discard = AVDISCARD_ALL;
        }
    AVPacket *packet = av_packet_alloc();
    AVFrame *frame = av_frame_alloc(), *out = av_frame_alloc();
    if (status == MW_OK && (!packet || !frame || !out)) status = mw_fail(message, message_size, MW_E_OUT_OF_MEMORY, "out of memory");
    while (status == MW_OK) {
        int ret = av_read_frame(format, packet);
        if (ret == AVERROR_EOF || (ret < 0 && avio_feof(format->pb) && !interrupt.fired)) break;
        if (ret < 0) {
            status = mw_fail(message, message_size, mw_status_from_averror(ret, &interrupt), "input cannot be read: %s", av_err2str(ret));
            break;
        }
        for (int i = 0; status == MW_OK && i < count; i++)
            if (packet->stream_index == meters[i].stream_index) status = feed(&meters[i], packet, frame, out, message, message_size);
        av_packet_unref(packet);
    }
    for (int i = 0; status == MW_OK && i < count; i++) status = feed(&meters[i], NULL, frame, out, message, message_size);
    if (status == MW_OK && interrupt.fired)
        status = mw_fail(message, message_size, (mw_status)interrupt.fired, interrupt.fired == MW_E_CANCELED ? "canceled" : "timed out");
    for (int i = 0; i < count; i++) {
        if (status == MW_OK) {
            results[i].stream = streams[i];
            results[i].integrated_lufs = meters[i].integrated;
            results[i].range_lu = meters[i].range;
            results[i].true_peak_db = meters[i].peak > 0 ? 20 * log10(meters[i].peak) : -INFINITY;
        }
        avfilter_graph_free(&meters[i].graph);
        avcodec_free_context(&meters[i].decoder);
    }
    av_packet_free(&packet);
    av_frame_free(&frame);
    av_frame_free(&out);
    avformat_close_input(&format);
    return status;
}

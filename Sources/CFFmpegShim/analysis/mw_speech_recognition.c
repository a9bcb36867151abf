/* Audio for speech recognition (see mw_extract_speech_audio and mw_recognize_speech in
 * mw_shim.h): one audio stream decoded through a filter chain that makes it mono 16 kHz s16,
 * then either written as a WAV for an external recogniser or fed to libavfilter's asr filter
 * (pocketsphinx) with silencedetect beside it to time what it hears. */
#include "core/mw_internal.h"
#include "core/mw_filter_graph.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <libavcodec/avcodec.h>
#include <libavfilter/buffersink.h>
#include <libavfilter/buffersrc.h>
#include <libavformat/avformat.h>
#include <libavutil/avstring.h>
#include <libavutil/channel_layout.h>

#define MW_SPEECH_RATE 16000

/* What each output frame of the chain is handed to. */
typedef mw_status (*frame_handler)(void *state, const AVFrame *frame, double at_s, char *message, size_t message_size);

/* Decodes `stream` of `input` through `chain` (after a resampling to mono 16 kHz s16) and hands
 * every frame out of it to `handle`. */
static mw_status run_chain(const char *input, int32_t stream, const char *chain, const mw_limits *limits, mw_cancel_token *cancel,
                           mw_progress_callback on_progress, void *user, frame_handler handle, void *state, double *duration_s,
                           char *message, size_t message_size) {
    mw_limits bounds;
    if (limits) bounds = *limits; else mw_limits_init_default(&bounds);
    mw_interrupt interrupt;
    mw_interrupt_init(&interrupt, cancel, bounds.timeout_ms);
    AVFormatContext *format = NULL;
    AVCodecContext *decoder = NULL;
    AVFilterGraph *graph = NULL;
    AVFilterContext *source = NULL, *sink = NULL;
    AVPacket *packet = av_packet_alloc();
    AVFrame *frame = av_frame_alloc(), *out = av_frame_alloc();
    int64_t samples = 0;
    mw_status status = mw_open_input(input, &bounds, &interrupt, &format, message, message_size);
    if (status == MW_OK && (!packet || !frame || !out)) status = mw_fail(message, message_size, MW_E_OUT_OF_MEMORY, "out of memory");
    if (status == MW_OK && (stream < 0 || stream >= (int)format->nb_streams || format->streams[stream]->codecpar->codec_type != AVMEDIA_TYPE_AUDIO))
        status = mw_fail(message, message_size, MW_E_INVALID_ARGUMENT, "stream %d is not an audio stream", stream);
    if (status == MW_OK) {
        for (unsigned s = 0; s < format->nb_streams; s++)
            if ((int)s != stream) format->streams[s]->discard = AVDISCARD_ALL;
        AVStream *audio = format->streams[stream];
        const AVCodec *codec = avcodec_find_decoder(audio->codecpar->codec_id);
        if (!codec || !(decoder = avcodec_alloc_context3(codec))) {
            status = mw_fail(message, message_size, MW_E_INPUT_CORRUPT, "no decoder for audio stream %d", stream);
        } else {
            int ret = avcodec_parameters_to_context(decoder, audio->codecpar);
            decoder->pkt_timebase = audio->time_base;
            if (ret >= 0) ret = avcodec_open2(decoder, codec, NULL);
            if (ret < 0) status = mw_fail(message, message_size, MW_E_INPUT_CORRUPT, "cannot decode audio stream %d: %s", stream, av_err2str(ret));
        }
    }
    if (status == MW_OK) {
        if (decoder->ch_layout.order == AV_CHANNEL_ORDER_UNSPEC) av_channel_layout_default(&decoder->ch_layout, decoder->ch_layout.nb_channels);
        char layout[64];
        av_channel_layout_describe(&decoder->ch_layout, layout, sizeof(layout));
        const char *sample_format = av_get_sample_fmt_name(decoder->sample_fmt);
        if (!sample_format || decoder->sample_rate <= 0) {
            status = mw_fail(message, message_size, MW_E_INPUT_CORRUPT, "audio stream %d has no format", stream);
        } else {
            char *args = av_asprintf("time_base=1/%d:sample_rate=%d:sample_fmt=%s:channel_layout=%s", decoder->sample_rate,
                                     decoder->sample_rate, sample_format, layout);
            /* From time zero (silence before a late first sample); a gap in the timestamps is filled with silence. */
            char *description = av_asprintf("aresample=%d:async=1:first_pts=0,aformat=sample_fmts=s16:channel_layouts=mono%s%s",
                                            MW_SPEECH_RATE, chain && *chain ? "," : "", chain ? chain : "");
            int ret = args && description ? mw_filter_graph_build(&graph, &source, &sink, "abuffer", args, "abuffersink", description) : AVERROR(ENOMEM);
            av_free(args);
            av_free(description);
            if (ret < 0) status = mw_fail(message, message_size, MW_E_INTERNAL, "cannot set up the speech audio chain: %s", av_err2str(ret));
        }
    }
    double total = status == MW_OK && format->duration > 0 ? format->duration / (double)AV_TIME_BASE : 0;
    /* Timestamps in samples from the input's start (as the package's timeline counts), so the
     * resampler fills gaps rather than misreading another time base. */
    int64_t origin = status == MW_OK && format->start_time != AV_NOPTS_VALUE
        ? av_rescale_q(format->start_time, AV_TIME_BASE_Q, format->streams[stream]->time_base) : 0;
    int ended = 0;
    while (status == MW_OK && !ended) {
        int ret = av_read_frame(format, packet);
        if (ret == AVERROR_EOF || (ret < 0 && avio_feof(format->pb) && !interrupt.fired)) {
            ended = 1;
            avcodec_send_packet(decoder, NULL);
        } else if (ret < 0) {
            status = mw_fail(message, message_size, mw_status_from_averror(ret, &interrupt), "input cannot be read: %s", av_err2str(ret));
            break;
        } else {
            ret = avcodec_send_packet(decoder, packet);
            av_packet_unref(packet);
            if (ret < 0 && ret != AVERROR_INVALIDDATA) continue;  /* a bad packet: skipped, as players do */
        }
        for (;;) {
            ret = avcodec_receive_frame(decoder, frame);
            if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF || ret < 0) break;
            int64_t pts = frame->best_effort_timestamp;
            frame->pts = pts == AV_NOPTS_VALUE ? AV_NOPTS_VALUE
                : av_rescale_q(pts - origin, format->streams[stream]->time_base, (AVRational){1, decoder->sample_rate});
            ret = av_buffersrc_add_frame(source, frame);
            av_frame_unref(frame);
            if (ret < 0) {
                status = mw_fail(message, message_size, MW_E_INTERNAL, "speech audio chain failed: %s", av_err2str(ret));
                break;
            }
        }
        if (status == MW_OK && ended && av_buffersrc_add_frame(source, NULL) < 0)
            status = mw_fail(message, message_size, MW_E_INTERNAL, "speech audio chain failed at the end");
        while (status == MW_OK) {
            ret = av_buffersink_get_frame(sink, out);
            if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF) break;
            if (ret < 0) {
                status = mw_fail(message, message_size, MW_E_INTERNAL, "speech audio chain failed: %s", av_err2str(ret));
                break;
            }
            double at = (double)samples / MW_SPEECH_RATE;
            samples += out->nb_samples;
            status = handle(state, out, at, message, message_size);
            av_frame_unref(out);
            if (on_progress && total > 0) on_progress(user, at / total < 1 ? at / total : 1);
        }
        if (status == MW_OK && interrupt.fired)
            status = mw_fail(message, message_size, (mw_status)interrupt.fired, interrupt.fired == MW_E_CANCELED ? "canceled" : "timed out");
    }
    if (duration_s) *duration_s = (double)samples / MW_SPEECH_RATE;
    avfilter_graph_free(&graph);
    avcodec_free_context(&decoder);
    av_packet_free(&packet);
    av_frame_free(&frame);
    av_frame_free(&out);
    avformat_close_input(&format);
    return status;
}

/* ---- the WAV for an external recogniser ---- */

typedef struct wav_writer {
    FILE *file;
    uint32_t bytes;
} wav_writer;

static void put_le32(uint8_t *p, uint32_t v) { p[0] = v; p[1] = v >> 8; p[2] = v >> 16; p[3] = v >> 24; }
static void put_le16(uint8_t *p, uint16_t v) { p[0] = v; p[1] = v >> 8; }

static int write_header(FILE *file, uint32_t bytes) {
    uint8_t header[44];
    memcpy(header, "RIFF", 4); put_le32(header + 4, 36 + bytes); memcpy(header + 8, "WAVEfmt ", 8);
    put_le32(header + 16, 16); put_le16(header + 20, 1); put_le16(header + 22, 1); put_le32(header + 24, MW_SPEECH_RATE);
    put_le32(header + 28, MW_SPEECH_RATE * 2); put_le16(header + 32, 2); put_le16(header + 34, 16);
    memcpy(header + 36, "data", 4); put_le32(header + 40, bytes);
    return fseek(file, 0, SEEK_SET) == 0 && fwrite(header, 1, sizeof(header), file) == sizeof(header);
}

static mw_status write_samples(void *state, const AVFrame *frame, double at_s, char *message, size_t message_size) {
    wav_writer *writer = state;
    size_t bytes = (size_t)frame->nb_samples * 2;
    if (writer->bytes + bytes > UINT32_MAX - 64)
        return mw_fail(message, message_size, MW_E_DURATION_TOO_LONG, "the speech audio is too long for a WAV");
    /* s16 mono, little-endian like every machine this runs on. */
    if (fwrite(frame->data[0], 1, bytes, writer->file) != bytes)
        return mw_fail(message, message_size, MW_E_OUTPUT_FAILED, "cannot write the speech audio: %s", strerror(errno));
    writer->bytes += (uint32_t)bytes;
    return MW_OK;
}

mw_status mw_extract_speech_audio(const char *input, int32_t stream, const char *wav_path, const mw_limits *limits,
                                  mw_cancel_token *cancel, mw_progress_callback on_progress, void *user, double *duration_s,
                                  char *message, size_t message_size) {
    if (!input || !wav_path) return mw_fail(message, message_size, MW_E_INVALID_ARGUMENT, "missing input or output path");
    wav_writer writer = {.file = fopen(wav_path, "wb")};
    if (!writer.file) return mw_fail(message, message_size, MW_E_OUTPUT_FAILED, "cannot create %s: %s", wav_path, strerror(errno));
    mw_status status = write_header(writer.file, 0) ? MW_OK : mw_fail(message, message_size, MW_E_OUTPUT_FAILED, "cannot write %s", wav_path);
    if (status == MW_OK)
        status = run_chain(input, stream, NULL, limits, cancel, on_progress, user, write_samples, &writer, duration_s, message, message_size);
    if (status == MW_OK && !write_header(writer.file, writer.bytes))
        status = mw_fail(message, message_size, MW_E_OUTPUT_FAILED, "cannot write %s", wav_path);
    if (fclose(writer.file) != 0 && status == MW_OK) status = mw_fail(message, message_size, MW_E_OUTPUT_FAILED, "cannot write %s", wav_path);
    if (status != MW_OK) remove(wav_path);
    return status;
}

/* ---- pocketsphinx in process ---- */

typedef struct recognition {
    mw_utterance *utterances;
    int32_t max, count;
    double speech_start;   /* where the speech now being heard began; < 0: in a silence */
    double last_silence;   /* where the latest silence began (the end of the speech before it) */
    double previous_end;
} recognition;

static mw_status collect_utterance(void *state, const AVFrame *frame, double at_s, char *message, size_t message_size) {
    recognition *r = state;
    int found;
    double value = mw_frame_metadata_number(frame, "lavfi.silence_start", &found);
    if (found) r->last_silence = value;
    value = mw_frame_metadata_number(frame, "lavfi.silence_end", &found);
    if (found && r->speech_start < 0) r->speech_start = value;
    const AVDictionaryEntry *text = av_dict_get(frame->metadata, "lavfi.asr.text", NULL, 0);
    if (!text || !text->value[0] || r->count >= r->max) return MW_OK;
    mw_utterance *u = &r->utterances[r->count++];
    /* The recogniser closes an utterance a little after the voice stops: the speech ends where the
     * latest silence began, if that is after it started. */
    double start = r->speech_start >= 0 ? r->speech_start : r->previous_end;
    double end = r->last_silence > start ? r->last_silence : at_s;
    u->start_s = start;
    u->end_s = end > start ? end : at_s;
    snprintf(u->text, sizeof(u->text), "%s", text->value);
    r->previous_end = u->end_s;
    r->speech_start = -1;
    return MW_OK;
}

int mw_speech_recognition_available(void) {
    return avfilter_get_by_name("asr") != NULL;
}

/* The paths go into a filter description: none of its separators or quoting. */
static int safe_in_filter_arguments(const char *path) {
    return strpbrk(path, ":,;[]'\\") == NULL;
}

mw_status mw_recognize_speech(const char *input, int32_t stream, const char *hmm, const char *dict, const char *lm,
                              const mw_limits *limits, mw_cancel_token *cancel, mw_progress_callback on_progress, void *user,
                              mw_utterance *utterances, int32_t max, int32_t *count, double *duration_s,
                              char *message, size_t message_size) {
    if (count) *count = 0;
    if (!input || !hmm || !dict || !lm || !utterances || max < 1)
        return mw_fail(message, message_size, MW_E_INVALID_ARGUMENT, "speech recognition needs an input, a model and room for results");
    if (!avfilter_get_by_name("asr"))
        return mw_fail(message, message_size, MW_E_INTERNAL, "this libavfilter has no asr filter (built without pocketsphinx)");
    if (!safe_in_filter_arguments(hmm) || !safe_in_filter_arguments(dict) || !safe_in_filter_arguments(lm))
        return mw_fail(message, message_size, MW_E_INVALID_ARGUMENT, "model paths may not contain : , ; [ ] ' or \\");
    /* A second of silence after the end, so the recogniser closes the last utterance. */
    char *chain = av_asprintf("apad=pad_dur=1,silencedetect=n=-35dB:d=0.3,asr=hmm=%s:dict=%s:lm=%s:logfn=/dev/null", hmm, dict, lm);
    if (!chain) return mw_fail(message, message_size, MW_E_OUT_OF_MEMORY, "out of memory");
    recognition r = {.utterances = utterances, .max = max, .speech_start = -1, .last_silence = -1, .previous_end = 0};
    mw_status status = run_chain(input, stream, chain, limits, cancel, on_progress, user, collect_utterance, &r, duration_s, message, message_size);
    av_free(chain);
    if (duration_s && *duration_s > 1) *duration_s -= 1;  /* the padding */
    if (count) *count = r.count;
    return status;
}

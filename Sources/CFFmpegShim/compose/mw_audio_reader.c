/* Decoding and resampling one narration or music file for compose. */
#include "compose/mw_audio_reader.h"

#include <string.h>
#include <libavutil/channel_layout.h>
#include <libavutil/opt.h>

mw_status mw_audio_reader_open(mw_audio_reader *reader, const char *path, int out_rate, const AVChannelLayout *layout,
                               const mw_limits *limits, mw_cancel_token *cancel, char *message, size_t message_size) {
    memset(reader, 0, sizeof(*reader));
    reader->stream_index = -1;
    reader->out_rate = out_rate;
    if (av_channel_layout_copy(&reader->out_layout, layout) < 0) return mw_fail(message, message_size, MW_E_OUT_OF_MEMORY, "out of memory");
    mw_interrupt_init(&reader->interrupt, cancel, limits ? limits->timeout_ms : 0);
    mw_status status = mw_open_input(path, limits, &reader->interrupt, &reader->format, message, message_size);
    if (status != MW_OK) return status;
    const AVCodec *codec = NULL;
    int index = av_find_best_stream(reader->format, AVMEDIA_TYPE_AUDIO, -1, -1, &codec, 0);
    if (index < 0 || !codec) return mw_fail(message, message_size, MW_E_NO_MEDIA_STREAMS, "input has no audio stream");
    reader->stream_index = index;
    reader->stream = reader->format->streams[index];
    /* 0: the stream's own rate. */
    if (reader->out_rate <= 0) reader->out_rate = reader->stream->codecpar->sample_rate > 0 ? reader->stream->codecpar->sample_rate : 48000;
    for (unsigned i = 0; i < reader->format->nb_streams; i++)
        if ((int)i != index) reader->format->streams[i]->discard = AVDISCARD_ALL;
    reader->decoder = avcodec_alloc_context3(codec);
    reader->packet = av_packet_alloc();
    reader->frame = av_frame_alloc();
    reader->fifo = av_audio_fifo_alloc(AV_SAMPLE_FMT_FLTP, layout->nb_channels, 4096);
    if (!reader->decoder || !reader->packet || !reader->frame || !reader->fifo)
        return mw_fail(message, message_size, MW_E_OUT_OF_MEMORY, "out of memory");
    int ret = avcodec_parameters_to_context(reader->decoder, reader->stream->codecpar);
    if (ret < 0) return mw_fail(message, message_size, MW_E_INTERNAL, "decoder parameters: %s", av_err2str(ret));
    reader->decoder->pkt_timebase = reader->stream->time_base;
    ret = avcodec_open2(reader->decoder, codec, NULL);
    if (ret < 0) return mw_fail(message, message_size, MW_E_INPUT_CORRUPT, "cannot open the %s decoder: %s", codec->name, av_err2str(ret));
    return MW_OK;
}

static mw_status open_resampler(mw_audio_reader *reader, const AVFrame *frame, char *message, size_t message_size) {
    AVChannelLayout in_layout = {0};
    if (frame->ch_layout.order == AV_CHANNEL_ORDER_UNSPEC || frame->ch_layout.nb_channels <= 0) {
        if (frame->ch_layout.nb_channels <= 0) return mw_fail(message, message_size, MW_E_INPUT_CORRUPT, "audio has no channels");
        av_channel_layout_default(&in_layout, frame->ch_layout.nb_channels);
    } else if (av_channel_layout_copy(&in_layout, &frame->ch_layout) < 0) {
        return mw_fail(message, message_size, MW_E_OUT_OF_MEMORY, "out of memory");
    }
    int ret = swr_alloc_set_opts2(&reader->resampler, &reader->out_layout, AV_SAMPLE_FMT_FLTP, reader->out_rate,
                                  &in_layout, frame->format, frame->sample_rate, 0, NULL);
    av_channel_layout_uninit(&in_layout);
    if (ret >= 0) ret = swr_init(reader->resampler);
    if (ret < 0) return mw_fail(message, message_size, MW_E_INPUT_CORRUPT, "cannot resample this audio: %s", av_err2str(ret));
    reader->in_rate = frame->sample_rate;
    reader->in_format = frame->format;
    reader->in_channels = frame->ch_layout.nb_channels;
    return MW_OK;
}

/* Resamples `frame` (NULL: flush) into the FIFO. */
static mw_status resample(mw_audio_reader *reader, const AVFrame *frame, char *message, size_t message_size) {
    int in_count = frame ? frame->nb_samples : 0;
    int capacity = swr_get_out_samples(reader->resampler, in_count);
    if (capacity <= 0) return MW_OK;
    if (av_audio_fifo_realloc(reader->fifo, av_audio_fifo_size(reader->fifo) + capacity) < 0)
        return mw_fail(message, message_size, MW_E_OUT_OF_MEMORY, "out of memory");
    uint8_t *planes[AV_NUM_DATA_POINTERS] = {0};
    int channels = reader->out_layout.nb_channels;
    float *buffer = av_malloc_array((size_t)capacity * channels, sizeof(float));
    if (!buffer) return mw_fail(message, message_size, MW_E_OUT_OF_MEMORY, "out of memory");
    for (int c = 0; c < channels && c < AV_NUM_DATA_POINTERS; c++) planes[c] = (uint8_t *)(buffer + (size_t)c * capacity);
    int made = swr_convert(reader->resampler, planes, capacity, frame ? (const uint8_t **)frame->extended_data : NULL, in_count);
    if (made > 0) av_audio_fifo_write(reader->fifo, (void **)planes, made);
    av_free(buffer);
    if (made < 0) return mw_fail(message, message_size, MW_E_INPUT_CORRUPT, "audio cannot be resampled: %s", av_err2str(made));
    return MW_OK;
}

/* Decodes until the FIFO holds `wanted` samples or the input has ended. */
static mw_status fill(mw_audio_reader *reader, int wanted, char *message, size_t message_size) {
    while (!reader->ended && av_audio_fifo_size(reader->fifo) < wanted) {
        int ret = avcodec_receive_frame(reader->decoder, reader->frame);
        if (ret == 0) {
            AVFrame *frame = reader->frame;
            if (frame->sample_rate <= 0 || frame->nb_samples < 0) {
                av_frame_unref(frame);
                return mw_fail(message, message_size, MW_E_INPUT_CORRUPT, "audio frame without a sample rate");
            }
            mw_status status = MW_OK;
            if (!reader->resampler) status = open_resampler(reader, frame, message, message_size);
            else if (frame->sample_rate != reader->in_rate || frame->format != (int)reader->in_format ||
                     frame->ch_layout.nb_channels != reader->in_channels)
                status = mw_fail(message, message_size, MW_E_INPUT_CORRUPT, "the audio format changes in the middle of the file");
            if (status == MW_OK) {
                reader->input_samples += frame->nb_samples;
                status = resample(reader, frame, message, message_size);
            }
            av_frame_unref(frame);
            if (status != MW_OK) return status;
            continue;
        }
        if (ret == AVERROR_EOF) {
            if (reader->resampler) {
                mw_status status = resample(reader, NULL, message, message_size);
                if (status != MW_OK) return status;
            }
            reader->ended = 1;
            break;
        }
        if (ret != AVERROR(EAGAIN) && ret != AVERROR_INVALIDDATA)
            return mw_fail(message, message_size, MW_E_INPUT_CORRUPT, "audio cannot be decoded: %s", av_err2str(ret));
        if (reader->draining) {
            avcodec_send_packet(reader->decoder, NULL);
            continue;
        }
        if (mw_interrupt_check(&reader->interrupt))
            return mw_fail(message, message_size, (mw_status)reader->interrupt.fired, "stopped");
        ret = av_read_frame(reader->format, reader->packet);
        if (ret == AVERROR_EOF || (ret < 0 && avio_feof(reader->format->pb) && !reader->interrupt.fired)) {
            reader->draining = 1;
            avcodec_send_packet(reader->decoder, NULL);
            continue;
        }
        if (ret < 0)
            return mw_fail(message, message_size, mw_status_from_averror(ret, &reader->interrupt), "input cannot be read: %s", av_err2str(ret));
        if (reader->packet->stream_index == reader->stream_index) {
            ret = avcodec_send_packet(reader->decoder, reader->packet);
            /* A damaged packet is a short gap. */
            if (ret < 0 && ret != AVERROR(EAGAIN) && ret != AVERROR_INVALIDDATA) {
                av_packet_unref(reader->packet);
                return mw_fail(message, message_size, MW_E_INPUT_CORRUPT, "audio cannot be decoded: %s", av_err2str(ret));
            }
        }
        av_packet_unref(reader->packet);
    }
    return MW_OK;
}

mw_status mw_audio_reader_read(mw_audio_reader *reader, float **planes, int count, int *got, char *message, size_t message_size) {
    *got = 0;
    mw_status status = fill(reader, count, message, message_size);
    if (status != MW_OK) return status;
    int available = av_audio_fifo_size(reader->fifo);
    int n = available < count ? available : count;
    if (n > 0) {
        int read = av_audio_fifo_read(reader->fifo, (void **)planes, n);
        if (read < 0) return mw_fail(message, message_size, MW_E_INTERNAL, "audio buffer failed");
        *got = read;
    }
    return MW_OK;
}

int64_t mw_audio_reader_length(const mw_audio_reader *reader) {
    if (reader->in_rate <= 0) return 0;
    return av_rescale_rnd(reader->input_samples, reader->out_rate, reader->in_rate, AV_ROUND_NEAR_INF);
}

void mw_audio_reader_close(mw_audio_reader *reader) {
    swr_free(&reader->resampler);
    if (reader->fifo) av_audio_fifo_free(reader->fifo);
    reader->fifo = NULL;
    av_frame_free(&reader->frame);
    av_packet_free(&reader->packet);
    avcodec_free_context(&reader->decoder);
    avformat_close_input(&reader->format);
    av_channel_layout_uninit(&reader->out_layout);
}

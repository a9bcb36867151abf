/* One audio file decoded and resampled to the output's rate and layout (planar float),
 * read in chunks; its exact length at the output rate is known once it has ended. Internal. */
#ifndef MW_AUDIO_READER_H
#define MW_AUDIO_READER_H

#include "core/mw_internal.h"
#include <libavcodec/avcodec.h>
#include <libavutil/audio_fifo.h>
#include <libswresample/swresample.h>

typedef struct mw_audio_reader {
    AVFormatContext *format;
    AVCodecContext *decoder;
    AVStream *stream;
    int stream_index;
    SwrContext *resampler;
    AVAudioFifo *fifo;
    AVPacket *packet;
    AVFrame *frame;
    int out_rate;
    AVChannelLayout out_layout;
    int in_rate;                /* what the resampler was set up for; 0 before the first frame */
    enum AVSampleFormat in_format;
    int in_channels;
    int64_t input_samples;      /* decoded, at the input rate */
    int draining, ended;
    mw_interrupt interrupt;
} mw_audio_reader;

/* `out_rate` 0: the stream's own rate (read it back from `out_rate`). */
mw_status mw_audio_reader_open(mw_audio_reader *reader, const char *path, int out_rate, const AVChannelLayout *layout,
                               const mw_limits *limits, mw_cancel_token *cancel, char *message, size_t message_size);

/* Reads up to `count` samples into `planes` (one per output channel); *got < count only at the end. */
mw_status mw_audio_reader_read(mw_audio_reader *reader, float **planes, int count, int *got, char *message, size_t message_size);

/* The length at the output rate of everything decoded: the input's own sample count rescaled,
 * so resampler delay never adds or loses time. Final once a read came back short. */
int64_t mw_audio_reader_length(const mw_audio_reader *reader);

void mw_audio_reader_close(mw_audio_reader *reader);

#endif

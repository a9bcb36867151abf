/* Decoding chains of a transcode: the video chain decodes and makes frames upright,
 * progressive and constant-rate (one shared filter graph before the rungs); the audio chain
 * decodes, resamples in sync with its timestamps and encodes AAC once for every output.
 * Internal. */
#ifndef MW_DECODE_CHAIN_H
#define MW_DECODE_CHAIN_H

#include "core/mw_internal.h"
#include <libavcodec/avcodec.h>
#include <libavfilter/avfilter.h>

typedef mw_status (*mw_frame_sink)(void *user, AVFrame *frame, char *message, size_t message_size);
typedef mw_status (*mw_packet_sink)(void *user, AVPacket *packet, char *message, size_t message_size);
/* Sees a frame on its way (it stays the caller's): quality control's view of the decode. */
typedef mw_status (*mw_frame_tap)(void *user, const AVFrame *frame, char *message, size_t message_size);

typedef struct mw_video_chain {
    AVStream *stream;
    AVCodecContext *decoder;
    AVFilterGraph *graph;
    AVFilterContext *source, *sink;
    AVFrame *frame;
    int64_t origin;            /* in the stream's time base: subtracted so time starts at 0 */
    AVRational frame_rate;     /* of the output */
    int width, height;         /* of the output, upright */
    AVRational sar;            /* of the output */
    int draining;
    int64_t end_pts;           /* end of the last decoded frame (input time base, from 0) */
} mw_video_chain;

/* The output rate: the source's (its real base rate when the rate varies), capped, and
 * snapped to the standard rate it is within 0.5% of (29.97 stays 30000/1001). */
AVRational mw_choose_frame_rate(const AVStream *stream, double max_fps);

mw_status mw_video_chain_open(mw_video_chain *chain, AVFormatContext *format, int stream_index, int64_t origin_us,
                              AVRational frame_rate, double start_s, const mw_limits *limits, int threads,
                              char *message, size_t message_size);

/* Decodes `packet` (NULL: end of input) and hands every output frame to `emit`. */
mw_status mw_video_chain_send(mw_video_chain *chain, const AVPacket *packet, mw_frame_sink emit, void *user,
                              char *message, size_t message_size);

void mw_video_chain_close(mw_video_chain *chain);

/* The even-sized picture with the output's display aspect fitted in the box (turned for
 * portrait pictures), never larger than the output itself. */
void mw_fit_video(const mw_video_chain *chain, int box_width, int box_height, int *width, int *height);

typedef struct mw_audio_chain {
    AVStream *stream;
    AVCodecContext *decoder, *encoder;
    AVFilterGraph *graph;
    AVFilterContext *source, *sink;
    AVFrame *frame;
    AVPacket *packet;
    int64_t origin;
    int64_t next_pts;     /* end of what the filters were given, in samples at the decoder's rate */
    int draining;
    mw_frame_tap tap;     /* set after opening: each resampled frame, pts in the encoder's time base */
    void *tap_user;
} mw_audio_chain;

/* The loudness correction as filter text ending in a comma ("" for none): `volume` by `gain_db`,
 * then, with `limit_db` below 0, a lookahead limiter at that ceiling. At least 160 bytes. */
void mw_loudness_filters(char *text, size_t size, double gain_db, double limit_db);

/* `gain_db`: one linear gain for the whole stream (loudness normalisation), 0 for none;
 * `limit_db`: a lookahead limiter's ceiling after it (dBFS, below 0), 0 for none. */
mw_status mw_audio_chain_open(mw_audio_chain *chain, AVFormatContext *format, int stream_index, int64_t origin_us,
                              const mw_encode_settings *settings, double gain_db, double limit_db, int global_header,
                              char *message, size_t message_size);

/* Decodes, resamples and encodes `packet` (NULL: end of input); AAC packets go to `emit`. */
mw_status mw_audio_chain_send(mw_audio_chain *chain, const AVPacket *packet, mw_packet_sink emit, void *user,
                              char *message, size_t message_size);

/* Feeds silence from the end of what the chain has been given up to `until_s` (output time):
 * audio that is not coming for that stretch, so the encoded audio keeps up with the video. */
mw_status mw_audio_chain_fill_silence(mw_audio_chain *chain, double until_s, mw_packet_sink emit, void *user,
                                      char *message, size_t message_size);

void mw_audio_chain_close(mw_audio_chain *chain);

/* An AAC-LC encoder (planar float in, `bit_rate` 0: 128 kb/s). */
mw_status mw_open_aac_encoder(AVCodecContext **out, int sample_rate, int channels, int bit_rate, int global_header,
                              char *message, size_t message_size);

#endif

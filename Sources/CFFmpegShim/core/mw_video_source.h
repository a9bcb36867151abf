/* A decoded video stream of an untrusted input: open, read frames, seek. Internal. */
#ifndef MW_VIDEO_SOURCE_H
#define MW_VIDEO_SOURCE_H

#include "core/mw_internal.h"
#include <libavcodec/avcodec.h>

typedef struct mw_video_source {
    AVFormatContext *format;
    AVCodecContext *decoder;
    AVStream *stream;
    int stream_index;
    int rotation;          /* clockwise degrees to show it upright */
    AVRational sar;        /* sample aspect ratio, 1:1 when unknown */
    double duration_s;     /* > 0 when known */
    mw_interrupt interrupt;
    AVPacket *packet;
    int draining;          /* end of input reached, decoder being flushed */
    double last_time;      /* time of the last frame decoded, -1 after a seek */
    int keyframes_only;    /* non-key packets are not decoded */
} mw_video_source;

mw_status mw_video_source_open(mw_video_source *source, const char *path, const mw_limits *limits,
                               mw_cancel_token *cancel, int keyframes_only, char *message, size_t message_size);

/* Decodes the next frame into `frame`. Returns MW_OK, or MW_E_INPUT_CORRUPT etc.; at the end
 * of the stream returns MW_OK with *end set. */
mw_status mw_video_source_next(mw_video_source *source, AVFrame *frame, int *end, char *message, size_t message_size);

/* Seeks to the keyframe at or before `time_s` and flushes the decoder. */
mw_status mw_video_source_seek(mw_video_source *source, double time_s, char *message, size_t message_size);

/* The frame at or just after `time_s` into `frame` (its time in *frame_time), `scratch` a
 * second frame to decode into; times asked in order within a GOP decode on instead of seeking. */
mw_status mw_video_source_frame_at(mw_video_source *source, double time_s, AVFrame *frame, AVFrame *scratch, double *frame_time,
                                   char *message, size_t message_size);

/* A frame's presentation time in seconds from the stream start. */
double mw_video_source_time(const mw_video_source *source, const AVFrame *frame);

void mw_video_source_close(mw_video_source *source);

#endif

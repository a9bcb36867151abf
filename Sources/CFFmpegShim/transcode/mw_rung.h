/* One video rendition of a ladder: its own thread scales the shared frames to the
 * rendition's size and encodes them (libx264, libx265 or libsvtav1), then hands packets (and, when the audio
 * is muxed, the shared audio packets) to its packager. Internal. */
#ifndef MW_RUNG_H
#define MW_RUNG_H

#include "package/mw_packager.h"
#include "transcode/mw_rung_judge.h"
#include <pthread.h>
#include <stdatomic.h>

#define MW_RUNG_QUEUE_CAPACITY 8

typedef struct mw_rung_item {
    AVFrame *frame;    /* a video frame (with `reference`, the source frame to judge it against, when judging), or */
    AVFrame *reference;
    AVPacket *audio;   /* an audio packet; both NULL: end of input, unless */
    int watermark;     /* set: no audio before `audio_until_s` is coming */
    double audio_until_s;
} mw_rung_item;

/* Muxed audio: video waits for the audio up to its time, but the audio is never let fall more
 * than this behind the demuxer (see mw_transcode.c). When the audio ends early, has a long
 * hole or no packets at all, video would otherwise pile up in memory until the end. */
#define MW_RUNG_AUDIO_WAIT_S 20.0

typedef struct mw_rung {
    int width, height;
    int codec;                 /* mw_video_codec */
    AVRational frame_rate;
    AVCodecContext *encoder;
    struct SwsContext *scaler;
    AVFrame *scaled;
    struct mw_rung *child;     /* the next smaller rung, fed this rung's scaled pictures */
    mw_rung_judge *judge;      /* NULL unless the encode is judged in the pass (mw_rung_judge_open'ed) */
    AVPacket *packet;
    mw_packager packager;
    AVRational audio_time_base;
    double segment_s;          /* HLS target; 0 for a single file */
    double next_cut_s;
    double tail_from_s, tail_to_s;  /* no segment starts in [from, to]: the input's last moments */
    AVPacket **pending_audio;  /* audio waiting for the video it interleaves with */
    int pending_count, pending_capacity;
    AVPacket **pending_video;  /* video waiting for the audio up to its time (muxed audio) */
    int pending_video_count, pending_video_capacity;
    double audio_received_s;   /* decoding time of the latest audio packet received (or watermark) */
    double audio_wait_peak_s;  /* the longest span of video held waiting for audio */

    pthread_mutex_t lock;
    pthread_cond_t changed;
    mw_rung_item items[MW_RUNG_QUEUE_CAPACITY];
    int head, count;
    int sync_ready, thread_started;
    pthread_t thread;
    atomic_int *abort;         /* shared by the whole job: set by whoever fails first */

    mw_status status;
    char message[512];
} mw_rung;

/* The libav encoder of an mw_video_codec, NULL for none. */
const char *mw_video_encoder_name(int codec);
/* SVT-AV1's preset number for an x264 preset name. */
int mw_svtav1_preset(const char *x264_preset);

/* Opens the encoder for a `width`x`height` picture at `frame_rate`, keyframes every `gop_s`
 * (forced by the caller, never by scene cuts), with `threads` codec threads (0: libx264's choice). */
mw_status mw_rung_open(mw_rung *rung, int width, int height, AVRational frame_rate, const mw_video_rung *spec,
                       const mw_encode_settings *settings, int threads, int global_header, atomic_int *abort,
                       char *message, size_t message_size);

/* Starts the rung's thread; its packager must be open. */
mw_status mw_rung_start(mw_rung *rung, double segment_s, double first_cut_s, AVRational audio_time_base, char *message, size_t message_size);

/* Queues a reference to `frame` (blocking while the queue is full), and to `reference` (the
 * source frame at the judge's size, NULL when the rung is not judged). */
mw_status mw_rung_push_frame(mw_rung *rung, const AVFrame *frame, const AVFrame *reference);
mw_status mw_rung_push_audio(mw_rung *rung, const AVPacket *packet);

/* Tells the rung that no audio before `until_s` (output time) will come: video up to then
 * goes out without waiting for it (INFINITY: the audio is over). */
mw_status mw_rung_push_audio_watermark(mw_rung *rung, double until_s);

/* Ends the input, waits for the thread and reports its outcome. */
mw_status mw_rung_finish(mw_rung *rung, char *message, size_t message_size);

/* Wakes the rung's waiters so they see an abort raised elsewhere. */
void mw_rung_wake(mw_rung *rung);

/* Aborts the job and joins the rung's thread. Call for every rung before closing any: a
 * larger rung may be waiting on a smaller one's queue. */
void mw_rung_stop(mw_rung *rung);

void mw_rung_close(mw_rung *rung);

#endif

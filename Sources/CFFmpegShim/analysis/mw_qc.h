/* Black, frozen and silent stretches found by FFmpeg's blackdetect, freezedetect and
 * silencedetect on the frames a transcode decodes anyway (a reference to each frame, no copy).
 * Internal. */
#ifndef MW_QC_H
#define MW_QC_H

#include "core/mw_internal.h"
#include <libavfilter/avfilter.h>
#include <libavutil/frame.h>

typedef struct mw_qc_runs {
    mw_qc_interval *items;
    int count, capacity;
    double open_start;           /* < 0: no run open */
} mw_qc_runs;

typedef struct mw_qc_side {
    AVFilterGraph *graph;
    AVFilterContext *source, *sink;
    AVFrame *out;
    AVRational time_base;
    double first_s, end_s;       /* what was looked at: its first time and its end */
    int seen;
} mw_qc_side;

typedef struct mw_qc {
    mw_qc_settings settings;
    mw_qc_side video, audio;
    mw_qc_runs black, frozen, silence;
} mw_qc;

void mw_qc_init(mw_qc *qc, const mw_qc_settings *settings);

/* The video side: frames of this format and size, `time_base` their pts' unit (1/frame rate). */
mw_status mw_qc_open_video(mw_qc *qc, int width, int height, int pixel_format, AVRational sar, AVRational time_base,
                           char *message, size_t message_size);
/* The audio side: frames as the audio chain's filters give them to the encoder. */
mw_status mw_qc_open_audio(mw_qc *qc, int sample_rate, int sample_format, const AVChannelLayout *layout, AVRational time_base,
                           char *message, size_t message_size);

/* Looks at one frame (the frame stays the caller's). */
mw_status mw_qc_video_frame(mw_qc *qc, const AVFrame *frame, double duration_s, char *message, size_t message_size);
mw_status mw_qc_audio_frame(mw_qc *qc, const AVFrame *frame, char *message, size_t message_size);

/* Ends both sides (runs still open end where the decoded media ends) and fills `report`. */
mw_status mw_qc_finish(mw_qc *qc, mw_qc_report *report, char *message, size_t message_size);

void mw_qc_close(mw_qc *qc);

#endif

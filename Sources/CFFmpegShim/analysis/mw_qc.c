/* Black, frozen and silent stretches (see mw_qc.h): FFmpeg's detectors run with no minimum of
 * their own (black, frozen) so that a run cut by a part's edge is still seen; runs are kept when
 * long enough or touching an edge, and the caller applies the minimums after joining parts. */
#include "analysis/mw_qc.h"
#include "core/mw_filter_graph.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <libavfilter/buffersink.h>
#include <libavfilter/buffersrc.h>
#include <libavutil/avstring.h>
#include <libavutil/channel_layout.h>
#include <libavutil/pixdesc.h>

void mw_qc_settings_init_default(mw_qc_settings *settings) {
    if (!settings) return;
    memset(settings, 0, sizeof(*settings));
    settings->black_min_s = 2;
    settings->black_pixel_threshold = 0.10;
    settings->black_picture_ratio = 0.98;
    settings->freeze_min_s = 2;
    settings->freeze_noise_db = -60;
    settings->silence_min_s = 2;
    settings->silence_noise_db = -60;
}

void mw_qc_init(mw_qc *qc, const mw_qc_settings *settings) {
    memset(qc, 0, sizeof(*qc));
    qc->settings = *settings;
    qc->black.open_start = qc->frozen.open_start = qc->silence.open_start = -1;
}

static mw_status open_side(mw_qc_side *side, const char *source_filter, const char *args, const char *sink_filter,
                           const char *description, AVRational time_base, char *message, size_t message_size) {
    side->time_base = time_base;
    side->out = av_frame_alloc();
    int ret = side->out ? mw_filter_graph_build(&side->graph, &side->source, &side->sink, source_filter, args, sink_filter, description)
                        : AVERROR(ENOMEM);
    if (ret < 0) return mw_fail(message, message_size, MW_E_INTERNAL, "cannot set up quality control (%s): %s", description, av_err2str(ret));
    return MW_OK;
}

mw_status mw_qc_open_video(mw_qc *qc, int width, int height, int pixel_format, AVRational sar, AVRational time_base,
                           char *message, size_t message_size) {
    const char *format = av_get_pix_fmt_name(pixel_format);
    if (!format) return mw_fail(message, message_size, MW_E_INTERNAL, "quality control: unknown pixel format");
    if (sar.num <= 0 || sar.den <= 0) sar = (AVRational){1, 1};
    char *args = av_asprintf("video_size=%dx%d:pix_fmt=%s:time_base=%d/%d:pixel_aspect=%d/%d",
                             width, height, format, time_base.num, time_base.den, sar.num, sar.den);
    char *description = av_asprintf("blackdetect=d=0:pix_th=%.4f:pic_th=%.4f,freezedetect=n=%.2fdB:d=0",
                                     qc->settings.black_pixel_threshold, qc->settings.black_picture_ratio, qc->settings.freeze_noise_db);
    mw_status status = open_side(&qc->video, "buffer", args, "buffersink", description, time_base, message, message_size);
    av_free(args);
    av_free(description);
    return status;
}

mw_status mw_qc_open_audio(mw_qc *qc, int sample_rate, int sample_format, const AVChannelLayout *layout, AVRational time_base,
                           char *message, size_t message_size) {
    char layout_name[64];
    av_channel_layout_describe(layout, layout_name, sizeof(layout_name));
    const char *format = av_get_sample_fmt_name(sample_format);
    if (!format) return mw_fail(message, message_size, MW_E_INTERNAL, "quality control: unknown sample format");
    char *args = av_asprintf("time_base=%d/%d:sample_rate=%d:sample_fmt=%s:channel_layout=%s",
                             time_base.num, time_base.den, sample_rate, format, layout_name);
    /* Silence is one run over the whole audio (never cut by parts): its own minimum applies
     * (none would make every zero crossing a run). */
    char *description = av_asprintf("silencedetect=n=%.2fdB:d=%.3f", qc->settings.silence_noise_db, qc->settings.silence_min_s);
    mw_status status = open_side(&qc->audio, "abuffer", args, "abuffersink", description, time_base, message, message_size);
    av_free(args);
    av_free(description);
    return status;
}

static int add_run(mw_qc_runs *runs, double start, double end) {
    if (runs->count == runs->capacity) {
        int capacity = runs->capacity ? runs->capacity * 2 : 64;
        mw_qc_interval *grown = av_realloc_array(runs->items, capacity, sizeof(*grown));
        if (!grown) return AVERROR(ENOMEM);
        runs->items = grown;
        runs->capacity = capacity;
    }
    runs->items[runs->count++] = (mw_qc_interval){start, end};
    return 0;
}

/* A run that ended: kept when long enough, or when it starts at the first thing looked at
 * (it may have begun in the part before); one still open at the end is the finisher's. */
static int close_run(mw_qc_runs *runs, double end, double minimum, double first_s) {
    double start = runs->open_start;
    runs->open_start = -1;
    if (start < 0 || end <= start) return 0;
    if (end - start >= minimum - 1e-6 || start <= first_s + 1e-6) return add_run(runs, start, end);
    return 0;
}

static mw_status read_video(mw_qc *qc, char *message, size_t message_size) {
    for (;;) {
        int ret = av_buffersink_get_frame(qc->video.sink, qc->video.out);
        if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF) return MW_OK;
        if (ret < 0) return mw_fail(message, message_size, MW_E_INTERNAL, "quality control failed: %s", av_err2str(ret));
        int found;
        double t;
        /* An end before a start: a run that ends on the very frame another begins. */
        t = mw_frame_metadata_number(qc->video.out, "lavfi.black_end", &found);
        if (found && close_run(&qc->black, t, qc->settings.black_min_s, qc->video.first_s) < 0) ret = AVERROR(ENOMEM);
        t = mw_frame_metadata_number(qc->video.out, "lavfi.black_start", &found);
        if (found) qc->black.open_start = t;
        t = mw_frame_metadata_number(qc->video.out, "lavfi.freezedetect.freeze_end", &found);
        if (found && close_run(&qc->frozen, t, qc->settings.freeze_min_s, qc->video.first_s) < 0) ret = AVERROR(ENOMEM);
        t = mw_frame_metadata_number(qc->video.out, "lavfi.freezedetect.freeze_start", &found);
        if (found) qc->frozen.open_start = t;
        av_frame_unref(qc->video.out);
        if (ret < 0) return mw_fail(message, message_size, MW_E_OUT_OF_MEMORY, "out of memory");
    }
}

static mw_status read_audio(mw_qc *qc, char *message, size_t message_size) {
    for (;;) {
        int ret = av_buffersink_get_frame(qc->audio.sink, qc->audio.out);
        if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF) return MW_OK;
        if (ret < 0) return mw_fail(message, message_size, MW_E_INTERNAL, "quality control failed: %s", av_err2str(ret));
        int found;
        double t = mw_frame_metadata_number(qc->audio.out, "lavfi.silence_start", &found);
        if (found) qc->silence.open_start = fmax(0, t);
        t = mw_frame_metadata_number(qc->audio.out, "lavfi.silence_end", &found);
        if (found && close_run(&qc->silence, t, qc->settings.silence_min_s, qc->audio.first_s) < 0) ret = AVERROR(ENOMEM);
        av_frame_unref(qc->audio.out);
        if (ret < 0) return mw_fail(message, message_size, MW_E_OUT_OF_MEMORY, "out of memory");
    }
}

mw_status mw_qc_video_frame(mw_qc *qc, const AVFrame *frame, double duration_s, char *message, size_t message_size) {
    if (!qc->video.graph) return MW_OK;
    double time_s = frame->pts * av_q2d(qc->video.time_base);
    if (!qc->video.seen) qc->video.first_s = time_s;
    qc->video.seen = 1;
    qc->video.end_s = time_s + duration_s;
    int ret = av_buffersrc_add_frame_flags(qc->video.source, (AVFrame *)frame, AV_BUFFERSRC_FLAG_KEEP_REF);
    if (ret < 0) return mw_fail(message, message_size, MW_E_INTERNAL, "quality control failed: %s", av_err2str(ret));
    return read_video(qc, message, message_size);
}

mw_status mw_qc_audio_frame(mw_qc *qc, const AVFrame *frame, char *message, size_t message_size) {
    if (!qc->audio.graph || frame->sample_rate <= 0) return MW_OK;
    double time_s = frame->pts * av_q2d(qc->audio.time_base);
    if (!qc->audio.seen) qc->audio.first_s = time_s;
    qc->audio.seen = 1;
    qc->audio.end_s = time_s + (double)frame->nb_samples / frame->sample_rate;
    int ret = av_buffersrc_add_frame_flags(qc->audio.source, (AVFrame *)frame, AV_BUFFERSRC_FLAG_KEEP_REF);
    if (ret < 0) return mw_fail(message, message_size, MW_E_INTERNAL, "quality control failed: %s", av_err2str(ret));
    return read_audio(qc, message, message_size);
}

static void copy_runs(const mw_qc_runs *runs, mw_qc_interval *out, int32_t *count, int32_t *truncated) {
    int n = runs->count < MW_QC_MAX_INTERVALS ? runs->count : MW_QC_MAX_INTERVALS;
    if (runs->count > n) *truncated = 1;
    if (n > 0) memcpy(out, runs->items, sizeof(*out) * n);
    *count = n;
}

mw_status mw_qc_finish(mw_qc *qc, mw_qc_report *report, char *message, size_t message_size) {
    memset(report, 0, sizeof(*report));
    mw_status status = MW_OK;
    if (qc->video.graph && qc->video.seen) {
        if (av_buffersrc_add_frame(qc->video.source, NULL) >= 0) status = read_video(qc, message, message_size);
        /* Runs still open end with the media: kept whatever their length (the next part may go on). */
        if (status == MW_OK && qc->black.open_start >= 0 && add_run(&qc->black, qc->black.open_start, qc->video.end_s) < 0) status = MW_E_OUT_OF_MEMORY;
        if (status == MW_OK && qc->frozen.open_start >= 0 && add_run(&qc->frozen, qc->frozen.open_start, qc->video.end_s) < 0) status = MW_E_OUT_OF_MEMORY;
        report->video_measured = 1;
    }
    if (status == MW_OK && qc->audio.graph && qc->audio.seen) {
        if (av_buffersrc_add_frame(qc->audio.source, NULL) >= 0) status = read_audio(qc, message, message_size);
        /* silencedetect reports a start only once the minimum has passed: an open run is long enough. */
        if (status == MW_OK && qc->silence.open_start >= 0 && add_run(&qc->silence, qc->silence.open_start, qc->audio.end_s) < 0) status = MW_E_OUT_OF_MEMORY;
        report->audio_measured = 1;
    }
    if (status == MW_E_OUT_OF_MEMORY) return mw_fail(message, message_size, status, "out of memory");
    if (status != MW_OK) return status;
    copy_runs(&qc->black, report->black, &report->black_count, &report->truncated);
    copy_runs(&qc->frozen, report->frozen, &report->frozen_count, &report->truncated);
    copy_runs(&qc->silence, report->silence, &report->silence_count, &report->truncated);
    return MW_OK;
}

static void close_side(mw_qc_side *side) {
    avfilter_graph_free(&side->graph);
    av_frame_free(&side->out);
}

void mw_qc_close(mw_qc *qc) {
    close_side(&qc->video);
    close_side(&qc->audio);
    av_freep(&qc->black.items);
    av_freep(&qc->frozen.items);
    av_freep(&qc->silence.items);
}

/* Transcoding: one demux and one decode feeding every rendition (HLS ladders, MP4 files).
 *
 * The main thread reads, decodes and filters; each video rung scales and encodes on its own
 * thread; the audio is encoded once and either packaged as its own rendition or handed to
 * every rung. Keyframes are decided here, by time, so every rung gets them on the same frames. */
#include "analysis/mw_qc.h"
#include "core/mw_decode_chain.h"
#include "preview/mw_preview_tap.h"
#include "transcode/mw_rung.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <libavfilter/buffersink.h>
#include <libavutil/avstring.h>
#include <libavutil/cpu.h>
#include <libswscale/swscale.h>

void mw_encode_settings_init_default(mw_encode_settings *settings) {
    if (!settings) return;
    memset(settings, 0, sizeof(*settings));
    snprintf(settings->preset, sizeof(settings->preset), "veryfast");
    settings->gop_s = 2;
    settings->audio_bitrate = 128000;
    settings->audio_channels = 2;
    settings->audio_stream = -1;
}

void mw_hls_settings_init_default(mw_hls_settings *settings) {
    if (!settings) return;
    memset(settings, 0, sizeof(*settings));
    settings->segment_format = MW_SEGMENTS_FMP4;
    settings->target_duration_s = 6;
    settings->audio_muxed = 0;
    settings->part = MW_PART_WHOLE;
    settings->range_start_s = settings->range_end_s = settings->timeline_offset_s = 0;
    mw_preview_settings_init_default(&settings->preview);
}

/* An audio rendition besides the main one (another language, a commentary): its own chain
 * and packager, segments cut on the same boundaries. */
typedef struct mw_extra_audio {
    const struct mw_transcode_job *job;
    int stream_index;
    mw_audio_chain chain;
    mw_packager packager;
    int chain_open, packager_open;
    double next_cut_s, segment_s;
} mw_extra_audio;

typedef struct mw_transcode_job mw_transcode_job;
struct mw_transcode_job {
    const char *output;              /* HLS directory or MP4 path */
    mw_packager_kind kind;
    const mw_encode_settings *settings;
    double segment_s;                /* 0: no segments */
    int audio_muxed;
    int part;                        /* mw_package_part */
    double range_start_s, range_end_s;
    double forced_offset_s;          /* > 0: the timeline offset given by the caller */
    int range_done;                  /* a video range: its last frame has gone to the rungs */
    mw_limits limits;
    mw_interrupt interrupt;
    AVFormatContext *format;
    int video_index, audio_index;
    mw_video_chain video;
    mw_audio_chain audio;
    int video_open, audio_open;
    mw_rung rungs[MW_MAX_RENDITIONS];
    char rung_names[MW_MAX_RENDITIONS][16];
    int rung_has_parent[MW_MAX_RENDITIONS];  /* fed by a larger rung rather than by the main loop */
    int finish_order[MW_MAX_RENDITIONS];     /* largest first: a rung ends after the one feeding it */
    int rung_count, rungs_open;
    mw_packager audio_packager;
    int audio_packager_open;
    mw_extra_audio extra_audio[MW_MAX_AUDIO_TRACKS - 1];
    int extra_audio_count;
    const mw_hls_settings *hls;      /* NULL for an MP4 file */
    double audio_next_cut_s;
    double next_key_s, next_segment_s;
    double timeline_offset_s;        /* HLS: the same for every rendition */
    atomic_int abort;
    double duration_s;
    double tail_from_s, tail_to_s;   /* no segment starts here: a last segment this short would only inflate the peak */
    double origin_s;                 /* the input's start time: output times count from it */
    double video_demuxed_s, audio_demuxed_s, audio_watermark_s;  /* output times, for muxed audio */
    int audio_finished;              /* the audio chain is flushed: its stream ended before the video */
    int audio_filling;               /* the audio fell behind: silence is fed in its place */
    double reported;
    mw_progress_callback on_progress;
    void *user;
    mw_qc qc;                        /* black, frozen, silent stretches, when asked */
    int qc_on;
    mw_preview_tap preview;          /* the animated preview, when asked */
    int preview_on;
    int judge_on;                    /* hls->judge_psnr: each rung compared with the source in the pass */
    int judge_width, judge_height;   /* at the largest rung's size */
    struct SwsContext *judge_scaler; /* the source to that size, when it differs */
};

static int stop_requested(mw_transcode_job *job) {
    return atomic_load(&job->abort) || mw_interrupt_check(&job->interrupt);
}

/* The source frame as the judges compare with it: 4:2:0 at the largest rung's size (bicubic, as
 * the quality meter scales it), shared when it already is. A new picture each frame: the rungs
 * hold it until their encoders give that frame back. */
static mw_status judge_reference(mw_transcode_job *job, const AVFrame *frame, AVFrame **reference, char *message, size_t message_size) {
    AVFrame *made = av_frame_alloc();
    if (!made) return mw_fail(message, message_size, MW_E_OUT_OF_MEMORY, "out of memory");
    if (frame->width == job->judge_width && frame->height == job->judge_height && frame->format == AV_PIX_FMT_YUV420P) {
        if (av_frame_ref(made, frame) < 0) {
            av_frame_free(&made);
            return mw_fail(message, message_size, MW_E_OUT_OF_MEMORY, "out of memory");
        }
    } else {
        job->judge_scaler = sws_getCachedContext(job->judge_scaler, frame->width, frame->height, frame->format, job->judge_width,
                                                 job->judge_height, AV_PIX_FMT_YUV420P, SWS_BICUBIC, NULL, NULL, NULL);
        made->format = AV_PIX_FMT_YUV420P;
        made->width = job->judge_width;
        made->height = job->judge_height;
        if (!job->judge_scaler || av_frame_get_buffer(made, 0) < 0) {
            av_frame_free(&made);
            return mw_fail(message, message_size, MW_E_INTERNAL, "cannot scale the source to compare it");
        }
        sws_scale(job->judge_scaler, (const uint8_t *const *)frame->data, frame->linesize, 0, frame->height, made->data, made->linesize);
    }
    made->pts = frame->pts;
    *reference = made;
    return MW_OK;
}

/* Forces keyframes by time: every GOP, and on the first frame of every segment (where the
 * GOP starts again), so segment boundaries are IDRs in every rung. */
static mw_status distribute_frame(void *opaque, AVFrame *frame, char *message, size_t message_size) {
    mw_transcode_job *job = opaque;
    double frame_s = 1 / av_q2d(job->video.frame_rate);
    double time_s = frame->pts * frame_s;
    double half = frame_s / 2;
    if (job->part == MW_PART_VIDEO_RANGE) {
        /* Frames before the range were decoded only to reach it; from its end on, another part's. */
        if (time_s < job->range_start_s - half) return MW_OK;
        if (job->range_end_s > 0 && time_s >= job->range_end_s - half) {
            job->range_done = 1;
            return MW_OK;
        }
    }
    if (job->qc_on) {
        mw_status looked = mw_qc_video_frame(&job->qc, frame, frame_s, message, message_size);
        if (looked != MW_OK) return looked;
    }
    if (job->preview_on) {
        mw_status taken = mw_preview_tap_frame(&job->preview, frame, time_s, frame_s, message, message_size);
        if (taken != MW_OK) return taken;
    }
    frame->pict_type = AV_PICTURE_TYPE_NONE;
    if (job->segment_s > 0 && time_s >= job->next_segment_s - half) {
        frame->pict_type = AV_PICTURE_TYPE_I;
        while (job->next_segment_s <= time_s + half) job->next_segment_s += job->segment_s;
        job->next_key_s = time_s + job->settings->gop_s;
    } else if (time_s >= job->next_key_s - half) {
        frame->pict_type = AV_PICTURE_TYPE_I;
        while (job->next_key_s <= time_s + half) job->next_key_s += job->settings->gop_s;
    }
    AVFrame *reference = NULL;
    if (job->judge_on) {
        mw_status made = judge_reference(job, frame, &reference, message, message_size);
        if (made != MW_OK) return made;
    }
    for (int i = 0; i < job->rung_count; i++) {
        if (job->rung_has_parent[i]) continue;
        mw_status status = mw_rung_push_frame(&job->rungs[i], frame, reference);
        if (status != MW_OK) av_frame_free(&reference);
        if (status == MW_E_CANCELED) return MW_E_CANCELED;   /* a rung failed; its message wins */
        if (status != MW_OK) return mw_fail(message, message_size, status, "cannot queue a frame");
    }
    av_frame_free(&reference);
    return MW_OK;
}

/* Whether an audio packet at `time_s` starts a segment: the first at or past each cut. */
static int audio_starts_segment(const mw_transcode_job *job, double time_s, double segment_s, double *next_cut_s) {
    if (segment_s <= 0 || time_s < *next_cut_s) return 0;
    int starts = *next_cut_s > 0 && !(time_s >= job->tail_from_s && time_s <= job->tail_to_s);
    while (*next_cut_s <= time_s) *next_cut_s += segment_s;
    return starts;
}

static mw_status write_extra_audio(void *opaque, AVPacket *packet, char *message, size_t message_size) {
    mw_extra_audio *extra = opaque;
    double time_s = packet->pts * av_q2d(extra->chain.encoder->time_base);
    int starts_segment = audio_starts_segment(extra->job, time_s, extra->segment_s, &extra->next_cut_s);
    return mw_packager_write(&extra->packager, packet, 0, starts_segment, message, message_size);
}

static mw_status distribute_audio(void *opaque, AVPacket *packet, char *message, size_t message_size) {
    mw_transcode_job *job = opaque;
    if (job->audio_packager_open) {
        double time_s = packet->pts * av_q2d(job->audio.encoder->time_base);
        int starts_segment = audio_starts_segment(job, time_s, job->segment_s, &job->audio_next_cut_s);
        return mw_packager_write(&job->audio_packager, packet, 0, starts_segment, message, message_size);
    }
    for (int i = 0; i < job->rung_count; i++) {
        mw_status status = mw_rung_push_audio(&job->rungs[i], packet);
        if (status == MW_E_CANCELED) return MW_E_CANCELED;
        if (status != MW_OK) return mw_fail(message, message_size, status, "cannot queue audio");
    }
    return MW_OK;
}

static mw_status look_at_audio(void *opaque, const AVFrame *frame, char *message, size_t message_size) {
    return mw_qc_audio_frame(&((mw_transcode_job *)opaque)->qc, frame, message, message_size);
}

/* Quality control on the chains prepare() opened: the video as the rungs get it (upright,
 * constant rate), the main audio as the encoder gets it. */
static mw_status open_qc(mw_transcode_job *job, const mw_qc_settings *settings, char *message, size_t message_size) {
    mw_qc_init(&job->qc, settings);
    job->qc_on = 1;
    mw_status status = MW_OK;
    if (job->video_open)
        status = mw_qc_open_video(&job->qc, job->video.width, job->video.height, av_buffersink_get_format(job->video.sink),
                                  job->video.sar, av_inv_q(job->video.frame_rate), message, message_size);
    if (status == MW_OK && job->audio_open) {
        const AVCodecContext *encoder = job->audio.encoder;
        status = mw_qc_open_audio(&job->qc, encoder->sample_rate, encoder->sample_fmt, &encoder->ch_layout, encoder->time_base,
                                  message, message_size);
        job->audio.tap = look_at_audio;
        job->audio.tap_user = job;
    }
    return status;
}

static void report_progress(mw_transcode_job *job, double fraction) {
    if (!job->on_progress) return;
    if (fraction > 1) fraction = 1;
    if (fraction < job->reported + 0.01 && fraction < 1) return;
    job->reported = fraction;
    job->on_progress(job->user, fraction);
}

static mw_status open_input(mw_transcode_job *job, const char *input, char *message, size_t message_size) {
    mw_status status = mw_open_input(input, &job->limits, &job->interrupt, &job->format, message, message_size);
    if (status != MW_OK) return status;
    job->video_index = av_find_best_stream(job->format, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);
    if (job->video_index >= 0 && (job->format->streams[job->video_index]->disposition & AV_DISPOSITION_ATTACHED_PIC))
        job->video_index = -1;
    job->audio_index = av_find_best_stream(job->format, AVMEDIA_TYPE_AUDIO, -1, -1, NULL, 0);
    int wanted = job->hls ? -1 : job->settings->audio_stream;
    if (wanted >= 0) {
        if (wanted >= (int)job->format->nb_streams || job->format->streams[wanted]->codecpar->codec_type != AVMEDIA_TYPE_AUDIO)
            return mw_fail(message, message_size, MW_E_INVALID_ARGUMENT, "stream %d is not an audio stream", wanted);
        job->audio_index = wanted;
    }
    int chosen = job->hls ? job->hls->audio_stream_count : 0;
    if (chosen < 0 || chosen > MW_MAX_AUDIO_TRACKS)
        return mw_fail(message, message_size, MW_E_INVALID_ARGUMENT, "between 0 and %d audio streams", MW_MAX_AUDIO_TRACKS);
    for (int i = 0; i < chosen; i++) {
        int index = job->hls->audio_streams[i];
        if (index < 0 || index >= (int)job->format->nb_streams || job->format->streams[index]->codecpar->codec_type != AVMEDIA_TYPE_AUDIO)
            return mw_fail(message, message_size, MW_E_INVALID_ARGUMENT, "stream %d is not an audio stream of the input", index);
        for (int j = 0; j < i; j++)
            if (job->hls->audio_streams[j] == index) return mw_fail(message, message_size, MW_E_INVALID_ARGUMENT, "audio stream %d chosen twice", index);
        if (i == 0) job->audio_index = index;
        else job->extra_audio[job->extra_audio_count++].stream_index = index;
    }
    if (job->extra_audio_count > 0 && (job->audio_muxed || job->kind == MW_PACKAGE_MP4_FILE))
        return mw_fail(message, message_size, MW_E_INVALID_ARGUMENT, "several audio renditions need shared (not muxed) audio");
    if (job->video_index < 0 && job->audio_index < 0)
        return mw_fail(message, message_size, MW_E_NO_MEDIA_STREAMS, "input has neither video nor audio");
    /* A part of a split package reads only its own stream. */
    if (job->part == MW_PART_VIDEO_RANGE) {
        if (job->video_index < 0) return mw_fail(message, message_size, MW_E_NO_MEDIA_STREAMS, "input has no video to split");
        job->audio_index = -1;
        job->extra_audio_count = 0;
    } else if (job->part == MW_PART_AUDIO) {
        if (job->audio_index < 0) return mw_fail(message, message_size, MW_E_NO_MEDIA_STREAMS, "input has no audio");
        job->video_index = -1;
    }
    for (unsigned i = 0; i < job->format->nb_streams; i++) {
        int used = (int)i == job->video_index || (int)i == job->audio_index;
        for (int k = 0; k < job->extra_audio_count; k++) used |= (int)i == job->extra_audio[k].stream_index;
        if (!used) job->format->streams[i]->discard = AVDISCARD_ALL;
    }
    if (job->format->duration != AV_NOPTS_VALUE && job->format->duration > 0)
        job->duration_s = job->format->duration / (double)AV_TIME_BASE;
    return MW_OK;
}

static int rung_area(const mw_rung *rung) { return rung->width * rung->height; }

/* Chains the rungs largest to smallest: each is scaled from the next larger one. */
static void link_rungs(mw_transcode_job *job) {
    for (int i = 0; i < job->rung_count; i++) job->finish_order[i] = i;
    for (int i = 1; i < job->rung_count; i++) {
        for (int j = i; j > 0 && rung_area(&job->rungs[job->finish_order[j]]) > rung_area(&job->rungs[job->finish_order[j - 1]]); j--) {
            int swap = job->finish_order[j];
            job->finish_order[j] = job->finish_order[j - 1];
            job->finish_order[j - 1] = swap;
        }
    }
    for (int k = 1; k < job->rung_count; k++) {
        mw_rung *parent = &job->rungs[job->finish_order[k - 1]], *child = &job->rungs[job->finish_order[k]];
        if (child->width <= parent->width && child->height <= parent->height) {
            parent->child = child;
            job->rung_has_parent[job->finish_order[k]] = 1;
        }
    }
}

/* Opens decoders, encoders and packagers; starts the rung threads. */
static mw_status prepare(mw_transcode_job *job, const mw_video_rung *specs, int spec_count, char *message, size_t message_size) {
    const mw_encode_settings *settings = job->settings;
    int64_t origin = job->format->start_time != AV_NOPTS_VALUE ? job->format->start_time : 0;
    job->origin_s = origin / (double)AV_TIME_BASE;
    job->video_demuxed_s = job->audio_demuxed_s = job->audio_watermark_s = 0;
    job->audio_finished = job->audio_filling = 0;
    int global_header = job->kind != MW_PACKAGE_HLS_TS;
    mw_status status;
    if (job->audio_index >= 0) {
        double gain = job->hls ? job->hls->audio_gain_db[0] : settings->audio_gain_db;
        double limit = job->hls ? job->hls->audio_limit_db[0] : settings->audio_limit_db;
        status = mw_audio_chain_open(&job->audio, job->format, job->audio_index, origin, settings, gain, limit, global_header, message, message_size);
        job->audio_open = 1;
        if (status != MW_OK) return status;
    }
    AVCodecParameters *audio_par = NULL;
    if (job->audio_open) {
        audio_par = avcodec_parameters_alloc();
        if (!audio_par || avcodec_parameters_from_context(audio_par, job->audio.encoder) < 0) {
            avcodec_parameters_free(&audio_par);
            return mw_fail(message, message_size, MW_E_OUT_OF_MEMORY, "out of memory");
        }
    }
    AVRational audio_tb = job->audio_open ? job->audio.encoder->time_base : (AVRational){1, 48000};
    /* No video: the audio is the whole presentation, as its own rendition. */
    int audio_separate = job->audio_open && (!job->audio_muxed || job->video_index < 0) && job->kind != MW_PACKAGE_MP4_FILE;
    if (job->video_index < 0 && job->kind == MW_PACKAGE_MP4_FILE) {
        avcodec_parameters_free(&audio_par);
        return mw_fail(message, message_size, MW_E_NO_MEDIA_STREAMS, "input has no video stream");
    }

    status = MW_OK;
    if (job->video_index >= 0) {
        AVStream *stream = job->format->streams[job->video_index];
        AVRational rate = mw_choose_frame_rate(stream, settings->max_fps);
        double start_s = job->part == MW_PART_VIDEO_RANGE ? job->range_start_s : 0;
        status = mw_video_chain_open(&job->video, job->format, job->video_index, origin, rate, start_s, &job->limits,
                                     settings->threads, message, message_size);
        job->video_open = 1;
        int widths[MW_MAX_RENDITIONS], heights[MW_MAX_RENDITIONS];
        double total_area = 0;
        for (int i = 0; i < spec_count; i++) {
            mw_fit_video(&job->video, specs[i].max_width, specs[i].max_height, &widths[i], &heights[i]);
            total_area += (double)widths[i] * heights[i];
        }
        for (int i = 0; status == MW_OK && i < spec_count; i++) {
            int width = widths[i], height = heights[i];
            /* The rungs run side by side, so each encoder gets threads for its share of the
             * pixels rather than one per core each (less frame-threading overhead, steadier). */
            int threads = settings->threads;
            if (threads == 0 && spec_count > 1)
                threads = (int)fmax(1, lround(av_cpu_count() * 1.5 * width * height / total_area));
            status = mw_rung_open(&job->rungs[i], width, height, rate, &specs[i], settings, threads, global_header, &job->abort,
                                  message, message_size);
            job->rung_count = i + 1;
            /* Directory names say the short side ("360p" also for a 360x640 portrait rung);
             * a second rung of the same size gets a suffix. */
            int short_side = width < height ? width : height;
            static const char *suffixes[] = {"", "-hevc", "-av1"};
            const char *suffix = suffixes[specs[i].codec];
            snprintf(job->rung_names[i], sizeof(job->rung_names[i]), "%dp%s", short_side, suffix);
            for (int j = 0; j < i; j++) {
                if (!strcmp(job->rung_names[j], job->rung_names[i])) {
                    snprintf(job->rung_names[i], sizeof(job->rung_names[i]), "%dp%s-%d", short_side, suffix, i + 1);
                    break;
                }
            }
        }
        /* Every rendition shares one timeline offset that keeps the earliest decoding time
         * (B-frame delay, AAC priming) at or above zero. */
        double needed = job->audio_open ? job->audio.encoder->initial_padding / (double)job->audio.encoder->sample_rate : 0;
        for (int i = 0; status == MW_OK && i < job->rung_count; i++)
            needed = fmax(needed, (job->rungs[i].encoder->has_b_frames + 1) / av_q2d(rate));
        job->timeline_offset_s = job->forced_offset_s > 0 ? job->forced_offset_s : fmax(MW_HLS_TIMELINE_OFFSET_S, ceil(needed * 10) / 10);
        for (int i = 0; status == MW_OK && i < job->rung_count; i++) {
            AVCodecParameters *video_par = avcodec_parameters_alloc();
            if (!video_par || avcodec_parameters_from_context(video_par, job->rungs[i].encoder) < 0) {
                avcodec_parameters_free(&video_par);
                status = mw_fail(message, message_size, MW_E_OUT_OF_MEMORY, "out of memory");
                break;
            }
            char *location = job->kind == MW_PACKAGE_MP4_FILE ? av_strdup(job->output)
                                                              : av_asprintf("%s/%s", job->output, job->rung_names[i]);
            if (!location) status = mw_fail(message, message_size, MW_E_OUT_OF_MEMORY, "out of memory");
            if (status == MW_OK)
                status = mw_packager_open(&job->rungs[i].packager, job->kind, location, video_par, job->rungs[i].encoder->time_base,
                                          audio_separate ? NULL : audio_par, audio_tb, message, message_size);
            av_free(location);
            avcodec_parameters_free(&video_par);
            job->rungs[i].packager.timeline_offset_s = job->timeline_offset_s;
            if (job->part == MW_PART_VIDEO_RANGE) {
                job->rungs[i].packager.segment_base = (int)lround(job->range_start_s / job->segment_s);
                job->rungs[i].packager.first_start_s = job->range_start_s;
            }
            if (status == MW_OK) status = mw_packager_start(&job->rungs[i].packager, message, message_size);
        }
    }
    if (job->timeline_offset_s == 0)
        job->timeline_offset_s = job->forced_offset_s > 0 ? job->forced_offset_s : MW_HLS_TIMELINE_OFFSET_S;
    if (status == MW_OK && audio_separate) {
        char *location = av_asprintf("%s/audio", job->output);
        status = location ? mw_packager_open(&job->audio_packager, job->kind, location, NULL, (AVRational){0, 1}, audio_par,
                                             audio_tb, message, message_size)
                          : mw_fail(message, message_size, MW_E_OUT_OF_MEMORY, "out of memory");
        av_free(location);
        job->audio_packager_open = 1;
        job->audio_packager.timeline_offset_s = job->timeline_offset_s;
        if (status == MW_OK) status = mw_packager_start(&job->audio_packager, message, message_size);
    }
    avcodec_parameters_free(&audio_par);
    for (int k = 0; status == MW_OK && k < job->extra_audio_count; k++) {
        mw_extra_audio *extra = &job->extra_audio[k];
        extra->job = job;
        double gain = job->hls && k + 1 < MW_MAX_AUDIO_TRACKS ? job->hls->audio_gain_db[k + 1] : 0;
        double limit = job->hls && k + 1 < MW_MAX_AUDIO_TRACKS ? job->hls->audio_limit_db[k + 1] : 0;
        status = mw_audio_chain_open(&extra->chain, job->format, extra->stream_index, origin, settings, gain, limit, global_header,
                                     message, message_size);
        extra->chain_open = 1;
        AVCodecParameters *par = status == MW_OK ? avcodec_parameters_alloc() : NULL;
        if (status == MW_OK && (!par || avcodec_parameters_from_context(par, extra->chain.encoder) < 0))
            status = mw_fail(message, message_size, MW_E_OUT_OF_MEMORY, "out of memory");
        char *location = status == MW_OK ? av_asprintf("%s/audio-%d", job->output, k + 1) : NULL;
        if (status == MW_OK && !location) status = mw_fail(message, message_size, MW_E_OUT_OF_MEMORY, "out of memory");
        if (status == MW_OK) {
            status = mw_packager_open(&extra->packager, job->kind, location, NULL, (AVRational){0, 1}, par,
                                      extra->chain.encoder->time_base, message, message_size);
            extra->packager_open = 1;
            extra->packager.timeline_offset_s = job->timeline_offset_s;
            extra->segment_s = job->segment_s;
            if (status == MW_OK) status = mw_packager_start(&extra->packager, message, message_size);
        }
        av_free(location);
        avcodec_parameters_free(&par);
    }
    /* A segment boundary in the input's last half second would make a segment of a frame or two
     * whose bit rate (an IDR over a few ms) inflates the peak BANDWIDTH: that tail joins the segment
     * before. Only within the declared duration: an input longer than it declares is cut as usual. */
    job->tail_from_s = job->tail_to_s = INFINITY;
    if (job->segment_s > 0 && job->duration_s > job->segment_s) {
        job->tail_from_s = job->duration_s - fmin(0.5, job->segment_s / 4);
        job->tail_to_s = job->duration_s + 0.05;
    }
    link_rungs(job);
    if (job->hls && job->hls->judge_psnr) {
        /* Judged at the largest rung's picture: every rung is compared as a player shows it there. */
        for (int i = 0; i < job->rung_count; i++) {
            if ((int64_t)job->rungs[i].width * job->rungs[i].height > (int64_t)job->judge_width * job->judge_height) {
                job->judge_width = job->rungs[i].width;
                job->judge_height = job->rungs[i].height;
            }
        }
        for (int i = 0; status == MW_OK && i < job->rung_count; i++) {
            job->rungs[i].judge = av_mallocz(sizeof(mw_rung_judge));
            if (!job->rungs[i].judge) return mw_fail(message, message_size, MW_E_OUT_OF_MEMORY, "out of memory");
            status = mw_rung_judge_open(job->rungs[i].judge, job->rungs[i].encoder, job->judge_width, job->judge_height, message, message_size);
        }
        job->judge_on = status == MW_OK && job->rung_count > 0;
    }
    for (int i = 0; status == MW_OK && i < job->rung_count; i++) {
        job->rungs[i].tail_from_s = job->tail_from_s;
        job->rungs[i].tail_to_s = job->tail_to_s;
        double first_cut_s = job->part == MW_PART_VIDEO_RANGE ? job->range_start_s : 0;
        status = mw_rung_start(&job->rungs[i], job->segment_s, first_cut_s, audio_tb, message, message_size);
        job->rungs_open = i + 1;
    }
    return status;
}

/* The message of the rung that failed first, when the main thread only saw the abort. */
static mw_status rung_failure(mw_transcode_job *job, char *message, size_t message_size) {
    for (int i = 0; i < job->rung_count; i++)
        if (job->rungs[i].status != MW_OK) return mw_fail(message, message_size, job->rungs[i].status, "%s", job->rungs[i].message);
    return MW_OK;
}

static int audio_muxed_into_rungs(const mw_transcode_job *job) {
    return job->audio_open && !job->audio_packager_open && job->rung_count > 0;
}

/* Muxed audio: rungs hold video until the audio of its time has arrived. Audio more than
 * MW_RUNG_AUDIO_WAIT_S behind the demuxer's video (it ended early, has a hole, or there is
 * none) is not coming for that stretch: silence is fed in its place, in order, so what the
 * rungs hold stays bounded and every segment's audio still matches its video. Audio that comes
 * later continues after it (the resampler keeps the timestamps). */
static mw_status note_demuxed(mw_transcode_job *job, const AVPacket *packet, const AVStream *stream,
                              char *message, size_t message_size) {
    int64_t ts = packet->dts != AV_NOPTS_VALUE ? packet->dts : packet->pts;
    if (ts == AV_NOPTS_VALUE) return MW_OK;
    double time_s = ts * av_q2d(stream->time_base) - job->origin_s;
    if (packet->stream_index == job->audio_index) {
        if (time_s > job->audio_demuxed_s) job->audio_demuxed_s = time_s;
        return MW_OK;
    }
    if (time_s > job->video_demuxed_s) job->video_demuxed_s = time_s;
    if (!audio_muxed_into_rungs(job) || job->audio_finished) return MW_OK;
    double watermark = job->video_demuxed_s - MW_RUNG_AUDIO_WAIT_S;
    if (watermark <= job->audio_demuxed_s || watermark < job->audio_watermark_s + 1) return MW_OK;
    job->audio_watermark_s = watermark;
    job->audio_filling = 1;
    return mw_audio_chain_fill_silence(&job->audio, watermark, distribute_audio, job, message, message_size);
}

/* Whether `packet` ends an audio stream that the container says stops well before the rest
 * (5 s or more): its encoder's tail is then flushed at once, in order with the video, instead
 * of at the end of the input. */
static int ends_short_audio(const mw_transcode_job *job, const AVPacket *packet, const AVStream *stream) {
    if (stream->duration == AV_NOPTS_VALUE || stream->duration <= 0 || job->duration_s <= 0 || packet->pts == AV_NOPTS_VALUE) return 0;
    int64_t start = stream->start_time != AV_NOPTS_VALUE ? stream->start_time : 0;
    double end_s = (start + stream->duration) * av_q2d(stream->time_base) - job->origin_s;
    double packet_end_s = (packet->pts + (packet->duration > 0 ? packet->duration : 0)) * av_q2d(stream->time_base) - job->origin_s;
    return end_s + MW_RUNG_AUDIO_WAIT_S / 4 < job->duration_s && packet_end_s >= end_s - 0.001;
}

/* The audio is over: flushed through its chain, and rungs no longer wait for it. */
static mw_status finish_audio(mw_transcode_job *job, char *message, size_t message_size) {
    job->audio_finished = 1;
    mw_status status = mw_audio_chain_send(&job->audio, NULL, distribute_audio, job, message, message_size);
    if (status != MW_OK || job->audio_packager_open) return status;
    for (int i = 0; i < job->rung_count && status == MW_OK; i++) status = mw_rung_push_audio_watermark(&job->rungs[i], INFINITY);
    return status;
}

/* A video range starts from the keyframe before it (a second earlier still, so a B-frame's
 * earlier presentation cannot hide it): the frames before the range are decoded and dropped,
 * so the range's first frame is the source's, whatever its GOP. */
static mw_status seek_to_range(mw_transcode_job *job, char *message, size_t message_size) {
    job->next_segment_s = job->next_key_s = job->range_start_s;
    if (job->range_start_s <= 0) return MW_OK;
    AVStream *stream = job->format->streams[job->video_index];
    int64_t origin = job->format->start_time != AV_NOPTS_VALUE ? job->format->start_time : 0;
    int64_t target = av_rescale_q(origin + (int64_t)((job->range_start_s - 1) * AV_TIME_BASE), AV_TIME_BASE_Q, stream->time_base);
    int ret = av_seek_frame(job->format, job->video_index, target, AVSEEK_FLAG_BACKWARD);
    if (ret < 0) ret = av_seek_frame(job->format, job->video_index, av_rescale_q(origin, AV_TIME_BASE_Q, stream->time_base), AVSEEK_FLAG_BACKWARD);
    if (ret < 0) return mw_fail(message, message_size, MW_E_INPUT_CORRUPT, "cannot seek to %.3f s: %s", job->range_start_s, av_err2str(ret));
    return MW_OK;
}

static mw_status run(mw_transcode_job *job, char *message, size_t message_size) {
    if (job->part == MW_PART_VIDEO_RANGE) {
        mw_status sought = seek_to_range(job, message, message_size);
        if (sought != MW_OK) return sought;
    }
    AVPacket *packet = av_packet_alloc();
    if (!packet) return mw_fail(message, message_size, MW_E_OUT_OF_MEMORY, "out of memory");
    mw_status status = MW_OK;
    for (;;) {
        if (stop_requested(job) || job->range_done) break;
        int ret = av_read_frame(job->format, packet);
        if (ret == AVERROR_EOF || (ret < 0 && avio_feof(job->format->pb) && !job->interrupt.fired)) break;
        if (ret < 0) {
            status = mw_fail(message, message_size, mw_status_from_averror(ret, &job->interrupt), "input cannot be read: %s", av_err2str(ret));
            break;
        }
        AVStream *stream = job->format->streams[packet->stream_index];
        if (packet->pts != AV_NOPTS_VALUE && job->duration_s > 0) {
            int64_t start = stream->start_time != AV_NOPTS_VALUE ? stream->start_time : 0;
            double at = (packet->pts - start) * av_q2d(stream->time_base);
            if (job->part == MW_PART_VIDEO_RANGE) {
                double end = job->range_end_s > 0 ? fmin(job->range_end_s, job->duration_s) : job->duration_s;
                if (end > job->range_start_s) report_progress(job, fmax(0, (at - job->range_start_s) / (end - job->range_start_s)) * 0.99);
            } else {
                report_progress(job, at / job->duration_s * 0.99);
            }
        }
        status = note_demuxed(job, packet, stream, message, message_size);
        if (status != MW_OK) {
            av_packet_unref(packet);
            break;
        }
        if (packet->stream_index == job->video_index && job->video_open)
            status = mw_video_chain_send(&job->video, packet, distribute_frame, job, message, message_size);
        else if (packet->stream_index == job->audio_index && job->audio_open && !job->audio_finished) {
            status = mw_audio_chain_send(&job->audio, packet, distribute_audio, job, message, message_size);
            if (status == MW_OK && ends_short_audio(job, packet, stream)) status = finish_audio(job, message, message_size);
        } else {
            for (int k = 0; k < job->extra_audio_count; k++)
                if (packet->stream_index == job->extra_audio[k].stream_index)
                    status = mw_audio_chain_send(&job->extra_audio[k].chain, packet, write_extra_audio, &job->extra_audio[k], message, message_size);
        }
        av_packet_unref(packet);
        if (status != MW_OK) break;
    }
    av_packet_free(&packet);
    if (status == MW_OK && !stop_requested(job) && job->video_open)
        status = mw_video_chain_send(&job->video, NULL, distribute_frame, job, message, message_size);
    /* Audio that fell behind and never came back: silence up to the end of the video. */
    if (status == MW_OK && !stop_requested(job) && job->audio_filling && !job->audio_finished)
        status = mw_audio_chain_fill_silence(&job->audio, job->video_demuxed_s, distribute_audio, job, message, message_size);
    if (status == MW_OK && !stop_requested(job) && job->audio_open && !job->audio_finished)
        status = mw_audio_chain_send(&job->audio, NULL, distribute_audio, job, message, message_size);
    for (int k = 0; status == MW_OK && !stop_requested(job) && k < job->extra_audio_count; k++)
        status = mw_audio_chain_send(&job->extra_audio[k].chain, NULL, write_extra_audio, &job->extra_audio[k], message, message_size);
    if (job->interrupt.fired) return mw_fail(message, message_size, (mw_status)job->interrupt.fired,
                                             job->interrupt.fired == MW_E_CANCELED ? "canceled" : "timed out");
    if (atomic_load(&job->abort) || status != MW_OK) {
        /* A rung failed (or the main loop did): stop them all, then read their outcome. */
        for (int i = 0; i < job->rung_count; i++) mw_rung_stop(&job->rungs[i]);
        mw_status failed = rung_failure(job, message, message_size);
        return failed != MW_OK ? failed : status;
    }
    for (int k = 0; k < job->rung_count; k++) {
        status = mw_rung_finish(&job->rungs[job->finish_order[k]], message, message_size);
        if (status != MW_OK) return status;
    }
    for (int i = 0; i < job->rung_count; i++) {
        status = mw_packager_finish(&job->rungs[i].packager, message, message_size);
        if (status != MW_OK) return status;
    }
    if (job->audio_packager_open && (status = mw_packager_finish(&job->audio_packager, message, message_size)) != MW_OK) return status;
    for (int k = 0; k < job->extra_audio_count; k++)
        if ((status = mw_packager_finish(&job->extra_audio[k].packager, message, message_size)) != MW_OK) return status;
    report_progress(job, 1);
    return MW_OK;
}

static void cleanup(mw_transcode_job *job) {
    atomic_store(&job->abort, 1);
    for (int i = 0; i < job->rungs_open; i++) mw_rung_wake(&job->rungs[i]);
    for (int i = 0; i < job->rung_count; i++) mw_rung_stop(&job->rungs[i]);
    for (int i = 0; i < job->rung_count; i++) mw_rung_close(&job->rungs[i]);
    if (job->audio_packager_open) mw_packager_close(&job->audio_packager);
    for (int k = 0; k < job->extra_audio_count; k++) {
        if (job->extra_audio[k].packager_open) mw_packager_close(&job->extra_audio[k].packager);
        if (job->extra_audio[k].chain_open) mw_audio_chain_close(&job->extra_audio[k].chain);
    }
    if (job->video_open) mw_video_chain_close(&job->video);
    if (job->audio_open) mw_audio_chain_close(&job->audio);
    if (job->qc_on) mw_qc_close(&job->qc);
    sws_freeContext(job->judge_scaler);
    job->judge_scaler = NULL;
    if (job->preview_on) mw_preview_tap_close(&job->preview);
    avformat_close_input(&job->format);
}

static void describe_video(const mw_transcode_job *job, int i, mw_rendition_info *info) {
    memset(info, 0, sizeof(*info));
    mw_packager_describe(&job->rungs[i].packager, info);
    info->kind = MW_RENDITION_VIDEO;
    info->codec = job->rungs[i].codec;
    info->width = job->rungs[i].width;
    info->height = job->rungs[i].height;
    info->fps_num = job->video.frame_rate.num;
    info->fps_den = job->video.frame_rate.den;
    info->audio_channels = info->has_audio ? job->audio.encoder->ch_layout.nb_channels : 0;
    info->audio_wait_peak_s = job->rungs[i].audio_wait_peak_s;
    if (job->rungs[i].judge) {
        info->judged_frames = (int32_t)job->rungs[i].judge->frames;
        info->judged_mse_y_sum = job->rungs[i].judge->mse_y_sum;
    }
    if (job->kind != MW_PACKAGE_MP4_FILE) {
        snprintf(info->playlist, sizeof(info->playlist), "%s/index.m3u8", job->rung_names[i]);
        snprintf(info->iframe_playlist, sizeof(info->iframe_playlist), "%s/iframes.m3u8", job->rung_names[i]);
    }
}

static void describe_audio(const mw_transcode_job *job, const mw_packager *packager, int stream_index, const AVCodecContext *encoder,
                           const char *folder, mw_rendition_info *info) {
    memset(info, 0, sizeof(*info));
    mw_packager_describe(packager, info);
    info->kind = MW_RENDITION_AUDIO;
    info->audio_channels = encoder->ch_layout.nb_channels;
    snprintf(info->playlist, sizeof(info->playlist), "%s/index.m3u8", folder);
    info->source_stream = stream_index;
    const AVStream *stream = job->format->streams[stream_index];
    const AVDictionaryEntry *language = av_dict_get(stream->metadata, "language", NULL, 0);
    const AVDictionaryEntry *title = av_dict_get(stream->metadata, "title", NULL, 0);
    if (language) snprintf(info->language, sizeof(info->language), "%s", language->value);
    if (title) snprintf(info->name, sizeof(info->name), "%s", title->value);
    info->is_default = (stream->disposition & AV_DISPOSITION_DEFAULT) != 0;
}

static mw_status check_settings(const mw_encode_settings *settings, char *message, size_t message_size) {
    if (settings->gop_s <= 0 || settings->gop_s > 20) return mw_fail(message, message_size, MW_E_INVALID_ARGUMENT, "gop_s must be in (0, 20]");
    if (settings->max_fps < 0 || settings->max_fps > 240) return mw_fail(message, message_size, MW_E_INVALID_ARGUMENT, "max_fps must be in [0, 240]");
    return MW_OK;
}

static void job_init(mw_transcode_job *job, const char *output, const mw_encode_settings *settings, const mw_limits *limits,
                     mw_cancel_token *cancel, mw_progress_callback on_progress, void *user) {
    memset(job, 0, sizeof(*job));
    job->output = output;
    job->settings = settings;
    job->video_index = job->audio_index = -1;
    if (limits) job->limits = *limits; else mw_limits_init_default(&job->limits);
    mw_interrupt_init(&job->interrupt, cancel, job->limits.timeout_ms);
    atomic_init(&job->abort, 0);
    job->on_progress = on_progress;
    job->user = user;
}

mw_status mw_package_hls(const char *input, const char *output_dir, const mw_video_rung *rungs, int32_t rung_count,
                         const mw_encode_settings *settings_in, const mw_hls_settings *hls_in, const mw_limits *limits,
                         mw_cancel_token *cancel, mw_progress_callback on_progress, void *user,
                         mw_package_result *result, char *message, size_t message_size) {
    if (!input || !output_dir || !result) return mw_fail(message, message_size, MW_E_INVALID_ARGUMENT, "missing input, output or result");
    if (rung_count < 0 || rung_count > MW_MAX_RENDITIONS - 1 || (rung_count > 0 && !rungs))
        return mw_fail(message, message_size, MW_E_INVALID_ARGUMENT, "between 0 and %d video rungs", MW_MAX_RENDITIONS - 1);
    mw_encode_settings settings;
    if (settings_in) settings = *settings_in; else mw_encode_settings_init_default(&settings);
    mw_hls_settings hls;
    if (hls_in) hls = *hls_in; else mw_hls_settings_init_default(&hls);
    if (hls.target_duration_s < 1 || hls.target_duration_s > 60)
        return mw_fail(message, message_size, MW_E_INVALID_ARGUMENT, "target_duration_s must be in [1, 60]");
    mw_status status = check_settings(&settings, message, message_size);
    if (status != MW_OK) return status;
    memset(result, 0, sizeof(*result));

    mw_transcode_job job;
    job_init(&job, output_dir, &settings, limits, cancel, on_progress, user);
    job.kind = hls.segment_format == MW_SEGMENTS_TS ? MW_PACKAGE_HLS_TS : MW_PACKAGE_HLS_FMP4;
    job.hls = &hls;
    job.segment_s = hls.target_duration_s;
    job.audio_muxed = hls.audio_muxed;
    job.part = hls.part;
    job.range_start_s = hls.range_start_s;
    job.range_end_s = hls.range_end_s;
    job.forced_offset_s = hls.timeline_offset_s;
    if (job.part == MW_PART_VIDEO_RANGE) {
        double segments = hls.range_start_s / hls.target_duration_s;
        if (job.kind != MW_PACKAGE_HLS_FMP4 || hls.range_start_s < 0 || (!hls.range_anywhere && fabs(segments - round(segments)) > 1e-6)
            || (hls.range_end_s > 0 && hls.range_end_s <= hls.range_start_s)) {
            cleanup(&job);
            return mw_fail(message, message_size, MW_E_INVALID_ARGUMENT,
                           "a video range needs fMP4 segments and to start on a segment boundary");
        }
    }
    for (int i = 0; i < rung_count; i++) {
        if (rungs[i].codec < MW_CODEC_H264 || rungs[i].codec > MW_CODEC_AV1) {
            cleanup(&job);
            return mw_fail(message, message_size, MW_E_INVALID_ARGUMENT, "rung %d: unknown video codec %d", i, rungs[i].codec);
        }
        if (rungs[i].codec != MW_CODEC_H264 && job.kind != MW_PACKAGE_HLS_FMP4) {
            cleanup(&job);
            return mw_fail(message, message_size, MW_E_INVALID_ARGUMENT, "HEVC and AV1 rungs need fMP4 segments");
        }
    }
    status = open_input(&job, input, message, message_size);
    if (status == MW_OK && job.video_index >= 0 && rung_count == 0)
        status = mw_fail(message, message_size, MW_E_INVALID_ARGUMENT, "a video input needs at least one rung");
    if (status == MW_OK) status = prepare(&job, rungs, job.video_index >= 0 ? rung_count : 0, message, message_size);
    if (status == MW_OK && hls.qc.enabled) status = open_qc(&job, &hls.qc, message, message_size);
    if (status == MW_OK && hls.preview_path[0] && job.part == MW_PART_WHOLE && job.video_open) {
        hls.preview_path[sizeof(hls.preview_path) - 1] = 0;
        job.preview_on = 1;
        status = mw_preview_tap_open(&job.preview, hls.preview_path, &hls.preview, job.video.width, job.video.height,
                                     job.video.sar, job.duration_s, message, message_size);
    }
    if (status == MW_OK) status = run(&job, message, message_size);
    if (status == MW_OK && job.qc_on) status = mw_qc_finish(&job.qc, &result->qc, message, message_size);
    if (status == MW_OK && job.preview_on) {
        status = mw_preview_tap_finish(&job.preview, &result->preview, message, message_size);
        result->preview_made = status == MW_OK;
    }
    if (status == MW_OK) {
        for (int i = 0; i < job.rung_count; i++) describe_video(&job, i, &result->renditions[result->rendition_count++]);
        if (job.audio_packager_open) {
            mw_rendition_info *info = &result->renditions[result->rendition_count++];
            describe_audio(&job, &job.audio_packager, job.audio_index, job.audio.encoder, "audio", info);
        }
        for (int k = 0; k < job.extra_audio_count && result->rendition_count < MW_MAX_RENDITIONS; k++) {
            char folder[16];
            snprintf(folder, sizeof(folder), "audio-%d", k + 1);
            describe_audio(&job, &job.extra_audio[k].packager, job.extra_audio[k].stream_index, job.extra_audio[k].chain.encoder, folder,
                           &result->renditions[result->rendition_count++]);
        }
        for (int i = 0; i < result->rendition_count; i++)
            if (result->renditions[i].duration_s > result->duration_s) result->duration_s = result->renditions[i].duration_s;
        result->timeline_offset_s = job.timeline_offset_s;
    }
    cleanup(&job);
    return status;
}

mw_status mw_transcode_mp4(const char *input, const char *output_path, const mw_video_rung *rung,
                           const mw_encode_settings *settings_in, const mw_limits *limits,
                           mw_cancel_token *cancel, mw_progress_callback on_progress, void *user,
                           mw_rendition_info *result, char *message, size_t message_size) {
    if (!input || !output_path || !rung || !result) return mw_fail(message, message_size, MW_E_INVALID_ARGUMENT, "missing input, output or rung");
    mw_encode_settings settings;
    if (settings_in) settings = *settings_in; else mw_encode_settings_init_default(&settings);
    mw_status status = check_settings(&settings, message, message_size);
    if (status != MW_OK) return status;
    memset(result, 0, sizeof(*result));

    mw_transcode_job job;
    job_init(&job, output_path, &settings, limits, cancel, on_progress, user);
    job.kind = MW_PACKAGE_MP4_FILE;
    job.audio_muxed = 1;
    status = open_input(&job, input, message, message_size);
    if (status == MW_OK) status = prepare(&job, rung, 1, message, message_size);
    if (status == MW_OK) status = run(&job, message, message_size);
    if (status == MW_OK) describe_video(&job, 0, result);
    cleanup(&job);
    return status;
}

/* Compose: scenes of narration and pictures into one MP4, in sync to the frame.
 *
 * The audio decides the timeline: each scene lasts its narration (decoded once up front to
 * count its samples exactly at the output rate), and scene i's pictures run from the frame
 * nearest its audio start to the frame nearest its audio end, so no error accumulates
 * however many scenes there are. Crossfades overlap pictures only, centred on the boundary;
 * the narration is never overlapped or cut. The main thread renders and encodes audio; the
 * rung's thread encodes video and interleaves both into the file. */
#include "compose/mw_captions.h"
#include "compose/mw_compose_audio.h"
#include "core/mw_decode_chain.h"
#include "transcode/mw_rung.h"
#include "compose/mw_scene_visual.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <libavutil/channel_layout.h>

void mw_compose_options_init_default(mw_compose_options *options) {
    if (!options) return;
    memset(options, 0, sizeof(*options));
    options->width = 1280;
    options->height = 720;
    options->fps_num = 30;
    options->fps_den = 1;
    options->fit = MW_FIT_COVER;
    options->ken_burns_zoom = 0.12;
    options->caption_size = 0.055;
    options->music_db = -20;
    options->duck_db = -12;
    options->video.crf = 23;
    mw_encode_settings_init_default(&options->settings);
}

typedef struct mw_compose_job {
    const mw_compose_scene *scenes;
    int scene_count;
    mw_compose_options options;
    mw_limits limits;
    mw_interrupt interrupt;
    mw_cancel_token *cancel;
    AVRational frame_rate;
    int rate;
    AVChannelLayout layout;
    int64_t *scene_samples;         /* each scene's length at `rate` */
    int64_t *first_frame;           /* scene i: frames [first_frame[i], first_frame[i + 1]) */
    int64_t total_samples, total_frames;
    mw_compose_audio audio;
    int audio_open;
    AVCodecContext *aac;
    AVFrame *audio_frame;
    AVPacket *audio_packet;
    int64_t audio_position;
    int audio_done;
    mw_rung rung;
    int rung_open, rung_started;
    atomic_int abort;
    mw_captions captions;
    int captions_open;
    mw_scene_visual visuals[2];     /* the current scene's and the next one's */
    int visual_scene[2];            /* which scene each holds, -1 none */
    int failed_scene;
    mw_progress_callback on_progress;
    void *user;
    double reported;
} mw_compose_job;

static mw_status scene_failure(mw_compose_job *job, int scene, const char *part, mw_status status, char *message, size_t message_size) {
    char reason[400];
    snprintf(reason, sizeof(reason), "%s", message ? message : "");
    job->failed_scene = scene;
    return mw_fail(message, message_size, status, "scene %d (%s): %s", scene + 1, part, reason);
}

static mw_status check_options(const mw_compose_options *o, int scene_count, char *message, size_t message_size) {
    if (scene_count < 1 || scene_count > MW_MAX_SCENES) return mw_fail(message, message_size, MW_E_INVALID_ARGUMENT, "between 1 and %d scenes", MW_MAX_SCENES);
    if (o->width < 16 || o->height < 16 || o->width > 4096 || o->height > 4096 || o->width % 2 || o->height % 2)
        return mw_fail(message, message_size, MW_E_INVALID_ARGUMENT, "width and height must be even, 16..4096");
    if (o->fps_num <= 0 || o->fps_den <= 0 || (double)o->fps_num / o->fps_den > 120 || (double)o->fps_num / o->fps_den < 1)
        return mw_fail(message, message_size, MW_E_INVALID_ARGUMENT, "fps must be 1..120");
    if (o->fit != MW_FIT_COVER && o->fit != MW_FIT_LETTERBOX) return mw_fail(message, message_size, MW_E_INVALID_ARGUMENT, "fit is cover or letterbox");
    if (o->ken_burns && (o->ken_burns_zoom < 0.01 || o->ken_burns_zoom > 0.5))
        return mw_fail(message, message_size, MW_E_INVALID_ARGUMENT, "ken_burns zoom must be 0.01..0.5");
    if (o->transition_s < 0 || o->transition_s > 5) return mw_fail(message, message_size, MW_E_INVALID_ARGUMENT, "transition must be 0..5 s");
    if (o->captions && (o->caption_size < 0.02 || o->caption_size > 0.2))
        return mw_fail(message, message_size, MW_E_INVALID_ARGUMENT, "caption size must be 0.02..0.2 of the height");
    if (o->music && o->music[0] && (o->music_db < -60 || o->music_db > 0 || o->duck_db < -40 || o->duck_db > 0))
        return mw_fail(message, message_size, MW_E_INVALID_ARGUMENT, "music level must be -60..0 dB and ducking -40..0 dB");
    if (o->loudness_lufs != 0 && (o->loudness_lufs < -40 || o->loudness_lufs > -5))
        return mw_fail(message, message_size, MW_E_INVALID_ARGUMENT, "loudness target must be -40..-5 LUFS");
    if (o->settings.gop_s <= 0 || o->settings.gop_s > 20) return mw_fail(message, message_size, MW_E_INVALID_ARGUMENT, "gop_s must be in (0, 20]");
    if (o->settings.audio_channels < 0 || o->settings.audio_channels > 2)
        return mw_fail(message, message_size, MW_E_INVALID_ARGUMENT, "audio channels must be 1 or 2");
    return MW_OK;
}

/* Every scene checked and measured before anything is encoded: a bad one fails the job early,
 * naming it. */
static mw_status plan_timeline(mw_compose_job *job, char *message, size_t message_size) {
    job->scene_samples = av_calloc(job->scene_count, sizeof(int64_t));
    job->first_frame = av_calloc(job->scene_count + 1, sizeof(int64_t));
    if (!job->scene_samples || !job->first_frame) return mw_fail(message, message_size, MW_E_OUT_OF_MEMORY, "out of memory");
    double max_s = job->limits.max_duration_us / 1e6;
    for (int i = 0; i < job->scene_count; i++) {
        const mw_compose_scene *scene = &job->scenes[i];
        if (!scene->visual || !scene->visual[0])
            return scene_failure(job, i, "visual", mw_fail(message, message_size, MW_E_INVALID_ARGUMENT, "no visual"), message, message_size);
        if (!(scene->duration_s >= 0) || scene->duration_s > max_s)
            return scene_failure(job, i, "duration", mw_fail(message, message_size, MW_E_INVALID_ARGUMENT, "duration_s must be 0..%.0f", max_s), message, message_size);
        AVFormatContext *probe = NULL;
        mw_status status = mw_open_input(scene->visual, &job->limits, &job->interrupt, &probe, message, message_size);
        if (status == MW_OK && av_find_best_stream(probe, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0) < 0)
            status = mw_fail(message, message_size, MW_E_NO_MEDIA_STREAMS, "no picture in it");
        avformat_close_input(&probe);
        if (status != MW_OK) return scene_failure(job, i, "visual", status, message, message_size);
        int64_t samples = 0;
        if (scene->audio && scene->audio[0]) {
            status = mw_compose_audio_measure_length(scene->audio, job->rate, &job->layout, &job->limits, job->cancel, &samples,
                                                     message, message_size);
            if (status == MW_OK && samples == 0) status = mw_fail(message, message_size, MW_E_INPUT_EMPTY, "the narration has no samples");
            if (status != MW_OK) return scene_failure(job, i, "audio", status, message, message_size);
        } else if (scene->duration_s <= 0) {
            return scene_failure(job, i, "duration", mw_fail(message, message_size, MW_E_INVALID_ARGUMENT, "a scene without audio needs duration_s"),
                                 message, message_size);
        }
        int64_t minimum = llround(scene->duration_s * job->rate);
        job->scene_samples[i] = samples > minimum ? samples : minimum;
        job->total_samples += job->scene_samples[i];
        if (job->total_samples > job->limits.max_duration_us / 1000000 * job->rate)
            return mw_fail(message, message_size, MW_E_DURATION_TOO_LONG, "the composition is longer than %.0f s", max_s);
    }
    int64_t start = 0;
    for (int i = 0; i <= job->scene_count; i++) {
        /* The frame nearest the scene's audio start: boundaries are within half a frame of the audio's. */
        job->first_frame[i] = av_rescale_rnd(start, (int64_t)job->frame_rate.num, (int64_t)job->rate * job->frame_rate.den, AV_ROUND_NEAR_INF);
        if (i < job->scene_count) start += job->scene_samples[i];
    }
    job->total_frames = job->first_frame[job->scene_count];
    if (job->total_frames < 1) return mw_fail(message, message_size, MW_E_INVALID_ARGUMENT, "the composition is shorter than one frame");
    return MW_OK;
}

/* Normalisation: one gain that brings the integrated loudness to the target, held back so the
 * true peak stays at or below -1 dBTP (as loudnorm's linear mode does). */
static mw_status plan_loudness(mw_compose_job *job, mw_compose_result *result, char *message, size_t message_size) {
    mw_compose_audio meter;
    mw_status status = mw_compose_audio_open(&meter, job->scenes, job->scene_count, job->scene_samples, job->rate, &job->layout,
                                             &job->options, &job->limits, job->cancel, 4096, message, message_size);
    double integrated = -70, peak = -INFINITY;
    if (status == MW_OK) status = mw_compose_audio_loudness(&meter, &integrated, &peak, message, message_size);
    if (status != MW_OK && meter.failed_scene >= 0) status = scene_failure(job, meter.failed_scene, "audio", status, message, message_size);
    mw_compose_audio_close(&meter);
    if (status != MW_OK) return status;
    result->measured_lufs = integrated;
    double gain = integrated > -70 ? job->options.loudness_lufs - integrated : 0;
    if (isfinite(peak) && peak + gain > -1) gain = -1 - peak;
    result->gain_db = gain;
    job->audio.gain = (float)pow(10, gain / 20);
    return MW_OK;
}

static mw_status open_outputs(mw_compose_job *job, const char *output_path, char *message, size_t message_size) {
    const mw_encode_settings *settings = &job->options.settings;
    mw_status status = mw_open_aac_encoder(&job->aac, job->rate, job->layout.nb_channels, settings->audio_bitrate, 1, message, message_size);
    if (status != MW_OK) return status;
    job->audio_frame = av_frame_alloc();
    job->audio_packet = av_packet_alloc();
    if (!job->audio_frame || !job->audio_packet) return mw_fail(message, message_size, MW_E_OUT_OF_MEMORY, "out of memory");
    float gain = job->audio.gain;
    status = mw_compose_audio_open(&job->audio, job->scenes, job->scene_count, job->scene_samples, job->rate, &job->layout, &job->options,
                                   &job->limits, job->cancel, job->aac->frame_size, message, message_size);
    job->audio_open = 1;
    job->audio.gain = gain;
    if (status != MW_OK) return status;
    mw_video_rung spec = job->options.video;
    status = mw_rung_open(&job->rung, job->options.width, job->options.height, job->frame_rate, &spec, settings, settings->threads, 1,
                          &job->abort, message, message_size);
    job->rung_open = 1;
    if (status != MW_OK) return status;
    AVCodecParameters *video = avcodec_parameters_alloc(), *audio = avcodec_parameters_alloc();
    if (!video || !audio || avcodec_parameters_from_context(video, job->rung.encoder) < 0 ||
        avcodec_parameters_from_context(audio, job->aac) < 0)
        status = mw_fail(message, message_size, MW_E_OUT_OF_MEMORY, "out of memory");
    if (status == MW_OK)
        status = mw_packager_open(&job->rung.packager, MW_PACKAGE_MP4_FILE, output_path, video, job->rung.encoder->time_base, audio,
                                  job->aac->time_base, message, message_size);
    avcodec_parameters_free(&video);
    avcodec_parameters_free(&audio);
    if (status == MW_OK) status = mw_packager_start(&job->rung.packager, message, message_size);
    if (status == MW_OK) status = mw_rung_start(&job->rung, 0, 0, job->aac->time_base, message, message_size);
    job->rung_started = status == MW_OK;
    return status;
}

static mw_status drain_aac(mw_compose_job *job, char *message, size_t message_size) {
    for (;;) {
        int ret = avcodec_receive_packet(job->aac, job->audio_packet);
        if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF) return MW_OK;
        if (ret < 0) return mw_fail(message, message_size, MW_E_ENCODER_FAILED, "AAC encoding failed: %s", av_err2str(ret));
        mw_status status = mw_rung_push_audio(&job->rung, job->audio_packet);
        av_packet_unref(job->audio_packet);
        if (status == MW_E_CANCELED) return MW_E_CANCELED;
        if (status != MW_OK) return mw_fail(message, message_size, status, "cannot queue audio");
    }
}

/* Encodes the soundtrack up to `until_samples` (the audio runs ahead of the pictures, so the
 * muxer always has the audio a video packet interleaves with). */
static mw_status encode_audio_until(mw_compose_job *job, int64_t until_samples, char *message, size_t message_size) {
    while (!job->audio_done && job->audio_position < until_samples) {
        AVFrame *frame = job->audio_frame;
        frame->format = AV_SAMPLE_FMT_FLTP;
        frame->sample_rate = job->rate;
        frame->nb_samples = job->aac->frame_size;
        if (av_channel_layout_copy(&frame->ch_layout, &job->layout) < 0 || av_frame_get_buffer(frame, 0) < 0)
            return mw_fail(message, message_size, MW_E_OUT_OF_MEMORY, "out of memory");
        int got = 0;
        mw_status status = mw_compose_audio_next(&job->audio, (float **)frame->extended_data, &got, message, message_size);
        if (status != MW_OK) {
            av_frame_unref(frame);
            if (job->audio.failed_scene >= 0) return scene_failure(job, job->audio.failed_scene, "audio", status, message, message_size);
            return status;
        }
        int ret;
        if (got > 0) {
            frame->nb_samples = got;
            frame->pts = job->audio_position;
            job->audio_position += got;
            ret = avcodec_send_frame(job->aac, frame);
        } else {
            job->audio_done = 1;
            ret = avcodec_send_frame(job->aac, NULL);
        }
        av_frame_unref(frame);
        if (ret < 0) return mw_fail(message, message_size, MW_E_ENCODER_FAILED, "AAC encoding failed: %s", av_err2str(ret));
        status = drain_aac(job, message, message_size);
        if (status != MW_OK) return status;
    }
    return MW_OK;
}

/* The visual of `scene`, opened on first use; at most the current and the next stay open. */
static mw_status visual_for(mw_compose_job *job, int scene, mw_scene_visual **out, char *message, size_t message_size) {
    for (int k = 0; k < 2; k++)
        if (job->visual_scene[k] == scene) {
            *out = &job->visuals[k];
            return MW_OK;
        }
    int slot = job->visual_scene[0] < 0 ? 0 : job->visual_scene[1] < 0 ? 1 : job->visual_scene[0] < job->visual_scene[1] ? 0 : 1;
    if (job->visual_scene[slot] >= 0) mw_scene_visual_close(&job->visuals[slot]);
    job->visual_scene[slot] = scene;
    mw_status status = mw_scene_visual_open(&job->visuals[slot], job->scenes[scene].visual, scene, &job->options, &job->limits,
                                            job->cancel, message, message_size);
    if (status != MW_OK) return scene_failure(job, scene, "visual", status, message, message_size);
    *out = &job->visuals[slot];
    return MW_OK;
}

static mw_status scene_picture(mw_compose_job *job, int scene, int64_t frame, AVFrame **picture, char *message, size_t message_size) {
    mw_scene_visual *visual = NULL;
    mw_status status = visual_for(job, scene, &visual, message, message_size);
    if (status != MW_OK) return status;
    double fps = av_q2d(job->frame_rate);
    double time_s = (frame - job->first_frame[scene]) / fps;
    double length_s = (job->first_frame[scene + 1] - job->first_frame[scene]) / fps;
    status = mw_scene_visual_render(visual, time_s, length_s, picture, message, message_size);
    if (status != MW_OK) return scene_failure(job, scene, "visual", status, message, message_size);
    return MW_OK;
}

/* Half the crossfade (in frames) at the boundary before `scene`, limited so a fade never
 * takes more than half of either scene. */
static int64_t fade_half(const mw_compose_job *job, int scene) {
    if (scene <= 0 || scene >= job->scene_count || job->options.transition_s <= 0) return 0;
    int64_t half = llround(job->options.transition_s * av_q2d(job->frame_rate) / 2);
    int64_t before = (job->first_frame[scene] - job->first_frame[scene - 1]) / 2;
    int64_t after = (job->first_frame[scene + 1] - job->first_frame[scene]) / 2;
    if (half > before) half = before;
    if (half > after) half = after;
    return half;
}

static void blend(const AVFrame *from, const AVFrame *to, int weight, AVFrame *out) {
    for (int plane = 0; plane < 3; plane++) {
        int w = plane ? (out->width + 1) / 2 : out->width, h = plane ? (out->height + 1) / 2 : out->height;
        for (int y = 0; y < h; y++) {
            const uint8_t *a = from->data[plane] + (size_t)y * from->linesize[plane];
            const uint8_t *b = to->data[plane] + (size_t)y * to->linesize[plane];
            uint8_t *o = out->data[plane] + (size_t)y * out->linesize[plane];
            for (int x = 0; x < w; x++) o[x] = (uint8_t)((a[x] * (256 - weight) + b[x] * weight + 128) >> 8);
        }
    }
}

/* The picture of output frame `n`: its scene's, crossfaded with a neighbour near a boundary,
 * captions on top. Returns a new reference in *out. */
static mw_status render_frame(mw_compose_job *job, int64_t n, int *scene_index, AVFrame **out, char *message, size_t message_size) {
    while (*scene_index + 1 < job->scene_count && n >= job->first_frame[*scene_index + 1]) (*scene_index)++;
    int scene = *scene_index;
    AVFrame *picture = NULL, *other = NULL;
    mw_status status = scene_picture(job, scene, n, &picture, message, message_size);
    if (status != MW_OK) return status;
    /* Within a fade: weight of the later scene, from just above 0 to just below 1. */
    int64_t half = fade_half(job, scene + 1);
    int neighbour = -1;
    double weight = 0;
    if (half > 0 && n >= job->first_frame[scene + 1] - half) {
        neighbour = scene + 1;
        weight = (n - (job->first_frame[scene + 1] - half) + 0.5) / (2.0 * half);
    } else if ((half = fade_half(job, scene)) > 0 && n < job->first_frame[scene] + half) {
        neighbour = scene - 1;
        weight = (n - (job->first_frame[scene] - half) + 0.5) / (2.0 * half);
    }
    AVFrame *frame = NULL;
    if (neighbour >= 0) {
        status = scene_picture(job, neighbour, n, &other, message, message_size);
        if (status != MW_OK) return status;
        frame = mw_picture_alloc(job->options.width, job->options.height);
        if (!frame) return mw_fail(message, message_size, MW_E_OUT_OF_MEMORY, "out of memory");
        int later = (int)lround(weight * 256);
        if (neighbour > scene) blend(picture, other, later, frame);
        else blend(other, picture, later, frame);
    }
    if (job->captions_open) {
        ASS_Image *images = mw_captions_at(&job->captions, (n + 0.5) / av_q2d(job->frame_rate));
        if (images && !frame) {
            frame = mw_picture_alloc(job->options.width, job->options.height);
            if (!frame) return mw_fail(message, message_size, MW_E_OUT_OF_MEMORY, "out of memory");
            av_frame_copy(frame, picture);
        }
        if (images) mw_captions_draw(images, frame);
    }
    if (!frame) {
        frame = av_frame_clone(picture);
        if (!frame) return mw_fail(message, message_size, MW_E_OUT_OF_MEMORY, "out of memory");
    }
    *out = frame;
    return MW_OK;
}

static mw_status open_captions(mw_compose_job *job, char *message, size_t message_size) {
    int any = 0;
    for (int i = 0; i < job->scene_count; i++) any |= job->scenes[i].caption && job->scenes[i].caption[0];
    if (!job->options.captions || !any) return MW_OK;
    mw_status status = mw_captions_open(&job->captions, job->options.width, job->options.height, job->options.caption_size, message, message_size);
    job->captions_open = 1;
    double fps = av_q2d(job->frame_rate);
    for (int i = 0; status == MW_OK && i < job->scene_count; i++) {
        const char *text = job->scenes[i].caption;
        if (text && text[0])
            status = mw_captions_add(&job->captions, text, job->first_frame[i] / fps, job->first_frame[i + 1] / fps, message, message_size);
    }
    if (status == MW_OK) status = mw_captions_finish(&job->captions, message, message_size);
    return status;
}

static void report(mw_compose_job *job, double fraction) {
    if (!job->on_progress || (fraction < job->reported + 0.01 && fraction < 1)) return;
    job->reported = fraction;
    job->on_progress(job->user, fraction);
}

static mw_status run(mw_compose_job *job, char *message, size_t message_size) {
    double gop_s = job->options.settings.gop_s, fps = av_q2d(job->frame_rate), next_key_s = 0;
    int scene = 0;
    mw_status status = MW_OK;
    for (int64_t n = 0; n < job->total_frames; n++) {
        if (atomic_load(&job->abort)) return MW_E_CANCELED;
        if (mw_interrupt_check(&job->interrupt))
            return mw_fail(message, message_size, (mw_status)job->interrupt.fired, job->interrupt.fired == MW_E_CANCELED ? "canceled" : "timed out");
        double time_s = n / fps;
        status = encode_audio_until(job, llround((time_s + 0.5) * job->rate), message, message_size);
        if (status != MW_OK) return status;
        AVFrame *frame = NULL;
        status = render_frame(job, n, &scene, &frame, message, message_size);
        if (status != MW_OK) return status;
        frame->pts = n;
        frame->pict_type = AV_PICTURE_TYPE_NONE;
        /* Keyframes by time, as for transcodes: the file can be packaged as HLS by stream copy. */
        if (time_s >= next_key_s - 0.5 / fps) {
            frame->pict_type = AV_PICTURE_TYPE_I;
            while (next_key_s <= time_s + 0.5 / fps) next_key_s += gop_s;
        }
        frame->sample_aspect_ratio = (AVRational){1, 1};
        status = mw_rung_push_frame(&job->rung, frame, NULL);
        av_frame_free(&frame);
        if (status == MW_E_CANCELED) return MW_E_CANCELED;
        if (status != MW_OK) return mw_fail(message, message_size, status, "cannot queue a frame");
        report(job, (n + 1.0) / job->total_frames * 0.99);
    }
    status = encode_audio_until(job, INT64_MAX, message, message_size);
    if (status != MW_OK) return status;
    status = mw_rung_finish(&job->rung, message, message_size);
    if (status == MW_OK) status = mw_packager_finish(&job->rung.packager, message, message_size);
    if (status == MW_OK) report(job, 1);
    return status;
}

mw_status mw_compose(const mw_compose_scene *scenes, int32_t scene_count, const mw_compose_options *options_in,
                     const char *output_path, const mw_limits *limits, mw_cancel_token *cancel,
                     mw_progress_callback on_progress, void *user, double *scene_start_s, double *scene_end_s,
                     mw_compose_result *result, char *message, size_t message_size) {
    if (!scenes || !output_path || !result) return mw_fail(message, message_size, MW_E_INVALID_ARGUMENT, "missing scenes, output or result");
    memset(result, 0, sizeof(*result));
    result->failed_scene = -1;
    mw_compose_job job;
    memset(&job, 0, sizeof(job));
    if (options_in) job.options = *options_in; else mw_compose_options_init_default(&job.options);
    mw_status status = check_options(&job.options, scene_count, message, message_size);
    if (status != MW_OK) return status;
    job.scenes = scenes;
    job.scene_count = scene_count;
    job.cancel = cancel;
    job.failed_scene = -1;
    job.visual_scene[0] = job.visual_scene[1] = -1;
    job.on_progress = on_progress;
    job.user = user;
    if (limits) job.limits = *limits; else mw_limits_init_default(&job.limits);
    mw_interrupt_init(&job.interrupt, cancel, job.limits.timeout_ms);
    atomic_init(&job.abort, 0);
    job.frame_rate = av_make_q(job.options.fps_num, job.options.fps_den);
    job.rate = job.options.settings.audio_sample_rate > 0 ? job.options.settings.audio_sample_rate : 48000;
    av_channel_layout_default(&job.layout, job.options.settings.audio_channels > 0 ? job.options.settings.audio_channels : 2);
    job.audio.gain = 1;

    status = plan_timeline(&job, message, message_size);
    if (status == MW_OK && job.options.loudness_lufs != 0) status = plan_loudness(&job, result, message, message_size);
    if (status == MW_OK) status = open_captions(&job, message, message_size);
    if (status == MW_OK) status = open_outputs(&job, output_path, message, message_size);
    if (status == MW_OK) status = run(&job, message, message_size);
    if (status != MW_OK && atomic_load(&job.abort) && job.rung.status != MW_OK)
        status = mw_fail(message, message_size, job.rung.status, "%s", job.rung.message);
    if (status == MW_OK) {
        double fps = av_q2d(job.frame_rate);
        result->frame_count = (int32_t)job.total_frames;
        result->duration_s = job.total_frames / fps;
        result->audio_duration_s = (double)job.total_samples / job.rate;
        mw_rendition_info info;
        memset(&info, 0, sizeof(info));
        mw_packager_describe(&job.rung.packager, &info);
        snprintf(result->codecs, sizeof(result->codecs), "%s", info.codecs);
        int64_t start = 0;
        for (int i = 0; i < scene_count; i++) {
            if (scene_start_s) scene_start_s[i] = (double)start / job.rate;
            start += job.scene_samples[i];
            if (scene_end_s) scene_end_s[i] = (double)start / job.rate;
        }
    }
    result->failed_scene = status == MW_OK ? -1 : job.failed_scene;

    atomic_store(&job.abort, 1);
    if (job.rung_started) mw_rung_stop(&job.rung);
    if (job.rung_open) mw_rung_close(&job.rung);
    if (status != MW_OK && job.rung_open) remove(output_path);
    for (int k = 0; k < 2; k++)
        if (job.visual_scene[k] >= 0) mw_scene_visual_close(&job.visuals[k]);
    if (job.captions_open) mw_captions_close(&job.captions);
    if (job.audio_open) mw_compose_audio_close(&job.audio);
    avcodec_free_context(&job.aac);
    av_frame_free(&job.audio_frame);
    av_packet_free(&job.audio_packet);
    av_free(job.scene_samples);
    av_free(job.first_frame);
    av_channel_layout_uninit(&job.layout);
    return status;
}

/* The composition's soundtrack: narration timeline, ducked music, loudness. */
#include "compose/mw_compose_audio.h"

#include "core/mw_filter_graph.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libavfilter/buffersink.h>
#include <libavfilter/buffersrc.h>
#include <libavutil/avstring.h>
#include <libavutil/channel_layout.h>

/* Speech is "heard" above -40 dBFS; the music stays down 300 ms after it, so it does not pump
 * between words, and moves with 40 ms (down) and 400 ms (up) time constants. */
#define SPEECH_THRESHOLD 0.01f
#define SPEECH_HOLD_S 0.3
#define DUCK_ATTACK_S 0.04
#define DUCK_RELEASE_S 0.4

static float db_to_linear(double db) { return (float)pow(10.0, db / 20.0); }

mw_status mw_compose_audio_open(mw_compose_audio *audio, const mw_compose_scene *scenes, int scene_count,
                                const int64_t *scene_samples, int rate, const AVChannelLayout *layout,
                                const mw_compose_options *options, const mw_limits *limits, mw_cancel_token *cancel,
                                int chunk, char *message, size_t message_size) {
    memset(audio, 0, sizeof(*audio));
    audio->scenes = scenes;
    audio->scene_count = scene_count;
    audio->scene_samples = scene_samples;
    audio->rate = rate;
    audio->limits = limits;
    audio->cancel = cancel;
    audio->chunk = chunk;
    audio->gain = 1;
    audio->duck = 1;
    audio->failed_scene = -1;
    if (layout->nb_channels > MW_COMPOSE_AUDIO_MAX_CHANNELS || av_channel_layout_copy(&audio->layout, layout) < 0)
        return mw_fail(message, message_size, MW_E_INVALID_ARGUMENT, "unsupported channel layout");
    for (int c = 0; c < layout->nb_channels; c++) {
        audio->voice_planes[c] = av_calloc(chunk, sizeof(float));
        audio->music_planes[c] = av_calloc(chunk, sizeof(float));
        if (!audio->voice_planes[c] || !audio->music_planes[c]) return mw_fail(message, message_size, MW_E_OUT_OF_MEMORY, "out of memory");
    }
    if (options->music && options->music[0]) {
        audio->music_path = options->music;
        audio->music_gain = db_to_linear(options->music_db);
        audio->duck_gain = db_to_linear(options->duck_db);
    }
    return MW_OK;
}

/* Fills `count` samples of narration for the current position, moving through the scenes. */
static mw_status read_voice(mw_compose_audio *audio, int count, char *message, size_t message_size) {
    int channels = audio->layout.nb_channels;
    for (int c = 0; c < channels; c++) memset(audio->voice_planes[c], 0, sizeof(float) * count);
    const mw_compose_scene *scene = &audio->scenes[audio->scene];
    if (!audio->voice_open && !audio->voice_ended && scene->audio && scene->audio[0]) {
        mw_status status = mw_audio_reader_open(&audio->voice, scene->audio, audio->rate, &audio->layout, audio->limits,
                                                audio->cancel, message, message_size);
        audio->voice_open = 1;
        if (status != MW_OK) {
            audio->failed_scene = audio->scene;
            return status;
        }
    }
    if (!audio->voice_open || audio->voice_ended) return MW_OK;
    int got = 0;
    mw_status status = mw_audio_reader_read(&audio->voice, audio->voice_planes, count, &got, message, message_size);
    if (status != MW_OK) {
        audio->failed_scene = audio->scene;
        return status;
    }
    if (got < count) audio->voice_ended = 1;   /* the rest of the scene is silence */
    return MW_OK;
}

/* The music under `count` samples, looped: a file that ends starts again. */
static mw_status read_music(mw_compose_audio *audio, int count, char *message, size_t message_size) {
    int channels = audio->layout.nb_channels;
    int filled = 0, empty_loops = 0;
    while (filled < count) {
        if (!audio->music_open) {
            mw_status status = mw_audio_reader_open(&audio->music, audio->music_path, audio->rate, &audio->layout, audio->limits,
                                                    audio->cancel, message, message_size);
            audio->music_open = 1;
            if (status != MW_OK) return status;
        }
        float *planes[MW_COMPOSE_AUDIO_MAX_CHANNELS];
        for (int c = 0; c < channels; c++) planes[c] = audio->music_planes[c] + filled;
        int got = 0;
        mw_status status = mw_audio_reader_read(&audio->music, planes, count - filled, &got, message, message_size);
        if (status != MW_OK) return status;
        filled += got;
        if (filled < count) {
            mw_audio_reader_close(&audio->music);
            audio->music_open = 0;
            if (got == 0 && ++empty_loops > 1) return mw_fail(message, message_size, MW_E_INPUT_EMPTY, "the music has no samples");
        }
    }
    return MW_OK;
}

static mw_status next_piece(mw_compose_audio *audio, float **planes, int wanted, int *got, char *message, size_t message_size) {
    *got = 0;
    while (audio->scene < audio->scene_count && audio->scene_done >= audio->scene_samples[audio->scene]) {
        if (audio->voice_open) mw_audio_reader_close(&audio->voice);
        audio->voice_open = audio->voice_ended = 0;
        audio->scene++;
        audio->scene_done = 0;
    }
    if (audio->scene >= audio->scene_count) return MW_OK;
    int64_t left = audio->scene_samples[audio->scene] - audio->scene_done;
    int count = left < wanted ? (int)left : wanted;
    mw_status status = read_voice(audio, count, message, message_size);
    if (status != MW_OK) return status;
    int channels = audio->layout.nb_channels;
    if (audio->music_path) {
        status = read_music(audio, count, message, message_size);
        if (status != MW_OK) {
            char reason[256];
            snprintf(reason, sizeof(reason), "%s", message ? message : "");
            return mw_fail(message, message_size, status, "background music: %s", reason);
        }
    }
    float peak = 0;
    for (int c = 0; c < channels; c++)
        for (int i = 0; i < count; i++) peak = fmaxf(peak, fabsf(audio->voice_planes[c][i]));
    if (peak > SPEECH_THRESHOLD) audio->speech_hold = (int64_t)(SPEECH_HOLD_S * audio->rate);
    float target = audio->speech_hold > 0 ? audio->duck_gain : 1.0f;
    float coefficient = 1.0f - expf(-1.0f / (float)((target < audio->duck ? DUCK_ATTACK_S : DUCK_RELEASE_S) * audio->rate));
    for (int i = 0; i < count; i++) {
        float music = 0;
        if (audio->music_path) {
            audio->duck += (target - audio->duck) * coefficient;
            music = audio->music_gain * audio->duck;
        }
        for (int c = 0; c < channels; c++) {
            float sample = audio->voice_planes[c][i] + (audio->music_path ? audio->music_planes[c][i] * music : 0);
            planes[c][i] = sample * audio->gain;
        }
    }
    audio->speech_hold = audio->speech_hold > count ? audio->speech_hold - count : 0;
    audio->scene_done += count;
    *got = count;
    return MW_OK;
}

mw_status mw_compose_audio_next(mw_compose_audio *audio, float **planes, int *got, char *message, size_t message_size) {
    /* Whole chunks across scene boundaries: an encoder takes a short frame only at the end. */
    *got = 0;
    while (*got < audio->chunk) {
        float *at[MW_COMPOSE_AUDIO_MAX_CHANNELS];
        for (int c = 0; c < audio->layout.nb_channels; c++) at[c] = planes[c] + *got;
        int piece = 0;
        mw_status status = next_piece(audio, at, audio->chunk - *got, &piece, message, message_size);
        if (status != MW_OK) return status;
        if (piece == 0) break;
        *got += piece;
    }
    return MW_OK;
}

void mw_compose_audio_close(mw_compose_audio *audio) {
    if (audio->voice_open) mw_audio_reader_close(&audio->voice);
    if (audio->music_open) mw_audio_reader_close(&audio->music);
    audio->voice_open = audio->music_open = 0;
    for (int c = 0; c < MW_COMPOSE_AUDIO_MAX_CHANNELS; c++) {
        av_freep(&audio->voice_planes[c]);
        av_freep(&audio->music_planes[c]);
    }
    av_channel_layout_uninit(&audio->layout);
}

mw_status mw_compose_audio_measure_length(const char *path, int rate, const AVChannelLayout *layout, const mw_limits *limits,
                                          mw_cancel_token *cancel, int64_t *samples, char *message, size_t message_size) {
    *samples = 0;
    mw_audio_reader reader;
    mw_status status = mw_audio_reader_open(&reader, path, rate, layout, limits, cancel, message, message_size);
    float *planes[MW_COMPOSE_AUDIO_MAX_CHANNELS] = {0};
    const int chunk = 16384;
    for (int c = 0; status == MW_OK && c < layout->nb_channels; c++)
        if (!(planes[c] = av_malloc(sizeof(float) * chunk))) status = mw_fail(message, message_size, MW_E_OUT_OF_MEMORY, "out of memory");
    int got = chunk;
    while (status == MW_OK && got == chunk) status = mw_audio_reader_read(&reader, planes, chunk, &got, message, message_size);
    if (status == MW_OK) *samples = mw_audio_reader_length(&reader);
    for (int c = 0; c < MW_COMPOSE_AUDIO_MAX_CHANNELS; c++) av_free(planes[c]);
    mw_audio_reader_close(&reader);
    return status;
}

mw_status mw_compose_audio_loudness(mw_compose_audio *audio, double *integrated_lufs, double *true_peak_db,
                                    char *message, size_t message_size) {
    *integrated_lufs = -70;
    *true_peak_db = -INFINITY;
    char layout_name[64];
    av_channel_layout_describe(&audio->layout, layout_name, sizeof(layout_name));
    char *source_args = av_asprintf("time_base=1/%d:sample_rate=%d:sample_fmt=fltp:channel_layout=%s", audio->rate, audio->rate, layout_name);
    AVFilterGraph *graph = avfilter_graph_alloc();
    AVFilterContext *source = NULL, *meter = NULL, *sink = NULL;
    AVFrame *frame = av_frame_alloc(), *out = av_frame_alloc();
    mw_status status = MW_OK;
    int ret = source_args && graph && frame && out ? 0 : AVERROR(ENOMEM);
    if (ret >= 0) ret = avfilter_graph_create_filter(&source, avfilter_get_by_name("abuffer"), "in", source_args, NULL, graph);
    if (ret >= 0) ret = avfilter_graph_create_filter(&meter, avfilter_get_by_name("ebur128"), "meter", "peak=true:metadata=1", NULL, graph);
    if (ret >= 0) ret = avfilter_graph_create_filter(&sink, avfilter_get_by_name("abuffersink"), "out", NULL, NULL, graph);
    if (ret >= 0) ret = avfilter_link(source, 0, meter, 0);
    if (ret >= 0) ret = avfilter_link(meter, 0, sink, 0);
    if (ret >= 0) ret = avfilter_graph_config(graph, NULL);
    if (ret < 0) status = mw_fail(message, message_size, MW_E_INTERNAL, "cannot set up the loudness meter: %s", av_err2str(ret));
    int channels = audio->layout.nb_channels;
    int64_t position = 0;
    int ended = 0;
    double peak = 0;
    while (status == MW_OK) {
        if (!ended) {
            frame->format = AV_SAMPLE_FMT_FLTP;
            frame->sample_rate = audio->rate;
            frame->nb_samples = audio->chunk;
            if (av_channel_layout_copy(&frame->ch_layout, &audio->layout) < 0 || av_frame_get_buffer(frame, 0) < 0) {
                status = mw_fail(message, message_size, MW_E_OUT_OF_MEMORY, "out of memory");
                break;
            }
            int got = 0;
            status = mw_compose_audio_next(audio, (float **)frame->extended_data, &got, message, message_size);
            if (status != MW_OK) break;
            if (got > 0) {
                frame->nb_samples = got;
                frame->pts = position;
                position += got;
                ret = av_buffersrc_add_frame(source, frame);
            } else {
                ended = 1;
                ret = av_buffersrc_add_frame(source, NULL);
            }
            av_frame_unref(frame);
            if (ret < 0) {
                status = mw_fail(message, message_size, MW_E_INTERNAL, "loudness meter failed: %s", av_err2str(ret));
                break;
            }
        }
        for (;;) {
            ret = av_buffersink_get_frame(sink, out);
            if (ret < 0) break;
            int found;
            double value = mw_frame_metadata_number(out, "lavfi.r128.I", &found);
            if (found) *integrated_lufs = value;
            for (int c = 0; c < channels; c++) {
                char key[48];
                snprintf(key, sizeof(key), "lavfi.r128.true_peaks_ch%d", c);
                value = mw_frame_metadata_number(out, key, &found);
                if (found && value > peak) peak = value;
            }
            av_frame_unref(out);
        }
        if (ret == AVERROR_EOF) break;
        if (ret != AVERROR(EAGAIN)) {
            status = mw_fail(message, message_size, MW_E_INTERNAL, "loudness meter failed: %s", av_err2str(ret));
            break;
        }
    }
    if (status == MW_OK && peak > 0) *true_peak_db = 20 * log10(peak);
    av_frame_free(&frame);
    av_frame_free(&out);
    avfilter_graph_free(&graph);
    av_free(source_args);
    return status;
}

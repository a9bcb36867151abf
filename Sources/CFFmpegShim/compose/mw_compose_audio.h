/* The soundtrack of a composition: the scenes' narrations back to back (each padded with
 * silence to its scene's length), background music looped under it and ducked while someone
 * speaks, and one gain for loudness normalisation. Produced in chunks, planar float. Internal. */
#ifndef MW_COMPOSE_AUDIO_H
#define MW_COMPOSE_AUDIO_H

#include "compose/mw_audio_reader.h"

#define MW_COMPOSE_AUDIO_MAX_CHANNELS 8

typedef struct mw_compose_audio {
    const mw_compose_scene *scenes;
    int scene_count;
    const int64_t *scene_samples;   /* each scene's length at `rate` */
    int rate;
    AVChannelLayout layout;
    const mw_limits *limits;
    mw_cancel_token *cancel;

    int scene;                      /* the scene being read */
    int64_t scene_done;             /* samples of it produced */
    mw_audio_reader voice;
    int voice_open, voice_ended;

    const char *music_path;
    mw_audio_reader music;
    int music_open;
    float music_gain, duck_gain;    /* linear */
    float duck;                     /* the music's current ducking gain, smoothed */
    int64_t speech_hold;            /* samples the music stays ducked after speech was heard */

    float gain;                     /* linear, applied to the mix */
    float *voice_planes[MW_COMPOSE_AUDIO_MAX_CHANNELS], *music_planes[MW_COMPOSE_AUDIO_MAX_CHANNELS];
    int chunk;
    int failed_scene;               /* the scene whose file failed, -1 */
} mw_compose_audio;

mw_status mw_compose_audio_open(mw_compose_audio *audio, const mw_compose_scene *scenes, int scene_count,
                                const int64_t *scene_samples, int rate, const AVChannelLayout *layout,
                                const mw_compose_options *options, const mw_limits *limits, mw_cancel_token *cancel,
                                int chunk, char *message, size_t message_size);

/* The next up to `chunk` samples of the soundtrack into `planes`; *got is 0 at the end. */
mw_status mw_compose_audio_next(mw_compose_audio *audio, float **planes, int *got, char *message, size_t message_size);

void mw_compose_audio_close(mw_compose_audio *audio);

/* Decodes one scene's narration to its end: its exact length at `rate` (0 when it has no
 * samples). */
mw_status mw_compose_audio_measure_length(const char *path, int rate, const AVChannelLayout *layout, const mw_limits *limits,
                                          mw_cancel_token *cancel, int64_t *samples, char *message, size_t message_size);

/* Integrated loudness (LUFS, EBU R128) and true peak (dBTP) of a whole soundtrack, read
 * through libavfilter's ebur128. */
mw_status mw_compose_audio_loudness(mw_compose_audio *audio, double *integrated_lufs, double *true_peak_db,
                                    char *message, size_t message_size);

#endif

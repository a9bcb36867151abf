/* Every public operation of CFFmpegShim, on good and bad inputs, success and failure paths,
 * built with AddressSanitizer (LeakSanitizer included) by scripts/test/shim-leak-check.sh: any
 * leak, overflow or use after free fails the run, as does an operation returning the wrong status.
 *
 * usage: shim_leak_check FIXTURES_DIR OUTPUT_DIR */
#include "mw_shim.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int failures;
static char message[512];
static const char *fixtures, *output;

static const char *fixture(const char *name) {
    static char paths[8][4096];
    static int next;
    char *path = paths[next++ % 8];
    snprintf(path, 4096, "%s/%s", fixtures, name);
    return path;
}

static const char *out(const char *name) {
    static char paths[8][4096];
    static int next;
    char *path = paths[next++ % 8];
    snprintf(path, 4096, "%s/%s", output, name);
    return path;
}

static void expect(mw_status got, mw_status wanted, const char *what, int line) {
    if (got == wanted) return;
    fprintf(stderr, "line %d: %s gave %s, wanted %s: %s\n", line, what, mw_status_name(got), mw_status_name(wanted), message);
    failures++;
}
#define EXPECT(call, wanted) expect((call), (wanted), #call, __LINE__)

static void probe_all(const mw_limits *limits) {
    static const char *const names[] = {
        "h264-aac-1080p30-10s.mp4", "h264-720p-noaudio.mp4", "audio-only.m4a", "audio-only.wav", "portrait-rotate90.mp4",
        "odd-853x479.mp4", "vfr.mp4", "hevc.mkv", "vp9-opus.webm", "h264-10bit.mp4", "anamorphic-720x480.mp4",
        "interlaced-576i.mp4", "short-0.5s.mp4", "still.jpg", "still-alpha.png", "speech.wav",
        "bad-zero-bytes.mp4", "bad-truncated-no-moov.mp4", "bad-random-bytes.mp4", "bad-text-file.mp4",
        "bad-disguised-playlist.mp4", "bad-absurd-dimensions.png", "does-not-exist.mp4",
    };
    static mw_media_info info;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) mw_probe_file(fixture(names[i]), limits, NULL, &info, message, sizeof(message));
}

static void stills(const mw_limits *limits) {
    mw_image_spec spec;
    mw_image_spec_init_default(&spec);
    spec.max_width = 160;
    mw_keyframe_options keyframes = {.max_count = 3, .min_interval_s = 0, .scene_threshold = 0};
    mkdir(out("stills"), 0755);
    EXPECT(mw_extract_keyframes(fixture("short-0.5s.mp4"), out("stills"), "k", &keyframes, &spec, limits, NULL, NULL, NULL, NULL,
                                message, sizeof(message)), MW_OK);
    EXPECT(mw_extract_thumbnails(fixture("portrait-rotate90.mp4"), out("stills"), "t", NULL, 2, &spec, limits, NULL, NULL, NULL, NULL,
                                 message, sizeof(message)), MW_OK);
    double chosen = 0;
    EXPECT(mw_extract_poster(fixture("short-0.5s.mp4"), out("stills/poster.jpg"), &spec, limits, NULL, &chosen, message, sizeof(message)), MW_OK);
    mw_storyboard_info board;
    EXPECT(mw_make_storyboard(fixture("short-0.5s.mp4"), out("stills/board.jpg"), 80, 4, 0.1, 20, limits, NULL, NULL, NULL, &board,
                              message, sizeof(message)), MW_OK);
    EXPECT(mw_extract_thumbnails(fixture("bad-random-bytes.mp4"), out("stills"), "b", NULL, 2, &spec, limits, NULL, NULL, NULL, NULL,
                                 message, sizeof(message)), MW_E_FORMAT_UNRECOGNIZED);
}

static void cancel_at_a_third(void *user, double fraction) {
    if (fraction >= 0.33) mw_cancel_token_cancel(user);
}

static void transcodes(const mw_limits *limits) {
    mw_video_rung rungs[2] = {{.max_width = 416, .max_height = 234, .crf = 30}, {.max_width = 256, .max_height = 144, .crf = 30}};
    mw_encode_settings settings;
    mw_encode_settings_init_default(&settings);
    snprintf(settings.preset, sizeof(settings.preset), "ultrafast");
    mw_hls_settings hls;
    mw_hls_settings_init_default(&hls);
    static mw_package_result result;
    static mw_rendition_info rendition;
    mkdir(out("ladder"), 0755);
    /* With the animated preview taken from the ladder's decode (WebP here, GIF with the TS ladder). */
    snprintf(hls.preview_path, sizeof(hls.preview_path), "%s", out("ladder-preview.webp"));
    hls.preview.max_width = 64;
    EXPECT(mw_package_hls(fixture("short-0.5s.mp4"), out("ladder"), rungs, 2, &settings, &hls, limits, NULL, NULL, NULL, &result,
                          message, sizeof(message)), MW_OK);
    if (!result.preview_made || result.preview.frames < 1) { fprintf(stderr, "ladder preview: not made\n"); failures++; }
    hls.preview.gif = 1;
    snprintf(hls.preview_path, sizeof(hls.preview_path), "%s", out("ladder-preview.gif"));
    /* The quality report on that package: both filters, PSNR only, a missing segment, a cancel. */
    mw_quality_target targets[2];
    memset(targets, 0, sizeof(targets));
    for (int i = 0; i < 2 && i < result.rendition_count; i++) {
        snprintf(targets[i].folder, sizeof(targets[i].folder), "%.*s", (int)(strchr(result.renditions[i].playlist, '/') - result.renditions[i].playlist),
                 result.renditions[i].playlist);
        targets[i].width = result.renditions[i].width;
        targets[i].height = result.renditions[i].height;
    }
    mw_quality_segment segment = {.name = "seg-00000.m4s", .start_s = 0, .end_s = result.duration_s};
    mw_quality_segment missing = {.name = "seg-00099.m4s", .start_s = 0, .end_s = 1};
    mw_quality_sample samples[2];
    EXPECT(mw_measure_quality(fixture("short-0.5s.mp4"), out("ladder"), targets, 2, &segment, 1, 0, result.timeline_offset_s, 1, 0, limits,
                              NULL, samples, message, sizeof(message)), MW_OK);
    if (samples[0].frames < 1 || samples[0].ssim_y_sum <= 0) { fprintf(stderr, "quality: nothing measured\n"); failures++; }
    EXPECT(mw_measure_quality(fixture("short-0.5s.mp4"), out("ladder"), targets, 2, &segment, 1, 0, result.timeline_offset_s, 1, 1, limits,
                              NULL, samples, message, sizeof(message)), MW_OK);
    EXPECT(mw_measure_quality(fixture("short-0.5s.mp4"), out("ladder"), targets, 2, &missing, 1, 0, result.timeline_offset_s, 1, 0, limits,
                              NULL, samples, message, sizeof(message)), MW_E_INPUT_UNREADABLE);
    mw_cancel_token *stop = mw_cancel_token_new();
    mw_cancel_token_cancel(stop);
    EXPECT(mw_measure_quality(fixture("short-0.5s.mp4"), out("ladder"), targets, 2, &segment, 1, 0, result.timeline_offset_s, 1, 0, limits,
                              stop, samples, message, sizeof(message)), MW_E_CANCELED);
    mw_cancel_token_free(stop);
    /* A per-title sample: a range off the segment grid, every rung judged in the pass; then the same
     * cancelled a third of the way, source frames held by the judges and the rungs' queues. */
    {
        mw_hls_settings sample;
        mw_hls_settings_init_default(&sample);
        sample.target_duration_s = 2;
        sample.part = MW_PART_VIDEO_RANGE;
        sample.range_start_s = 2.3;
        sample.range_end_s = 4.3;
        sample.range_anywhere = 1;
        sample.judge_psnr = 1;
        mkdir(out("judged"), 0755);
        EXPECT(mw_package_hls(fixture("h264-aac-1080p30-10s.mp4"), out("judged"), rungs, 2, &settings, &sample, limits, NULL, NULL, NULL,
                              &result, message, sizeof(message)), MW_OK);
        for (int i = 0; i < result.rendition_count; i++)
            if (result.renditions[i].kind == MW_RENDITION_VIDEO && result.renditions[i].judged_frames != 60) {
                fprintf(stderr, "judged sample: rendition %d judged %d frames, not 60\n", i, result.renditions[i].judged_frames);
                failures++;
            }
        mw_cancel_token *halfway = mw_cancel_token_new();
        mkdir(out("judged-cancelled"), 0755);
        sample.range_start_s = 0.7;
        sample.range_end_s = 9.7;
        EXPECT(mw_package_hls(fixture("h264-aac-1080p30-10s.mp4"), out("judged-cancelled"), rungs, 2, &settings, &sample, limits, halfway,
                              cancel_at_a_third, halfway, &result, message, sizeof(message)), MW_E_CANCELED);
        mw_cancel_token_free(halfway);
    }
    mkdir(out("ts"), 0755);
    hls.segment_format = MW_SEGMENTS_TS;
    hls.audio_muxed = 1;
    EXPECT(mw_package_hls(fixture("short-0.5s.mp4"), out("ts"), rungs, 1, &settings, &hls, limits, NULL, NULL, NULL, &result,
                          message, sizeof(message)), MW_OK);
    if (!result.preview_made) { fprintf(stderr, "TS ladder preview: not made\n"); failures++; }
    hls.preview_path[0] = 0;
    /* Muxed audio with a hole and with no packets: silence fed in its place, a short audio flushed early. */
    mkdir(out("gap"), 0755);
    EXPECT(mw_package_hls(fixture("audio-gap.mp4"), out("gap"), &rungs[1], 1, &settings, &hls, limits, NULL, NULL, NULL, &result,
                          message, sizeof(message)), MW_OK);
    mkdir(out("empty"), 0755);
    EXPECT(mw_package_hls(fixture("audio-empty.mkv"), out("empty"), &rungs[1], 1, &settings, &hls, limits, NULL, NULL, NULL, &result,
                          message, sizeof(message)), MW_OK);
    mw_hls_settings_init_default(&hls);
    mw_video_rung big = {.max_width = 1920, .max_height = 1080, .crf = 23};
    mkdir(out("copy"), 0755);
    EXPECT(mw_package_hls_copy(fixture("h264-aac-1080p30-10s.mp4"), out("copy"), &big, &settings, &hls, limits, NULL, NULL, NULL, &result,
                               message, sizeof(message)), MW_OK);
    mkdir(out("nocopy"), 0755);
    EXPECT(mw_package_hls_copy(fixture("h264-long-gop.mp4"), out("nocopy"), &big, &settings, &hls, limits, NULL, NULL, NULL, &result,
                               message, sizeof(message)), MW_E_COPY_NOT_POSSIBLE);
    EXPECT(mw_transcode_mp4(fixture("vfr.mp4"), out("vfr.mp4"), &rungs[0], &settings, limits, NULL, NULL, NULL, &rendition,
                            message, sizeof(message)), MW_OK);
    EXPECT(mw_transcode_mp4(fixture("bad-truncated-no-moov.mp4"), out("bad.mp4"), &rungs[0], &settings, limits, NULL, NULL, NULL, &rendition,
                            message, sizeof(message)), MW_E_INPUT_CORRUPT);
    /* A cancelled token: the ladder stops with everything freed. */
    mw_cancel_token *token = mw_cancel_token_new();
    mw_cancel_token_cancel(token);
    mkdir(out("cancelled"), 0755);
    snprintf(hls.preview_path, sizeof(hls.preview_path), "%s", out("cancelled-preview.webp"));
    EXPECT(mw_package_hls(fixture("h264-aac-1080p30-10s.mp4"), out("cancelled"), rungs, 2, &settings, &hls, limits, token, NULL, NULL,
                          &result, message, sizeof(message)), MW_E_CANCELED);
    mw_cancel_token_free(token);
    /* Cancelled halfway, the preview's tap open and a frame held: all freed, no temp file left. */
    token = mw_cancel_token_new();
    mkdir(out("cancelled-midway"), 0755);
    snprintf(hls.preview_path, sizeof(hls.preview_path), "%s", out("midway-preview.webp"));
    EXPECT(mw_package_hls(fixture("h264-aac-1080p30-10s.mp4"), out("cancelled-midway"), rungs, 2, &settings, &hls, limits, token,
                          cancel_at_a_third, token, &result, message, sizeof(message)), MW_E_CANCELED);
    mw_cancel_token_free(token);
    struct stat left;
    if (stat(out("midway-preview.webp.tmp"), &left) == 0 || stat(out("midway-preview.webp"), &left) == 0) {
        fprintf(stderr, "a cancelled ladder left its preview behind\n");
        failures++;
    }
}

static void speech_and_compose(const mw_limits *limits) {
    mw_speech_options voice;
    mw_speech_options_init_default(&voice);
    double seconds = 0;
    EXPECT(mw_synthesize_speech("Leak check.", &voice, out("speech.wav"), NULL, &seconds, message, sizeof(message)), MW_OK);
    mw_compose_scene scenes[3] = {
        {.visual = fixture("still-alpha.png"), .audio = out("speech.wav"), .caption = "A caption {with} \\N odd text"},
        {.visual = fixture("short-0.5s.mp4"), .audio = fixture("audio-only.m4a"), .duration_s = 0},
        {.visual = fixture("still.jpg"), .audio = NULL, .caption = "Silent", .duration_s = 0.7},
    };
    mw_compose_options options;
    mw_compose_options_init_default(&options);
    options.width = 320;
    options.height = 180;
    options.ken_burns = 1;
    options.transition_s = 0.3;
    options.captions = 1;
    options.music = fixture("audio-only.wav");
    options.loudness_lufs = -16;
    snprintf(options.settings.preset, sizeof(options.settings.preset), "ultrafast");
    double starts[3], ends[3];
    mw_compose_result result;
    EXPECT(mw_compose(scenes, 3, &options, out("composed.mp4"), limits, NULL, NULL, NULL, starts, ends, &result, message, sizeof(message)), MW_OK);
    options.fit = MW_FIT_LETTERBOX;
    options.ken_burns = 0;
    options.music = NULL;
    options.loudness_lufs = 0;
    EXPECT(mw_compose(scenes, 2, &options, out("boxed.mp4"), limits, NULL, NULL, NULL, NULL, NULL, &result, message, sizeof(message)), MW_OK);
    mw_compose_scene bad[2] = {{.visual = fixture("still.jpg"), .audio = out("speech.wav")}, {.visual = fixture("bad-random-bytes.mp4"), .duration_s = 1}};
    EXPECT(mw_compose(bad, 2, &options, out("bad-compose.mp4"), limits, NULL, NULL, NULL, NULL, NULL, &result, message, sizeof(message)),
           MW_E_FORMAT_UNRECOGNIZED);
    mw_compose_scene empty[1] = {{.visual = fixture("still.jpg"), .audio = fixture("bad-zero-bytes.mp4")}};
    EXPECT(mw_compose(empty, 1, &options, out("empty.mp4"), limits, NULL, NULL, NULL, NULL, NULL, &result, message, sizeof(message)),
           MW_E_INPUT_EMPTY);
}

/* Previews, loudness, speech recognition and segment encryption: each good path and a failure. */
static void analysis_and_delivery(const mw_limits *limits) {
    int32_t streams[1] = {1};
    double gains[1] = {12}, ceilings[1] = {-2.5};
    mw_loudness loudness[1];
    EXPECT(mw_measure_loudness(fixture("short-0.5s.mp4"), streams, 1, NULL, NULL, limits, NULL, loudness, message, sizeof(message)), MW_OK);
    EXPECT(mw_measure_loudness(fixture("short-0.5s.mp4"), streams, 1, gains, ceilings, limits, NULL, loudness, message, sizeof(message)), MW_OK);
    EXPECT(mw_measure_loudness(fixture("bad-random-bytes.mp4"), streams, 1, NULL, NULL, limits, NULL, loudness, message, sizeof(message)),
           MW_E_FORMAT_UNRECOGNIZED);
    mw_preview_settings preview;
    mw_preview_settings_init_default(&preview);
    preview.excerpts = 2;
    preview.excerpt_s = 0.3;
    preview.max_width = 64;
    mw_preview_result made;
    EXPECT(mw_animated_preview(fixture("short-0.5s.mp4"), out("preview.webp"), &preview, limits, NULL, &made, message, sizeof(message)), MW_OK);
    preview.gif = 1;
    EXPECT(mw_animated_preview(fixture("short-0.5s.mp4"), out("preview.gif"), &preview, limits, NULL, &made, message, sizeof(message)), MW_OK);
    EXPECT(mw_animated_preview(fixture("audio-only.m4a"), out("no-video.gif"), &preview, limits, NULL, &made, message, sizeof(message)),
           MW_E_NO_MEDIA_STREAMS);
    int16_t peaks[4096];
    mw_waveform_info waveform;
    EXPECT(mw_audio_waveform(fixture("audio-only.m4a"), 50, 8, limits, NULL, peaks, 4096, &waveform, message, sizeof(message)), MW_OK);
    double seconds = 0;
    EXPECT(mw_extract_speech_audio(fixture("speech.wav"), 0, out("speech-16k.wav"), limits, NULL, NULL, NULL, &seconds, message, sizeof(message)), MW_OK);
    EXPECT(mw_extract_speech_audio(fixture("short-0.5s.mp4"), 0, out("not-audio.wav"), limits, NULL, NULL, NULL, &seconds, message, sizeof(message)),
           MW_E_INVALID_ARGUMENT);
    static mw_utterance heard[16];
    int32_t count = 0;
    const char *model = "/usr/share/pocketsphinx/model/en-us";
    char hmm[256], dict[256], lm[256];
    snprintf(hmm, sizeof(hmm), "%s/en-us", model);
    snprintf(dict, sizeof(dict), "%s/cmudict-en-us.dict", model);
    snprintf(lm, sizeof(lm), "%s/en-us.lm.bin", model);
    EXPECT(mw_recognize_speech(fixture("speech.wav"), 0, hmm, dict, lm, limits, NULL, NULL, NULL, heard, 16, &count, &seconds, message, sizeof(message)), MW_OK);
    EXPECT(mw_recognize_speech(fixture("speech.wav"), 0, "/a:b", dict, lm, limits, NULL, NULL, NULL, heard, 16, &count, &seconds, message, sizeof(message)),
           MW_E_INVALID_ARGUMENT);
    mw_speech_options voice;
    mw_speech_options_init_default(&voice);
    mw_speech_word words[8];
    EXPECT(mw_synthesize_speech_timed("Two words.", &voice, out("timed.wav"), NULL, &seconds, words, 8, &count, message, sizeof(message)), MW_OK);
    const uint8_t key[16] = {1, 2, 3}, iv[16] = {4, 5, 6};
    EXPECT(mw_aes128_cbc_encrypt_file(fixture("short-0.5s.mp4"), out("short.enc"), key, iv, message, sizeof(message)), MW_OK);
    EXPECT(mw_aes128_cbc_encrypt_file(fixture("no-such-file.ts"), out("none.enc"), key, iv, message, sizeof(message)), MW_E_INPUT_NOT_FOUND);
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s FIXTURES_DIR OUTPUT_DIR\n", argv[0]);
        return 2;
    }
    fixtures = argv[1];
    output = argv[2];
    /* The script's self-test: a deliberate leak, which LeakSanitizer must report. */
    if (getenv("MW_LEAK_CHECK_SELF_TEST")) {
        char *volatile kept = malloc(64);
        memset(kept, 1, 64);
        kept = NULL;
        return 0;
    }
    mw_log_set_level(-8);
    mw_limits limits;
    mw_limits_init_default(&limits);
    probe_all(&limits);
    stills(&limits);
    transcodes(&limits);
    speech_and_compose(&limits);
    analysis_and_delivery(&limits);
    if (failures) fprintf(stderr, "%d operation(s) returned the wrong status\n", failures);
    else printf("shim leak check: every operation ran clean under AddressSanitizer/LeakSanitizer\n");
    return failures ? 1 : 0;
}

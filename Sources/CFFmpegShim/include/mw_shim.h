/*
 * CFFmpegShim: the only code in MediaWorker that calls libav*.
 *
 * Rules of this interface: opaque handles, an `mw_` prefix, every function
 * returns an mw_status and fills a caller-owned message buffer, progress by
 * callback, cancellation by a token the caller owns. No global state is
 * changed except by mw_log_set_level, which the caller calls explicitly.
 */
#ifndef MW_SHIM_H
#define MW_SHIM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Error codes. Stable: their names appear (as strings) in events and logs. */
typedef enum mw_status {
    MW_OK = 0,
    MW_E_INVALID_ARGUMENT = 1,
    MW_E_INPUT_NOT_FOUND = 2,
    MW_E_INPUT_EMPTY = 3,
    MW_E_INPUT_UNREADABLE = 4,
    MW_E_FORMAT_UNRECOGNIZED = 5,
    MW_E_FORMAT_NOT_ALLOWED = 6,
    MW_E_INPUT_CORRUPT = 7,
    MW_E_NO_MEDIA_STREAMS = 8,
    MW_E_TOO_MANY_STREAMS = 9,
    MW_E_DIMENSIONS_TOO_LARGE = 10,
    MW_E_DURATION_TOO_LONG = 11,
    MW_E_TIMEOUT = 12,
    MW_E_CANCELED = 13,
    MW_E_OUT_OF_MEMORY = 14,
    MW_E_INTERNAL = 15,
    MW_E_OUTPUT_FAILED = 16,       /* an output file could not be written */
    MW_E_ENCODER_FAILED = 17,      /* an encoder refused its settings or a frame */
    MW_E_COPY_NOT_POSSIBLE = 18,   /* stream copy was asked for but the source does not allow it */
} mw_status;

/* A short stable name for a status, e.g. "MEDIA_FORMAT_NOT_ALLOWED". */
const char *mw_status_name(mw_status status);

/* Limits applied to untrusted input before and while it is read. */
typedef struct mw_limits {
    int32_t max_width;        /* pixels; default 8192 */
    int32_t max_height;       /* pixels; default 8192 */
    int64_t max_pixels;       /* width*height; default 8192*8192 */
    int64_t max_duration_us;  /* default 6 h */
    int32_t max_streams;      /* default 16; never more than MW_MAX_STREAMS */
    int64_t timeout_ms;       /* wall time for the whole operation; 0 = none */
} mw_limits;

void mw_limits_init_default(mw_limits *limits);

/* Cancellation: the caller creates a token, may cancel it from any thread,
 * and frees it after the operation using it has returned. */
typedef struct mw_cancel_token mw_cancel_token;
mw_cancel_token *mw_cancel_token_new(void);
void mw_cancel_token_cancel(mw_cancel_token *token);
int mw_cancel_token_is_canceled(const mw_cancel_token *token);
void mw_cancel_token_free(mw_cancel_token *token);

/* libav*'s own log output; AV_LOG_* levels (-8 quiet ... 48 debug). Also sets SVT-AV1's level
 * (its SVT_LOG variable, unless already set): call it at start-up, before other threads. */
void mw_log_set_level(int level);

/* Turns transparent huge pages off for this process and its children (prctl PR_SET_THP_DISABLE):
 * 0, or the errno. See mw_huge_pages.c for why. */
int mw_disable_transparent_huge_pages(void);

/* ---- probe ---- */

#define MW_MAX_STREAMS 64

typedef enum mw_media_type {
    MW_MEDIA_OTHER = 0,
    MW_MEDIA_VIDEO = 1,
    MW_MEDIA_AUDIO = 2,
    MW_MEDIA_SUBTITLE = 3,
    MW_MEDIA_DATA = 4,
} mw_media_type;

typedef struct mw_stream_info {
    int32_t index;
    int32_t media_type;            /* mw_media_type */
    char codec[32];                /* e.g. "h264", "aac" */
    char profile[48];              /* e.g. "High", "" when unknown */
    int32_t level;                 /* codec level, -99 when unknown */
    int64_t bit_rate;              /* bits/s, 0 when unknown */
    int64_t duration_us;           /* -1 when unknown */
    /* video */
    int32_t width, height;
    int32_t sar_num, sar_den;      /* 0/1 when unknown */
    int32_t avg_fps_num, avg_fps_den;
    int32_t real_fps_num, real_fps_den;
    char pix_fmt[32];
    int32_t bit_depth;             /* bits per component (video) or per sample (audio), 0 unknown */
    int32_t rotation_deg;          /* clockwise rotation a player applies: 0, 90, 180, 270 */
    int32_t is_attached_picture;   /* cover art, not a real video track */
    char field_order[16];          /* "progressive", "tt", "bb", "tb", "bt", "" unknown */
    /* audio */
    int32_t sample_rate;
    int32_t channels;
    char channel_layout[64];
    char sample_fmt[16];
    /* tags and disposition */
    char language[16];             /* "language" tag, e.g. "eng"; "" when none */
    char title[64];                /* "title" tag; "" when none */
    int32_t is_default;            /* disposition default */
} mw_stream_info;

typedef struct mw_media_info {
    char container[64];            /* demuxer name as ffprobe prints it */
    int64_t duration_us;           /* -1 when unknown */
    int64_t bit_rate;
    int64_t size_bytes;
    int32_t stream_count;
    mw_stream_info streams[MW_MAX_STREAMS];
} mw_media_info;

/* Reads the container and stream parameters of a local file. Only the file
 * protocol and a whitelist of demuxers are allowed; limits are enforced. */
mw_status mw_probe_file(const char *path, const mw_limits *limits, mw_cancel_token *cancel,
                        mw_media_info *out, char *message, size_t message_size);

/* The video keyframes' times (seconds from the input's start) that the container's index lists,
 * in index order, at most `capacity`; none for a container without an index (MPEG-TS). */
mw_status mw_keyframe_times(const char *path, const mw_limits *limits, mw_cancel_token *cancel, double *times, int32_t capacity,
                            int32_t *count, char *message, size_t message_size);

/* The same over `size` bytes in memory (no file or protocol reachable): what the fuzzer drives. */
mw_status mw_probe_buffer(const uint8_t *data, size_t size, const mw_limits *limits, mw_cancel_token *cancel,
                          mw_media_info *out, char *message, size_t message_size);

/* The demuxers an input may be opened with, comma-separated. */
const char *mw_allowed_input_formats(void);

/* ---- still images: keyframes, thumbnails, poster, storyboard ---- */

/* Output images: JPEG, upright (display matrix applied), square pixels (SAR applied),
 * fitted into a bounding box without upscaling. */
typedef struct mw_image_spec {
    int32_t max_width;   /* 0: no limit */
    int32_t max_height;  /* 0: no limit */
    int32_t quality;     /* JPEG qscale, 2 (best) .. 31; default 3 */
} mw_image_spec;

void mw_image_spec_init_default(mw_image_spec *spec);

/* Called for each image written: its index, presentation time, size and path. */
typedef void (*mw_image_callback)(void *user, int32_t index, double time_s, int32_t width,
                                  int32_t height, const char *path);
/* Called with the fraction done (0..1). */
typedef void (*mw_progress_callback)(void *user, double fraction);

typedef struct mw_keyframe_options {
    int32_t max_count;        /* 0: no limit */
    double min_interval_s;    /* skip keyframes closer than this to the last one kept */
    double scene_threshold;   /* 0..1: keep a keyframe only if it differs this much from the last kept; 0: all */
} mw_keyframe_options;

/* Decodes only keyframes (AVDISCARD_NONKEY on the decoder) and writes the kept
 * ones as <output_dir>/<prefix><index>.jpg. */
mw_status mw_extract_keyframes(const char *input, const char *output_dir, const char *prefix,
                               const mw_keyframe_options *options, const mw_image_spec *spec,
                               const mw_limits *limits, mw_cancel_token *cancel,
                               mw_image_callback on_image, mw_progress_callback on_progress, void *user,
                               char *message, size_t message_size);

/* Thumbnails at the given times (seconds), or, with times NULL, `count` evenly spaced
 * ones; each by a seek backward to a keyframe and decoding forward to the time. */
mw_status mw_extract_thumbnails(const char *input, const char *output_dir, const char *prefix,
                                const double *times, int32_t count, const mw_image_spec *spec,
                                const mw_limits *limits, mw_cancel_token *cancel,
                                mw_image_callback on_image, mw_progress_callback on_progress, void *user,
                                char *message, size_t message_size);

/* A representative frame: among candidates across the duration, the one with the most
 * detail that is neither black nor flat. Writes `output_path`; fills its time. */
mw_status mw_extract_poster(const char *input, const char *output_path, const mw_image_spec *spec,
                            const mw_limits *limits, mw_cancel_token *cancel, double *chosen_time_s,
                            char *message, size_t message_size);

typedef struct mw_storyboard_info {
    int32_t tile_width, tile_height;
    int32_t columns, rows, count;
    double interval_s;
    double duration_s;
} mw_storyboard_info;

/* A sprite sheet JPEG of one tile every `interval_s` (at most `max_tiles`, `columns`
 * per row), tiles `tile_width` wide with the display aspect; fills `info` for the WebVTT. */
mw_status mw_make_storyboard(const char *input, const char *sprite_path, int32_t tile_width,
                             int32_t columns, double interval_s, int32_t max_tiles,
                             const mw_limits *limits, mw_cancel_token *cancel,
                             mw_progress_callback on_progress, void *user, mw_storyboard_info *info,
                             char *message, size_t message_size);

/* ---- transcode: MP4 files and HLS ladders ---- */

/* The video codecs a rung is encoded with. HEVC and AV1 go in fMP4 only (HEVC tagged hvc1). */
typedef enum mw_video_codec {
    MW_CODEC_H264 = 0,       /* libx264 */
    MW_CODEC_HEVC = 1,       /* libx265 */
    MW_CODEC_AV1 = 2,        /* libsvtav1 */
} mw_video_codec;

/* The constant-quality value a rung gets when it gives none (about the same picture per codec). */
double mw_default_crf(int codec);

/* One video rendition. The picture is made upright with square pixels, then fitted
 * into the box (the box is turned for portrait sources) without upscaling. */
typedef struct mw_video_rung {
    int32_t max_width, max_height;
    int64_t bitrate;         /* average bits/s; 0: constant quality (crf) */
    int64_t max_bitrate;     /* VBV peak bits/s; 0: none */
    int64_t buffer_size;     /* VBV buffer bits; 0: 2 x max_bitrate */
    double crf;              /* used when bitrate is 0, on the codec's own scale (x264/x265 0..51, SVT-AV1 1..63) */
    int32_t codec;           /* mw_video_codec */
} mw_video_rung;

typedef struct mw_encode_settings {
    char preset[16];             /* x264 preset name; default "veryfast" (x265 takes the same name, SVT-AV1 a matching number) */
    double max_fps;              /* frame-rate cap; 0: none */
    double gop_s;                /* keyframe interval in seconds; default 2 */
    int32_t audio_bitrate;       /* bits/s; default 128000 */
    int32_t audio_channels;      /* at most this many; default 2 */
    int32_t audio_sample_rate;   /* 0: the source's when 44.1/48 kHz, else 48 kHz */
    int32_t threads;             /* codec threads; 0: one per core */
    /* Loudness correction of a single-file output's audio (MP4 renditions): a gain and, below 0,
     * a limiter's ceiling in dBFS; HLS packages take theirs per rendition from mw_hls_settings. */
    double audio_gain_db;
    double audio_limit_db;
    int32_t audio_stream;        /* single-file outputs: the source audio stream; -1 (default): the best one */
} mw_encode_settings;

void mw_encode_settings_init_default(mw_encode_settings *settings);

typedef enum mw_segment_format {
    MW_SEGMENTS_FMP4 = 0,
    MW_SEGMENTS_TS = 1,
} mw_segment_format;

/* What of a package one call makes: all of it, or a part of a split transcode (the video of a
 * time range, for every rung; or the audio rendition alone). Parts of one package must share
 * the settings, the rungs and the timeline offset; their segments then join into one. */
typedef enum mw_package_part {
    MW_PART_WHOLE = 0,
    MW_PART_VIDEO_RANGE = 1,     /* video frames in [range_start_s, range_end_s), segments numbered from range_start_s */
    MW_PART_AUDIO = 2,           /* the audio rendition only */
} mw_package_part;

/* Quality control on the decode the transcode makes anyway: black, frozen and silent
 * stretches. Every run at least its minimum long is kept, and so is a shorter one touching the
 * start or the end of what was decoded (a part of a split job: it may go on in the next part);
 * the caller joins parts and applies the minimums. */
typedef struct mw_qc_settings {
    int32_t enabled;
    double black_min_s;            /* default 2 */
    double black_pixel_threshold;  /* a pixel is black at or below this luma fraction, default 0.10 */
    double black_picture_ratio;    /* a picture is black when this fraction of its pixels is, default 0.98 */
    double freeze_min_s;           /* default 2 */
    double freeze_noise_db;        /* frames this close are the same picture, default -60 */
    double silence_min_s;          /* default 2 */
    double silence_noise_db;       /* audio at or below this level is silence, default -60 */
} mw_qc_settings;

void mw_qc_settings_init_default(mw_qc_settings *settings);

#define MW_QC_MAX_INTERVALS 128

typedef struct mw_qc_interval {
    double start_s, end_s;
} mw_qc_interval;

typedef struct mw_qc_report {
    int32_t video_measured, audio_measured;   /* 1 when that side was decoded and looked at */
    int32_t black_count, frozen_count, silence_count;
    int32_t truncated;                        /* more runs than MW_QC_MAX_INTERVALS of a kind */
    mw_qc_interval black[MW_QC_MAX_INTERVALS];
    mw_qc_interval frozen[MW_QC_MAX_INTERVALS];
    mw_qc_interval silence[MW_QC_MAX_INTERVALS];
} mw_qc_report;

/* An audio waveform as BBC audiowaveform's data (format version 2, one channel): the minimum and
 * maximum of every `samples_per_pixel` samples of the best audio stream mixed to mono, at the
 * stream's own rate, as signed 8-bit (-128..127) or 16-bit integers; for players like peaks.js. */
typedef struct mw_waveform_info {
    int32_t sample_rate;
    int32_t samples_per_pixel;
    int32_t bits;                /* 8 or 16 */
    int32_t pixels;              /* min/max pairs written to `data` */
    int32_t truncated;           /* the audio went on past `capacity` values */
} mw_waveform_info;

/* `data` holds `capacity` values (two per pixel: min, max). */
mw_status mw_audio_waveform(const char *input, double pixels_per_second, int32_t bits, const mw_limits *limits,
                            mw_cancel_token *cancel, int16_t *data, int32_t capacity, mw_waveform_info *info,
                            char *message, size_t message_size);

/* An animated preview for grids: `excerpts` short excerpts spread over the video (each
 * `excerpt_s` long, `fps` frames a second), upright, at most `max_width` wide, looping. */
typedef struct mw_preview_settings {
    int32_t excerpts;            /* default 4 */
    double excerpt_s;            /* default 1.5 */
    double fps;                  /* default 10 */
    int32_t max_width;           /* default 320 */
    int32_t quality;             /* WebP quality 0..100, default 70 */
    int32_t gif;                 /* 1: an animated GIF (a palette per frame) instead of WebP */
} mw_preview_settings;

void mw_preview_settings_init_default(mw_preview_settings *settings);

typedef struct mw_preview_result {
    int32_t width, height;
    int32_t frames;
    int32_t excerpts;            /* fewer than asked when the video is shorter than them all */
    double duration_s;           /* of the animation */
} mw_preview_result;

/* Writes an animated WebP (libwebp) or GIF at `output_path` (a temp name, then renamed). */
mw_status mw_animated_preview(const char *input, const char *output_path, const mw_preview_settings *settings,
                              const mw_limits *limits, mw_cancel_token *cancel, mw_preview_result *result,
                              char *message, size_t message_size);

typedef struct mw_hls_settings {
    int32_t segment_format;      /* mw_segment_format */
    double target_duration_s;    /* default 6 */
    int32_t audio_muxed;         /* 0: one shared audio rendition; 1: audio in every variant */
    int32_t part;                /* mw_package_part, default MW_PART_WHOLE */
    double range_start_s;        /* MW_PART_VIDEO_RANGE: a multiple of target_duration_s, unless range_anywhere */
    double range_end_s;          /* MW_PART_VIDEO_RANGE: <= 0 for the end of the input */
    int32_t range_anywhere;      /* 1: the range may start at any time (a per-title sample: a package of its own,
                                  * not a part that must line up with others) */
    int32_t judge_psnr;          /* 1: every video rung's luma compared, in the pass, with the source frame it was
                                  * encoded from, both at the largest rung's size (bicubic), as the quality meter
                                  * does: mw_rendition_info.judged_frames and judged_mse_y_sum */
    double timeline_offset_s;    /* > 0: this offset instead of the one computed (parts must agree) */
    /* Audio renditions: 0 = the source's best audio stream; else these source stream indices,
     * the first the main one (muxed into variants, "audio/"), the others "audio-1/", "audio-2/"...
     * (shared audio only). */
    int32_t audio_stream_count;
    int32_t audio_streams[8];
    mw_qc_settings qc;           /* off unless enabled; not with stream copy (nothing is decoded) */
    /* Loudness normalisation: one linear gain per audio rendition, in the order of
     * audio_streams (the main one first), 0 for none. */
    double audio_gain_db[8];
    /* With a gain the true-peak ceiling would not allow: a lookahead limiter's ceiling per
     * rendition in dBFS (alimiter, its delay compensated), 0 for none. */
    double audio_limit_db[8];
    /* An animated preview made from the frames the rungs get (no read of its own), written at
     * `preview_path` (a temp name beside it, then renamed); off when the path is empty. A whole
     * package only, and not with stream copy (nothing is decoded): the result says if it was made. */
    mw_preview_settings preview;
    char preview_path[4096];
} mw_hls_settings;

/* EBU R128 measurement of an audio stream: integrated loudness, loudness range, true peak. */
typedef struct mw_loudness {
    int32_t stream;              /* the source stream index */
    double integrated_lufs;      /* -70 when nothing above the gate */
    double range_lu;
    double true_peak_db;         /* dBTP, the highest of its channels; -inf for silence */
} mw_loudness;

/* Measures `count` audio streams of `input` (their indices in `streams`) in one read of it; with
 * `gains_db`/`limits_db` (either may be NULL), each as the loudness correction would make it
 * (the same filters as the encode's audio chain), to check a dynamic correction before encoding. */
mw_status mw_measure_loudness(const char *input, const int32_t *streams, int32_t count, const double *gains_db,
                              const double *limits_db, const mw_limits *limits,
                              mw_cancel_token *cancel, mw_loudness *results, char *message, size_t message_size);

#define MW_MAX_AUDIO_TRACKS 8

void mw_hls_settings_init_default(mw_hls_settings *settings);

typedef enum mw_rendition_kind {
    MW_RENDITION_VIDEO = 1,      /* video, with audio when muxed */
    MW_RENDITION_AUDIO = 2,      /* audio alone */
} mw_rendition_kind;

/* What one rendition became; paths are relative to the output directory. */
typedef struct mw_rendition_info {
    int32_t kind;                /* mw_rendition_kind */
    char playlist[64];           /* e.g. "720p/index.m3u8", "720p-hevc/index.m3u8" */
    char iframe_playlist[64];    /* "" when none */
    int32_t codec;               /* video: mw_video_codec */
    int32_t width, height;
    int32_t fps_num, fps_den;
    char codecs[64];             /* RFC 6381, e.g. "avc1.64001f,mp4a.40.2" */
    int64_t peak_bitrate;        /* the highest segment bit rate, bits/s */
    int64_t average_bitrate;     /* all segments' bits over the duration */
    int64_t iframe_peak_bitrate;
    int64_t iframe_average_bitrate;
    int32_t audio_channels;      /* 0 when the rendition carries no audio */
    int32_t segment_count;
    double duration_s;
    int32_t has_audio;
    double audio_wait_peak_s;    /* muxed audio: the longest span of video held waiting for audio */
    /* audio renditions: from the source stream's tags and disposition */
    int32_t source_stream;       /* the source stream index, -1 when none */
    char language[16];           /* its language tag (e.g. "eng"), "" when none */
    char name[64];               /* its title tag, "" when none */
    int32_t is_default;          /* the source marks it default */
    /* video, with mw_hls_settings.judge_psnr: the frames compared and their luma MSEs summed */
    int32_t judged_frames;
    double judged_mse_y_sum;
} mw_rendition_info;

#define MW_MAX_RENDITIONS 24

typedef struct mw_package_result {
    int32_t rendition_count;
    mw_rendition_info renditions[MW_MAX_RENDITIONS];  /* video renditions first, audio last */
    double duration_s;
    int32_t stream_copied;       /* 1 when packaged by stream copy */
    double timeline_offset_s;    /* added to every timestamp (a DASH presentationTimeOffset) */
    mw_qc_report qc;             /* when hls->qc.enabled */
    int32_t preview_made;        /* 1 when hls->preview_path was written */
    mw_preview_result preview;
} mw_package_result;

/* One demux and one decode feed every rung's scaler and encoder at once (a thread per
 * rung). Keyframes are forced by time at every `gop_s` and at every segment start, so
 * they line up across rungs. Writes <dir>/<height>p/ (index.m3u8, iframes.m3u8, init.mp4,
 * segments) and <dir>/audio/ when the audio is a rendition of its own. The directory must
 * exist; the master playlist is the caller's. */
mw_status mw_package_hls(const char *input, const char *output_dir, const mw_video_rung *rungs, int32_t rung_count,
                         const mw_encode_settings *settings, const mw_hls_settings *hls, const mw_limits *limits,
                         mw_cancel_token *cancel, mw_progress_callback on_progress, void *user,
                         mw_package_result *result, char *message, size_t message_size);

/* Packages an H.264/AAC source without re-encoding: segments cut at its own IDR frames.
 * Returns MW_E_COPY_NOT_POSSIBLE (having written nothing usable) when the source does not fit
 * the rung's box or the settings' frame-rate cap, or its codecs, orientation, pixel shape, scan,
 * frame-rate regularity or keyframe spacing do not allow segments within the target. */
mw_status mw_package_hls_copy(const char *input, const char *output_dir, const mw_video_rung *rung,
                              const mw_encode_settings *settings, const mw_hls_settings *hls,
                              const mw_limits *limits, mw_cancel_token *cancel,
                              mw_progress_callback on_progress, void *user, mw_package_result *result,
                              char *message, size_t message_size);

/* HLS segment encryption (RFC 8216 section 5.2, METHOD=AES-128): the whole file at `input_path`
 * encrypted with AES-128-CBC and PKCS#7 padding under `key` (16 bytes) and `iv` (16 bytes), written
 * to `output_path` (a new file; the input is left as it was). Streams in blocks of 64 KiB. */
mw_status mw_aes128_cbc_encrypt_file(const char *input_path, const char *output_path, const uint8_t *key, const uint8_t *iv,
                                     char *message, size_t message_size);

/* One MP4 (H.264 + AAC, moov first, no source metadata) at `output_path`. */
mw_status mw_transcode_mp4(const char *input, const char *output_path, const mw_video_rung *rung,
                           const mw_encode_settings *settings, const mw_limits *limits,
                           mw_cancel_token *cancel, mw_progress_callback on_progress, void *user,
                           mw_rendition_info *result, char *message, size_t message_size);

/* ---- quality ---- */

/* A video rendition of a package to measure: its folder and picture size. */
typedef struct mw_quality_target {
    char folder[64];         /* e.g. "720p": segments are read from <package>/<folder>/ */
    int32_t width, height;
} mw_quality_target;

/* A segment every target has under the same file name, and the output times it covers. */
typedef struct mw_quality_segment {
    char name[64];           /* e.g. "seg-00003.m4s" */
    double start_s, end_s;   /* output time from the input's start (no timeline offset) */
} mw_quality_segment;

/* Sums over the frames of one segment of one target (luma MSE on the 8-bit scale, SSIM of Y). */
typedef struct mw_quality_sample {
    double mse_y_sum;
    double ssim_y_sum;
    int32_t frames;
} mw_quality_sample;

/* Compares segments of a package with the source they were encoded from: the source is decoded
 * through the transcode's own chain (upright, progressive, at the same frame rate, capped by
 * `max_fps`), scaled to each target's size (bicubic) and compared frame by frame with libavfilter's
 * psnr and ssim (`psnr_only`: no ssim, whose sums stay 0). `fmp4`: segments need <folder>/init.mp4
 * in front. `samples` holds target_count × segment_count entries, target after target. */
mw_status mw_measure_quality(const char *input, const char *package_dir, const mw_quality_target *targets, int32_t target_count,
                             const mw_quality_segment *segments, int32_t segment_count, double max_fps, double timeline_offset_s,
                             int32_t fmp4, int32_t psnr_only, const mw_limits *limits, mw_cancel_token *cancel,
                             mw_quality_sample *samples, char *message, size_t message_size);

/* ---- subtitles ---- */

/* Whether a codec (ffprobe's name, e.g. "subrip", "ass", "mov_text", "webvtt") is text-based:
 * bitmap subtitles (DVD, PGS, DVB) are not. */
int32_t mw_is_text_subtitle(const char *codec_name);

/* Writes the text subtitle stream `stream_index` of `input` (-1: its first subtitle stream, as in
 * a sidecar .srt/.ass/.vtt) as one WebVTT file. Cue times count from the input's start when
 * `from_input_start` (an upload's own stream, on the transcode's timeline), else from zero.
 * MW_E_FORMAT_NOT_ALLOWED for a bitmap stream. Fills the number of cues written. */
mw_status mw_extract_webvtt(const char *input, int32_t stream_index, int32_t from_input_start, const char *output_path,
                            const mw_limits *limits, mw_cancel_token *cancel, int32_t *cue_count,
                            char *message, size_t message_size);

/* ---- speech recognition (automatic captions) ---- */

/* One stretch of recognised speech: its text and when it is heard (seconds from the input's start). */
typedef struct mw_utterance {
    double start_s;
    double end_s;
    char text[1024];
} mw_utterance;

/* Audio stream `stream` of `input` mixed to mono 16 kHz 16-bit PCM (what speech recognisers read),
 * written as a WAV at `wav_path`; `duration_s` filled. */
mw_status mw_extract_speech_audio(const char *input, int32_t stream, const char *wav_path, const mw_limits *limits,
                                  mw_cancel_token *cancel, mw_progress_callback on_progress, void *user, double *duration_s,
                                  char *message, size_t message_size);

/* Whether the linked libavfilter has the `asr` filter (built with pocketsphinx). */
int mw_speech_recognition_available(void);

/* Speech recognition in process with libavfilter's `asr` filter (CMU pocketsphinx) on audio stream
 * `stream`: the acoustic model folder `hmm`, the dictionary `dict`, the language model `lm`. Each
 * utterance the recogniser closes becomes one entry, timed by silencedetect (speech between
 * silences of at least 0.3 s under -35 dB). At most `max` are kept; `count` filled. */
mw_status mw_recognize_speech(const char *input, int32_t stream, const char *hmm, const char *dict, const char *lm,
                              const mw_limits *limits, mw_cancel_token *cancel, mw_progress_callback on_progress, void *user,
                              mw_utterance *utterances, int32_t max, int32_t *count, double *duration_s,
                              char *message, size_t message_size);

/* ---- speech (libespeak-ng) ---- */

typedef struct mw_speech_options {
    char voice[64];       /* espeak-ng voice name, default "en" */
    int32_t rate_wpm;     /* words per minute, 80..450; default 175 */
    int32_t pitch;        /* 0..100; default 50 */
} mw_speech_options;

void mw_speech_options_init_default(mw_speech_options *options);

/* Speaks UTF-8 `text` (at most 20000 bytes) into a mono 16-bit WAV at `wav_path` (written
 * beside it and renamed); fills its duration. espeak-ng keeps global state, so calls are
 * serialized inside. Cancellation is checked between the library's audio callbacks. */
mw_status mw_synthesize_speech(const char *text, const mw_speech_options *options, const char *wav_path,
                               mw_cancel_token *cancel, double *duration_s, char *message, size_t message_size);

/* One word as espeak-ng spoke it: where it is in the text (in Unicode scalars, from 0) and when it
 * is heard in the WAV (start; end at the next word or the end of its clause). */
typedef struct mw_speech_word {
    int32_t text_offset;
    int32_t text_length;
    double start_s;
    double end_s;
} mw_speech_word;

/* mw_synthesize_speech, also filling up to `max_words` words with their times (from espeak-ng's
 * word and clause events, to the millisecond) and `word_count` with how many were filled. */
mw_status mw_synthesize_speech_timed(const char *text, const mw_speech_options *options, const char *wav_path,
                                     mw_cancel_token *cancel, double *duration_s, mw_speech_word *words, int32_t max_words,
                                     int32_t *word_count, char *message, size_t message_size);

/* ---- compose: narration and visuals into one video ---- */

typedef enum mw_fit_mode {
    MW_FIT_COVER = 0,       /* fill the frame, cropping what sticks out */
    MW_FIT_LETTERBOX = 1,   /* the whole picture, black bars where it does not fill */
} mw_fit_mode;

typedef struct mw_compose_scene {
    const char *visual;     /* image (PNG, JPEG, WebP) or video clip */
    const char *audio;      /* narration (WAV, MP3, Ogg, M4A, ...); NULL: silence */
    const char *caption;    /* UTF-8, burned in when captions are on; NULL or "": none */
    double duration_s;      /* 0: the narration's length; else at least this (silence after the narration) */
} mw_compose_scene;

typedef struct mw_compose_options {
    int32_t width, height;          /* even, 16..4096; default 1280x720 */
    int32_t fps_num, fps_den;       /* default 30/1 */
    int32_t fit;                    /* mw_fit_mode */
    int32_t ken_burns;              /* slow zoom and pan on still images */
    double ken_burns_zoom;          /* zoom over one scene, 0.01..0.5; default 0.12 */
    double transition_s;            /* crossfade centred on each scene boundary; 0: cuts */
    int32_t captions;               /* burn in each scene's caption (libass, wrapped to the frame) */
    double caption_size;            /* font height as a fraction of the frame height; default 0.055 */
    const char *music;              /* background music, looped under the whole video; NULL: none */
    double music_db;                /* its level, -60..0 dB; default -20 */
    double duck_db;                 /* how much lower it goes while someone speaks, -40..0 dB; default -12 */
    double loudness_lufs;           /* 0: as is; else the integrated loudness (EBU R128) to reach, -40..-5 */
    mw_video_rung video;            /* quality: crf (default 23) or bit rate; the box is width x height */
    mw_encode_settings settings;    /* preset, keyframe interval, audio bit rate, channels, rate */
} mw_compose_options;

void mw_compose_options_init_default(mw_compose_options *options);

#define MW_MAX_SCENES 1000

typedef struct mw_compose_result {
    int32_t frame_count;
    double duration_s;              /* of the video: frame_count / fps */
    double audio_duration_s;        /* of the audio, within half a frame of the video */
    char codecs[64];                /* RFC 6381 */
    double measured_lufs;           /* integrated loudness before normalisation (loudness on), else 0 */
    double gain_db;                 /* applied for normalisation */
    int32_t failed_scene;           /* on failure: the scene at fault (0-based), -1 when none */
} mw_compose_result;

/* Writes one MP4 (H.264 + AAC, moov first) of the scenes back to back. Each scene lasts its
 * narration (or duration_s); its pictures start and end on the video frames nearest its audio
 * boundaries, so sync holds to half a frame however long the video is. Fills the scenes' start
 * and end times (seconds, caller-allocated arrays of scene_count, may be NULL). */
mw_status mw_compose(const mw_compose_scene *scenes, int32_t scene_count, const mw_compose_options *options,
                     const char *output_path, const mw_limits *limits, mw_cancel_token *cancel,
                     mw_progress_callback on_progress, void *user, double *scene_start_s, double *scene_end_s,
                     mw_compose_result *result, char *message, size_t message_size);

#ifdef __cplusplus
}
#endif
#endif

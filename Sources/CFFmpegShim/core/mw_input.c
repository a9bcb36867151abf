/* Opening untrusted input: file protocol only, a demuxer whitelist, limits. */
#include "core/mw_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <sys/stat.h>
#include <libavutil/avstring.h>

/* Demuxers for real uploads. Everything that can reference other resources
 * (hls, concat, dash, image2 patterns, subfile, ...) is absent on purpose. */
static const char *const allowed_formats =
    "mov,mp4,m4a,3gp,3g2,mj2,matroska,webm,mpegts,flv,avi,wav,mp3,aac,ogg,flac,"
    "png_pipe,jpeg_pipe,webp_pipe,gif,"
    /* text subtitles: sidecar files (they name no other resource) */
    "srt,ass,webvtt";

const char *mw_allowed_input_formats(void) {
    return allowed_formats;
}

static int format_is_allowed(const AVInputFormat *format) {
    return format && av_match_list(format->name, allowed_formats, ',') > 0;
}

static mw_status check_stream_limits(const AVFormatContext *ctx, const mw_limits *limits,
                                     char *message, size_t message_size) {
    if ((int64_t)ctx->nb_streams > limits->max_streams || ctx->nb_streams > MW_MAX_STREAMS) {
        return mw_fail(message, message_size, MW_E_TOO_MANY_STREAMS,
                       "input has %u streams, more than the limit of %d", ctx->nb_streams,
                       limits->max_streams);
    }
    for (unsigned i = 0; i < ctx->nb_streams; i++) {
        const AVCodecParameters *par = ctx->streams[i]->codecpar;
        if (par->codec_type != AVMEDIA_TYPE_VIDEO) continue;
        if (par->width < 0 || par->height < 0 || par->width > limits->max_width ||
            par->height > limits->max_height ||
            (int64_t)par->width * par->height > limits->max_pixels) {
            return mw_fail(message, message_size, MW_E_DIMENSIONS_TOO_LARGE,
                           "stream %u declares %dx%d pixels, over the limit of %dx%d", i, par->width,
                           par->height, limits->max_width, limits->max_height);
        }
    }
    return MW_OK;
}

static uint32_t read_be32(const uint8_t *p) { return (uint32_t)p[0] << 24 | p[1] << 16 | p[2] << 8 | p[3]; }
static uint32_t read_be16(const uint8_t *p) { return (uint32_t)p[0] << 8 | p[1]; }

/* A still image's decoder refuses oversized pictures without saying why, so the size a
 * PNG or JPEG header declares is checked here to report it as what it is. */
static mw_status check_declared_image_size(AVIOContext *io, const mw_limits *limits,
                                           char *message, size_t message_size) {
    uint8_t head[65536];
    if (avio_seek(io, 0, SEEK_SET) < 0) return MW_OK;
    int n = avio_read(io, head, sizeof(head));
    if (n < 24) return MW_OK;
    int64_t width = -1, height = -1;
    if (!memcmp(head, "\x89PNG\r\n\x1a\n", 8) && !memcmp(head + 12, "IHDR", 4)) {
        width = read_be32(head + 16);
        height = read_be32(head + 20);
    } else if (head[0] == 0xFF && head[1] == 0xD8) {
        for (int i = 2; i + 9 < n;) {
            if (head[i] != 0xFF) break;
            uint8_t marker = head[i + 1];
            if (marker == 0xFF) { i++; continue; }
            uint32_t length = read_be16(head + i + 2);
            /* SOF0..SOF15 carry the frame size; C4 (DHT), C8 (JPG) and CC (DAC) do not. */
            if (marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC) {
                height = read_be16(head + i + 5);
                width = read_be16(head + i + 7);
                break;
            }
            if (length < 2) break;
            i += 2 + (int)length;
        }
    }
    if (width < 0) return MW_OK;
    if (width > limits->max_width || height > limits->max_height || width * height > limits->max_pixels) {
        return mw_fail(message, message_size, MW_E_DIMENSIONS_TOO_LARGE,
                       "image declares %" PRId64 "x%" PRId64 " pixels, over the limit of %dx%d", width, height,
                       limits->max_width, limits->max_height);
    }
    return MW_OK;
}

/* Opens an input whose format is identified and allowed: `url` (a file: URL) or, with `io`
 * set, a custom reader. Stream count, pixel, duration limits; at least one media stream. */
static mw_status open_identified(const char *url, AVIOContext *io, const AVInputFormat *format, const mw_limits *limits,
                                 mw_interrupt *interrupt, AVFormatContext **out, char *message, size_t message_size) {
    const AVIOInterruptCB interrupt_cb = {mw_interrupt_check, interrupt};
    mw_status status = MW_OK;
    AVDictionary *options = NULL;
    AVDictionary **stream_options = NULL;
    unsigned stream_options_count = 0;
    int ret;
    AVFormatContext *ctx = avformat_alloc_context();
    if (!ctx) return mw_fail(message, message_size, MW_E_OUT_OF_MEMORY, "out of memory");
    ctx->interrupt_callback = interrupt_cb;
    if (io) {
        ctx->pb = io;
        ctx->flags |= AVFMT_FLAG_CUSTOM_IO;
    }
    av_dict_set(&options, "protocol_whitelist", "file", 0);
    av_dict_set(&options, "format_whitelist", allowed_formats, 0);
    ret = avformat_open_input(&ctx, url, format, &options); /* frees ctx on failure */
    if (ret < 0) {
        status = mw_fail(message, message_size, mw_status_from_averror(ret, interrupt),
                         "%s container cannot be read: %s", format->name, av_err2str(ret));
        goto end;
    }
    if ((status = check_stream_limits(ctx, limits, message, message_size)) != MW_OK) goto end;

    /* Decoders refuse frames above the pixel limit while stream info is read. */
    stream_options_count = ctx->nb_streams;
    stream_options = av_calloc(stream_options_count ? stream_options_count : 1, sizeof(*stream_options));
    if (!stream_options) {
        status = mw_fail(message, message_size, MW_E_OUT_OF_MEMORY, "out of memory");
        goto end;
    }
    for (unsigned i = 0; i < stream_options_count; i++) {
        av_dict_set_int(&stream_options[i], "max_pixels", limits->max_pixels, 0);
        av_dict_set(&stream_options[i], "threads", "1", 0);
    }
    ret = avformat_find_stream_info(ctx, stream_options);
    if (ret < 0) {
        status = mw_fail(message, message_size, mw_status_from_averror(ret, interrupt),
                         "stream parameters cannot be read: %s", av_err2str(ret));
        goto end;
    }
    if ((status = check_stream_limits(ctx, limits, message, message_size)) != MW_OK) goto end;
    if (ctx->duration != AV_NOPTS_VALUE && ctx->duration > limits->max_duration_us) {
        status = mw_fail(message, message_size, MW_E_DURATION_TOO_LONG,
                         "input lasts %.1f s, over the limit of %.1f s", ctx->duration / 1e6,
                         limits->max_duration_us / 1e6);
        goto end;
    }
    int media_streams = 0;
    for (unsigned i = 0; i < ctx->nb_streams; i++) {
        const AVCodecParameters *par = ctx->streams[i]->codecpar;
        if (par->codec_id == AV_CODEC_ID_NONE) continue;
        if (par->codec_type == AVMEDIA_TYPE_VIDEO && par->width > 0 && par->height > 0) media_streams++;
        if (par->codec_type == AVMEDIA_TYPE_AUDIO && par->sample_rate > 0) media_streams++;
        /* A sidecar subtitle file holds nothing else. */
        if (par->codec_type == AVMEDIA_TYPE_SUBTITLE && av_match_list(ctx->iformat->name, "srt,ass,webvtt", ',') > 0) media_streams++;
    }
    if (media_streams == 0) {
        status = mw_fail(message, message_size, MW_E_NO_MEDIA_STREAMS,
                         "input has no decodable audio or video stream");
        goto end;
    }

end:
    if (stream_options) {
        for (unsigned i = 0; i < stream_options_count; i++) av_dict_free(&stream_options[i]);
        av_freep(&stream_options);
    }
    av_dict_free(&options);
    if (status != MW_OK) avformat_close_input(&ctx);
    else *out = ctx;
    return status;
}

mw_status mw_open_input(const char *path, const mw_limits *limits_in, mw_interrupt *interrupt,
                        AVFormatContext **out, char *message, size_t message_size) {
    mw_limits limits;
    if (limits_in) limits = *limits_in; else mw_limits_init_default(&limits);
    if (!path || !out || !*path) return mw_fail(message, message_size, MW_E_INVALID_ARGUMENT, "no input path");
    *out = NULL;

    struct stat st;
    if (stat(path, &st) != 0) {
        if (errno == ENOENT || errno == ENOTDIR)
            return mw_fail(message, message_size, MW_E_INPUT_NOT_FOUND, "input file does not exist");
        return mw_fail(message, message_size, MW_E_INPUT_UNREADABLE, "input file cannot be read: %s", strerror(errno));
    }
    if (!S_ISREG(st.st_mode))
        return mw_fail(message, message_size, MW_E_INPUT_UNREADABLE, "input is not a regular file");
    if (st.st_size == 0)
        return mw_fail(message, message_size, MW_E_INPUT_EMPTY, "input file is empty (0 bytes)");

    /* The explicit file: prefix stops names such as "concat:a|b" or "subfile:..."
     * from being taken as protocols. */
    char *url = av_asprintf("file:%s", path);
    if (!url) return mw_fail(message, message_size, MW_E_OUT_OF_MEMORY, "out of memory");

    const AVIOInterruptCB interrupt_cb = {mw_interrupt_check, interrupt};
    mw_status status = MW_OK;
    AVIOContext *probe_io = NULL;
    AVDictionary *io_options = NULL;
    const AVInputFormat *format = NULL;
    int ret;

    /* Identify the format ourselves first so that a refused format gets its own error. */
    av_dict_set(&io_options, "protocol_whitelist", "file", 0);
    ret = avio_open2(&probe_io, url, AVIO_FLAG_READ, &interrupt_cb, &io_options);
    if (ret < 0) {
        status = mw_fail(message, message_size, mw_status_from_averror(ret, interrupt),
                         "input cannot be opened: %s", av_err2str(ret));
        goto end;
    }
    /* By content only: a name ending in .jpg must not select image2 (file patterns),
     * and random bytes named .mp4 must not be taken for MP4. */
    ret = av_probe_input_buffer2(probe_io, &format, "", NULL, 0, 0);
    if (ret < 0 || !format) {
        status = interrupt->fired ? (mw_status)interrupt->fired : MW_E_FORMAT_UNRECOGNIZED;
        mw_fail(message, message_size, status, "input is not a recognised media format");
        goto end;
    }
    if (!format_is_allowed(format)) {
        status = mw_fail(message, message_size, MW_E_FORMAT_NOT_ALLOWED,
                         "input format '%s' is not allowed", format->name);
        goto end;
    }
    if ((status = check_declared_image_size(probe_io, &limits, message, message_size)) != MW_OK) goto end;
    avio_closep(&probe_io);

    status = open_identified(url, NULL, format, &limits, interrupt, out, message, message_size);

end:
    av_dict_free(&io_options);
    avio_closep(&probe_io);
    av_free(url);
    return status;
}

/* An in-memory input: reads and seeks over the caller's bytes, nothing else is reachable. */
typedef struct mw_memory_reader {
    const uint8_t *data;
    size_t size, position;
} mw_memory_reader;

static int memory_read(void *opaque, uint8_t *buffer, int size) {
    mw_memory_reader *reader = opaque;
    size_t left = reader->size - reader->position;
    if (left == 0) return AVERROR_EOF;
    size_t n = (size_t)size < left ? (size_t)size : left;
    memcpy(buffer, reader->data + reader->position, n);
    reader->position += n;
    return (int)n;
}

static int64_t memory_seek(void *opaque, int64_t offset, int whence) {
    mw_memory_reader *reader = opaque;
    if (whence & AVSEEK_SIZE) return (int64_t)reader->size;
    int64_t base = (whence & ~AVSEEK_FORCE) == SEEK_CUR ? (int64_t)reader->position
                 : (whence & ~AVSEEK_FORCE) == SEEK_END ? (int64_t)reader->size : 0;
    int64_t target = base + offset;
    if (target < 0 || target > (int64_t)reader->size) return AVERROR(EINVAL);
    reader->position = (size_t)target;
    return target;
}

mw_status mw_with_memory_input(const uint8_t *data, size_t size, const mw_limits *limits_in, mw_interrupt *interrupt,
                               mw_memory_input_body body, void *user, char *message, size_t message_size) {
    mw_limits limits;
    if (limits_in) limits = *limits_in; else mw_limits_init_default(&limits);
    if (!data && size) return mw_fail(message, message_size, MW_E_INVALID_ARGUMENT, "no input");
    if (size == 0) return mw_fail(message, message_size, MW_E_INPUT_EMPTY, "input is empty (0 bytes)");
    mw_memory_reader reader = {data, size, 0};
    const int buffer_size = 4096;
    uint8_t *buffer = av_malloc(buffer_size);
    AVIOContext *io = buffer ? avio_alloc_context(buffer, buffer_size, 0, &reader, memory_read, NULL, memory_seek) : NULL;
    if (!io) {
        av_free(buffer);
        return mw_fail(message, message_size, MW_E_OUT_OF_MEMORY, "out of memory");
    }
    mw_status status = MW_OK;
    const AVInputFormat *format = NULL;
    AVFormatContext *ctx = NULL;
    int ret = av_probe_input_buffer2(io, &format, "", NULL, 0, 0);
    if (ret < 0 || !format) {
        status = mw_fail(message, message_size, MW_E_FORMAT_UNRECOGNIZED, "input is not a recognised media format");
    } else if (!format_is_allowed(format)) {
        status = mw_fail(message, message_size, MW_E_FORMAT_NOT_ALLOWED, "input format '%s' is not allowed", format->name);
    } else if ((status = check_declared_image_size(io, &limits, message, message_size)) == MW_OK) {
        if (avio_seek(io, 0, SEEK_SET) < 0) status = mw_fail(message, message_size, MW_E_INTERNAL, "cannot rewind the input");
        else status = open_identified(NULL, io, format, &limits, interrupt, &ctx, message, message_size);
    }
    if (status == MW_OK) status = body(user, ctx, message, message_size);
    avformat_close_input(&ctx);
    /* The buffer may have been replaced by libavformat; the context owns whichever it is now. */
    av_freep(&io->buffer);
    avio_context_free(&io);
    return status;
}

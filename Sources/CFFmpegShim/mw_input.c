/* Opening untrusted input: file protocol only, a demuxer whitelist, limits. */
#include "mw_internal.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <libavutil/avstring.h>

/* Demuxers for real uploads. Everything that can reference other resources
 * (hls, concat, dash, image2 patterns, subfile, ...) is absent on purpose. */
static const char *const allowed_formats =
    "mov,mp4,m4a,3gp,3g2,mj2,matroska,webm,mpegts,flv,avi,wav,mp3,aac,ogg,flac,"
    "png_pipe,jpeg_pipe,webp_pipe,gif";

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
    AVDictionary *options = NULL;
    AVDictionary **stream_options = NULL;
    AVFormatContext *ctx = NULL;
    const AVInputFormat *format = NULL;
    unsigned stream_options_count = 0;
    int ret;

    /* Identify the format ourselves first so that a refused format gets its own error. */
    av_dict_set(&io_options, "protocol_whitelist", "file", 0);
    ret = avio_open2(&probe_io, url, AVIO_FLAG_READ, &interrupt_cb, &io_options);
    if (ret < 0) {
        status = mw_fail(message, message_size, mw_status_from_averror(ret, interrupt),
                         "input cannot be opened: %s", av_err2str(ret));
        goto end;
    }
    ret = av_probe_input_buffer2(probe_io, &format, url, NULL, 0, 0);
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
    avio_closep(&probe_io);

    ctx = avformat_alloc_context();
    if (!ctx) {
        status = mw_fail(message, message_size, MW_E_OUT_OF_MEMORY, "out of memory");
        goto end;
    }
    ctx->interrupt_callback = interrupt_cb;
    av_dict_set(&options, "protocol_whitelist", "file", 0);
    av_dict_set(&options, "format_whitelist", allowed_formats, 0);
    ret = avformat_open_input(&ctx, url, format, &options); /* frees ctx on failure */
    if (ret < 0) {
        status = mw_fail(message, message_size, mw_status_from_averror(ret, interrupt),
                         "%s container cannot be read: %s", format->name, av_err2str(ret));
        goto end;
    }
    if ((status = check_stream_limits(ctx, &limits, message, message_size)) != MW_OK) goto end;

    /* Decoders refuse frames above the pixel limit while stream info is read. */
    stream_options_count = ctx->nb_streams;
    stream_options = av_calloc(stream_options_count ? stream_options_count : 1, sizeof(*stream_options));
    if (!stream_options) {
        status = mw_fail(message, message_size, MW_E_OUT_OF_MEMORY, "out of memory");
        goto end;
    }
    for (unsigned i = 0; i < stream_options_count; i++) {
        av_dict_set_int(&stream_options[i], "max_pixels", limits.max_pixels, 0);
        av_dict_set(&stream_options[i], "threads", "1", 0);
    }
    ret = avformat_find_stream_info(ctx, stream_options);
    if (ret < 0) {
        status = mw_fail(message, message_size, mw_status_from_averror(ret, interrupt),
                         "stream parameters cannot be read: %s", av_err2str(ret));
        goto end;
    }
    if ((status = check_stream_limits(ctx, &limits, message, message_size)) != MW_OK) goto end;
    if (ctx->duration != AV_NOPTS_VALUE && ctx->duration > limits.max_duration_us) {
        status = mw_fail(message, message_size, MW_E_DURATION_TOO_LONG,
                         "input lasts %.1f s, over the limit of %.1f s", ctx->duration / 1e6,
                         limits.max_duration_us / 1e6);
        goto end;
    }
    int media_streams = 0;
    for (unsigned i = 0; i < ctx->nb_streams; i++) {
        const AVCodecParameters *par = ctx->streams[i]->codecpar;
        if (par->codec_id == AV_CODEC_ID_NONE) continue;
        if (par->codec_type == AVMEDIA_TYPE_VIDEO && par->width > 0 && par->height > 0) media_streams++;
        if (par->codec_type == AVMEDIA_TYPE_AUDIO && par->sample_rate > 0) media_streams++;
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
    av_dict_free(&io_options);
    avio_closep(&probe_io);
    av_free(url);
    if (status != MW_OK) {
        avformat_close_input(&ctx);
    } else {
        *out = ctx;
    }
    return status;
}

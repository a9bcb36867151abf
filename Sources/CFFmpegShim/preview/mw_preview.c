/* Animated previews for grids (see mw_animated_preview in mw_shim.h): frames of a few excerpts,
 * taken by time from the video source, rendered upright like the stills, converted to BGRA and
 * encoded by libwebp's animation encoder into FFmpeg's WebP muxer, looping for ever; or, for GIF,
 * given a palette of their own each (palettegen per frame, paletteuse) and written by FFmpeg's GIF
 * encoder and muxer: one pass, no frame kept. */
#include "core/mw_filter_graph.h"
#include "core/mw_video_source.h"
#include "stills/mw_image.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <libavfilter/buffersink.h>
#include <libavfilter/buffersrc.h>
#include <libavformat/avformat.h>
#include <libavutil/avstring.h>
#include <libavutil/imgutils.h>
#include <libavutil/opt.h>
#include <libswscale/swscale.h>

void mw_preview_settings_init_default(mw_preview_settings *settings) {
    if (!settings) return;
    memset(settings, 0, sizeof(*settings));
    settings->excerpts = 4;
    settings->excerpt_s = 1.5;
    settings->fps = 10;
    settings->max_width = 320;
    settings->quality = 70;
}

typedef struct preview_writer {
    AVFormatContext *muxer;
    AVCodecContext *encoder;
    AVStream *stream;
    AVPacket *packet;
    AVFrame *bgra;
    struct SwsContext *converter;
    int header_written;
    /* GIF: BGRA pictures through palettegen/paletteuse into PAL8 frames. */
    int gif;
    AVFilterGraph *graph;
    AVFilterContext *source, *sink;
    AVFrame *paletted;
} preview_writer;

static mw_status drain(preview_writer *writer, char *message, size_t message_size) {
    for (;;) {
        int ret = avcodec_receive_packet(writer->encoder, writer->packet);
        if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF) return MW_OK;
        if (ret < 0) return mw_fail(message, message_size, MW_E_ENCODER_FAILED, "preview encoding failed: %s", av_err2str(ret));
        av_packet_rescale_ts(writer->packet, writer->encoder->time_base, writer->stream->time_base);
        writer->packet->stream_index = writer->stream->index;
        ret = av_interleaved_write_frame(writer->muxer, writer->packet);
        if (ret < 0) return mw_fail(message, message_size, MW_E_OUTPUT_FAILED, "cannot write the preview: %s", av_err2str(ret));
    }
}

static mw_status open_writer(preview_writer *writer, const char *path, int width, int height, int quality, int gif,
                             char *message, size_t message_size) {
    writer->gif = gif;
    const AVCodec *codec = gif ? avcodec_find_encoder(AV_CODEC_ID_GIF) : avcodec_find_encoder_by_name("libwebp_anim");
    if (!codec) return mw_fail(message, message_size, MW_E_INTERNAL, "no %s encoder in this FFmpeg build", gif ? "GIF" : "libwebp_anim");
    int ret = avformat_alloc_output_context2(&writer->muxer, NULL, gif ? "gif" : "webp", path);
    if (ret < 0 || !writer->muxer) return mw_fail(message, message_size, MW_E_INTERNAL, "no preview muxer: %s", av_err2str(ret));
    if (gif) {
        /* A palette per frame: palettegen in single mode streams (it needs no other frame). */
        char args[128];
        snprintf(args, sizeof(args), "video_size=%dx%d:pix_fmt=%d:time_base=1/1000:pixel_aspect=1/1", width, height, AV_PIX_FMT_RGB32);
        ret = mw_filter_graph_build(&writer->graph, &writer->source, &writer->sink, "buffer", args, "buffersink",
                                    "split[a][b];[a]palettegen=stats_mode=single[p];[b][p]paletteuse=new=1:dither=bayer:bayer_scale=3");
        if (ret < 0) return mw_fail(message, message_size, MW_E_INTERNAL, "cannot set up the GIF palettes: %s", av_err2str(ret));
        if (!(writer->paletted = av_frame_alloc())) return mw_fail(message, message_size, MW_E_OUT_OF_MEMORY, "out of memory");
    }
    writer->encoder = avcodec_alloc_context3(codec);
    writer->packet = av_packet_alloc();
    writer->bgra = av_frame_alloc();
    writer->stream = avformat_new_stream(writer->muxer, NULL);
    if (!writer->encoder || !writer->packet || !writer->bgra || !writer->stream)
        return mw_fail(message, message_size, MW_E_OUT_OF_MEMORY, "out of memory");
    writer->encoder->width = width;
    writer->encoder->height = height;
    writer->encoder->pix_fmt = gif ? AV_PIX_FMT_PAL8 : AV_PIX_FMT_RGB32;
    /* GIF delays are centiseconds. */
    writer->encoder->time_base = gif ? (AVRational){1, 100} : (AVRational){1, 1000};
    if (!gif) {
        av_opt_set_double(writer->encoder->priv_data, "quality", quality, 0);
        /* libwebp's effort 0-6 (default 4): a grid's small looping preview does not need its slow searches. */
        writer->encoder->compression_level = 1;
    }
    if ((ret = avcodec_open2(writer->encoder, codec, NULL)) < 0)
        return mw_fail(message, message_size, MW_E_ENCODER_FAILED, "cannot open the preview encoder: %s", av_err2str(ret));
    avcodec_parameters_from_context(writer->stream->codecpar, writer->encoder);
    writer->stream->time_base = writer->encoder->time_base;
    writer->bgra->format = AV_PIX_FMT_RGB32;
    writer->bgra->width = width;
    writer->bgra->height = height;
    if (av_frame_get_buffer(writer->bgra, 0) < 0) return mw_fail(message, message_size, MW_E_OUT_OF_MEMORY, "out of memory");
    if ((ret = avio_open(&writer->muxer->pb, path, AVIO_FLAG_WRITE)) < 0)
        return mw_fail(message, message_size, MW_E_OUTPUT_FAILED, "cannot open %s: %s", path, av_err2str(ret));
    AVDictionary *options = NULL;
    av_dict_set(&options, "loop", "0", 0);   /* for ever */
    ret = avformat_write_header(writer->muxer, &options);
    av_dict_free(&options);
    if (ret < 0) return mw_fail(message, message_size, MW_E_OUTPUT_FAILED, "cannot write the preview: %s", av_err2str(ret));
    writer->header_written = 1;
    return MW_OK;
}

/* GIF: the paletted frames out of the filter graph into the encoder (milliseconds to centiseconds). */
static mw_status drain_palettes(preview_writer *writer, char *message, size_t message_size) {
    for (;;) {
        int ret = av_buffersink_get_frame(writer->sink, writer->paletted);
        if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF) return MW_OK;
        if (ret < 0) return mw_fail(message, message_size, MW_E_INTERNAL, "GIF palettes failed: %s", av_err2str(ret));
        writer->paletted->pts = av_rescale_q(writer->paletted->pts, av_buffersink_get_time_base(writer->sink), writer->encoder->time_base);
        ret = avcodec_send_frame(writer->encoder, writer->paletted);
        av_frame_unref(writer->paletted);
        if (ret < 0) return mw_fail(message, message_size, MW_E_ENCODER_FAILED, "GIF encoding failed: %s", av_err2str(ret));
        mw_status status = drain(writer, message, message_size);
        if (status != MW_OK) return status;
    }
}

/* One rendered picture (full-range YUV 4:2:0, upright) as the frame at `pts_ms`. */
static mw_status add_picture(preview_writer *writer, const AVFrame *picture, int64_t pts_ms, char *message, size_t message_size) {
    writer->converter = sws_getCachedContext(writer->converter, picture->width, picture->height, picture->format,
                                             writer->bgra->width, writer->bgra->height, AV_PIX_FMT_RGB32, SWS_BICUBIC, NULL, NULL, NULL);
    if (!writer->converter) return mw_fail(message, message_size, MW_E_INTERNAL, "cannot convert the preview's pictures");
    /* The renderer's pictures are full range (they were made for JPEG). */
    const int *coefficients = sws_getCoefficients(SWS_CS_ITU709);
    sws_setColorspaceDetails(writer->converter, coefficients, 1, coefficients, 1, 0, 1 << 16, 1 << 16);
    if (av_frame_make_writable(writer->bgra) < 0) return mw_fail(message, message_size, MW_E_OUT_OF_MEMORY, "out of memory");
    sws_scale(writer->converter, (const uint8_t *const *)picture->data, picture->linesize, 0, picture->height,
              writer->bgra->data, writer->bgra->linesize);
    writer->bgra->pts = pts_ms;
    if (writer->gif) {
        int ret = av_buffersrc_write_frame(writer->source, writer->bgra);
        if (ret < 0) return mw_fail(message, message_size, MW_E_INTERNAL, "GIF palettes failed: %s", av_err2str(ret));
        return drain_palettes(writer, message, message_size);
    }
    int ret = avcodec_send_frame(writer->encoder, writer->bgra);
    if (ret < 0) return mw_fail(message, message_size, MW_E_ENCODER_FAILED, "WebP encoding failed: %s", av_err2str(ret));
    return drain(writer, message, message_size);
}

static mw_status finish_writer(preview_writer *writer, char *message, size_t message_size) {
    if (writer->gif) {
        if (av_buffersrc_add_frame(writer->source, NULL) < 0) return mw_fail(message, message_size, MW_E_INTERNAL, "GIF palettes failed at the end");
        mw_status status = drain_palettes(writer, message, message_size);
        if (status != MW_OK) return status;
    }
    int ret = avcodec_send_frame(writer->encoder, NULL);
    if (ret < 0 && ret != AVERROR_EOF) return mw_fail(message, message_size, MW_E_ENCODER_FAILED, "preview encoding failed: %s", av_err2str(ret));
    mw_status status = drain(writer, message, message_size);
    if (status != MW_OK) return status;
    if ((ret = av_write_trailer(writer->muxer)) < 0)
        return mw_fail(message, message_size, MW_E_OUTPUT_FAILED, "cannot finish the preview: %s", av_err2str(ret));
    return MW_OK;
}

static void close_writer(preview_writer *writer) {
    if (writer->muxer && writer->muxer->pb) avio_closep(&writer->muxer->pb);
    avformat_free_context(writer->muxer);
    avcodec_free_context(&writer->encoder);
    av_packet_free(&writer->packet);
    av_frame_free(&writer->bgra);
    av_frame_free(&writer->paletted);
    avfilter_graph_free(&writer->graph);
    sws_freeContext(writer->converter);
}

mw_status mw_animated_preview(const char *input, const char *output_path, const mw_preview_settings *settings_in,
                              const mw_limits *limits, mw_cancel_token *cancel, mw_preview_result *result,
                              char *message, size_t message_size) {
    if (!input || !output_path || !result) return mw_fail(message, message_size, MW_E_INVALID_ARGUMENT, "missing input, output or result");
    mw_preview_settings settings;
    if (settings_in) settings = *settings_in; else mw_preview_settings_init_default(&settings);
    if (settings.excerpts < 1 || settings.excerpts > 20 || !(settings.excerpt_s >= 0.2 && settings.excerpt_s <= 10)
        || !(settings.fps >= 1 && settings.fps <= 30) || settings.max_width < 16 || settings.max_width > 1920
        || settings.quality < 0 || settings.quality > 100)
        return mw_fail(message, message_size, MW_E_INVALID_ARGUMENT, "preview: 1-20 excerpts of 0.2-10 s, 1-30 fps, 16-1920 pixels wide, quality 0-100");
    memset(result, 0, sizeof(*result));
    mw_video_source source;
    mw_image_renderer renderer;
    mw_image_renderer_init(&renderer);
    preview_writer writer;
    memset(&writer, 0, sizeof(writer));
    AVFrame *frame = av_frame_alloc(), *scratch = av_frame_alloc();
    char *temp_path = av_asprintf("%s.tmp", output_path);
    mw_status status = frame && scratch && temp_path ? MW_OK : mw_fail(message, message_size, MW_E_OUT_OF_MEMORY, "out of memory");
    if (status == MW_OK) status = mw_video_source_open(&source, input, limits, cancel, 0, message, message_size);
    else memset(&source, 0, sizeof(source));
    /* Pictures shown 320 pixels wide do not need the deblocking filter: skipped, a fifth of the decode. */
    if (status == MW_OK) source.decoder->skip_loop_filter = AVDISCARD_ALL;
    int width = 0, height = 0;
    if (status == MW_OK) {
        mw_image_fit(source.decoder->width, source.decoder->height, source.sar, source.rotation, settings.max_width, 0, &width, &height);
        if (width < 2 || height < 2) status = mw_fail(message, message_size, MW_E_INPUT_CORRUPT, "the video has no picture size");
    }
    if (status == MW_OK) status = open_writer(&writer, temp_path, width, height, settings.quality, settings.gif != 0, message, message_size);
    /* Excerpts evenly spread; fewer when the video is shorter than all of them end to end. */
    double duration = source.duration_s > 0 ? source.duration_s : settings.excerpt_s;
    int excerpts = settings.excerpts;
    double length = fmin(settings.excerpt_s, duration);
    while (excerpts > 1 && excerpts * length > duration) excerpts--;
    int per_excerpt = (int)fmax(1, floor(length * settings.fps + 1e-9));
    int64_t pts = 0;
    int64_t step_ms = (int64_t)llround(1000 / settings.fps);
    for (int i = 0; status == MW_OK && i < excerpts; i++) {
        double start = duration * (i + 0.5) / excerpts - length / 2;
        if (start < 0) start = 0;
        if (start + length > duration) start = fmax(0, duration - length);
        for (int k = 0; status == MW_OK && k < per_excerpt; k++) {
            double got = 0;
            status = mw_video_source_frame_at(&source, start + k / settings.fps, frame, scratch, &got, message, message_size);
            if (status == MW_OK) status = mw_image_render(&renderer, frame, source.rotation, width, height, message, message_size);
            if (status == MW_OK) status = add_picture(&writer, renderer.upright, pts, message, message_size);
            pts += step_ms;
            result->frames++;
        }
    }
    if (status == MW_OK) status = finish_writer(&writer, message, message_size);
    close_writer(&writer);
    if (status == MW_OK && rename(temp_path, output_path) != 0)
        status = mw_fail(message, message_size, MW_E_OUTPUT_FAILED, "cannot move the preview into place");
    if (status != MW_OK && temp_path) remove(temp_path);
    if (status == MW_OK) {
        result->width = width;
        result->height = height;
        result->excerpts = excerpts;
        result->duration_s = pts / 1000.0;
    }
    if (source.format || source.decoder) mw_video_source_close(&source);
    mw_image_renderer_free(&renderer);
    av_frame_free(&frame);
    av_frame_free(&scratch);
    av_free(temp_path);
    return status;
}

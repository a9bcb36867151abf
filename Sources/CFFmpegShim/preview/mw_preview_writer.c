/* The animated preview's writer (see mw_preview_writer.h): pictures converted to BGRA and encoded
 * by libwebp's animation encoder into FFmpeg's WebP muxer; or, for GIF, given a palette of their own
 * each (palettegen per frame, paletteuse) and written by FFmpeg's GIF encoder and muxer. One pass,
 * no frame kept. */
#include "preview/mw_preview_writer.h"
#include "core/mw_filter_graph.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <libavfilter/buffersink.h>
#include <libavfilter/buffersrc.h>
#include <libavutil/imgutils.h>
#include <libavutil/opt.h>
#include <libswscale/swscale.h>


static mw_status drain(mw_preview_writer *writer, char *message, size_t message_size) {
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

mw_status mw_preview_writer_open(mw_preview_writer *writer, const char *path, int width, int height, int quality, int gif,
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
    if (gif) {
        /* Every frame whole: the encoder's offsetting and transdiff compare palette indices with
         * the previous frame's, which mean other colours under a palette of the frame's own (a
         * black frame after a grey one came out as the grey one, in FFmpeg's decoder and Pillow). */
        av_opt_set_int(writer->encoder->priv_data, "gifflags", 0, 0);
    } else {
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
static mw_status drain_palettes(mw_preview_writer *writer, char *message, size_t message_size) {
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
mw_status mw_preview_writer_add(mw_preview_writer *writer, const AVFrame *picture, int64_t pts_ms, char *message, size_t message_size) {
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

mw_status mw_preview_writer_finish(mw_preview_writer *writer, char *message, size_t message_size) {
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

void mw_preview_writer_close(mw_preview_writer *writer) {
    if (writer->muxer && writer->muxer->pb) avio_closep(&writer->muxer->pb);
    avformat_free_context(writer->muxer);
    avcodec_free_context(&writer->encoder);
    av_packet_free(&writer->packet);
    av_frame_free(&writer->bgra);
    av_frame_free(&writer->paletted);
    avfilter_graph_free(&writer->graph);
    sws_freeContext(writer->converter);
    memset(writer, 0, sizeof(*writer));
}

mw_status mw_preview_settings_check(const mw_preview_settings *settings, char *message, size_t message_size) {
    if (settings->excerpts < 1 || settings->excerpts > 20 || !(settings->excerpt_s >= 0.2 && settings->excerpt_s <= 10)
        || !(settings->fps >= 1 && settings->fps <= 30) || settings->max_width < 16 || settings->max_width > 1920
        || settings->quality < 0 || settings->quality > 100)
        return mw_fail(message, message_size, MW_E_INVALID_ARGUMENT, "preview: 1-20 excerpts of 0.2-10 s, 1-30 fps, 16-1920 pixels wide, quality 0-100");
    return MW_OK;
}

void mw_preview_plan_make(mw_preview_plan *plan, const mw_preview_settings *settings, double duration_s) {
    memset(plan, 0, sizeof(*plan));
    plan->duration_s = duration_s > 0 ? duration_s : settings->excerpt_s;
    plan->fps = settings->fps;
    plan->excerpts = settings->excerpts;
    plan->length_s = fmin(settings->excerpt_s, plan->duration_s);
    while (plan->excerpts > 1 && plan->excerpts * plan->length_s > plan->duration_s) plan->excerpts--;
    plan->per_excerpt = (int)fmax(1, floor(plan->length_s * settings->fps + 1e-9));
    plan->step_ms = (int64_t)llround(1000 / settings->fps);
}

double mw_preview_plan_time(const mw_preview_plan *plan, int index) {
    int excerpt = index / plan->per_excerpt, k = index % plan->per_excerpt;
    double start = plan->duration_s * (excerpt + 0.5) / plan->excerpts - plan->length_s / 2;
    if (start < 0) start = 0;
    if (start + plan->length_s > plan->duration_s) start = fmax(0, plan->duration_s - plan->length_s);
    return start + k / plan->fps;
}

/* Text subtitles to WebVTT: a subtitle stream of an upload (SubRip, ASS/SSA, mov_text, WebVTT)
 * or a sidecar file, decoded and re-encoded by libavcodec and written by the webvtt muxer.
 * Segmenting the cues for HLS is the caller's (it is text, cut on the package's boundaries). */
#include "core/mw_internal.h"

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/avstring.h>
#include <unistd.h>

int32_t mw_is_text_subtitle(const char *codec_name) {
    const AVCodecDescriptor *descriptor = codec_name ? avcodec_descriptor_get_by_name(codec_name) : NULL;
    return descriptor && descriptor->type == AVMEDIA_TYPE_SUBTITLE && (descriptor->props & AV_CODEC_PROP_TEXT_SUB);
}

mw_status mw_extract_webvtt(const char *input, int32_t stream_index, int32_t from_input_start, const char *output_path,
                            const mw_limits *limits_in, mw_cancel_token *cancel, int32_t *cue_count,
                            char *message, size_t message_size) {
    if (!input || !output_path) return mw_fail(message, message_size, MW_E_INVALID_ARGUMENT, "missing input or output");
    mw_limits limits;
    if (limits_in) limits = *limits_in; else mw_limits_init_default(&limits);
    mw_interrupt interrupt;
    mw_interrupt_init(&interrupt, cancel, limits.timeout_ms);
    AVFormatContext *format = NULL, *mux = NULL;
    AVCodecContext *decoder = NULL, *encoder = NULL;
    AVPacket *packet = av_packet_alloc(), *out = av_packet_alloc();
    uint8_t *buffer = av_malloc(1 << 16);
    int cues = 0, header_written = 0, ret;
    mw_status status = MW_OK;
    if (!packet || !out || !buffer) { status = mw_fail(message, message_size, MW_E_OUT_OF_MEMORY, "out of memory"); goto end; }

    if ((status = mw_open_input(input, &limits, &interrupt, &format, message, message_size)) != MW_OK) goto end;
    if (stream_index < 0) stream_index = av_find_best_stream(format, AVMEDIA_TYPE_SUBTITLE, -1, -1, NULL, 0);
    if (stream_index < 0 || stream_index >= (int)format->nb_streams || format->streams[stream_index]->codecpar->codec_type != AVMEDIA_TYPE_SUBTITLE) {
        status = mw_fail(message, message_size, MW_E_NO_MEDIA_STREAMS, "no subtitle stream %d in the input", stream_index);
        goto end;
    }
    AVStream *stream = format->streams[stream_index];
    const AVCodecDescriptor *descriptor = avcodec_descriptor_get(stream->codecpar->codec_id);
    if (!descriptor || !(descriptor->props & AV_CODEC_PROP_TEXT_SUB)) {
        status = mw_fail(message, message_size, MW_E_FORMAT_NOT_ALLOWED, "subtitle stream %d is %s, not text", stream_index,
                         avcodec_get_name(stream->codecpar->codec_id));
        goto end;
    }
    for (unsigned i = 0; i < format->nb_streams; i++)
        if ((int)i != stream_index) format->streams[i]->discard = AVDISCARD_ALL;
    const AVCodec *decoder_codec = avcodec_find_decoder(stream->codecpar->codec_id);
    const AVCodec *encoder_codec = avcodec_find_encoder(AV_CODEC_ID_WEBVTT);
    if (!decoder_codec || !encoder_codec) {
        status = mw_fail(message, message_size, MW_E_INTERNAL, "no %s decoder or WebVTT encoder", avcodec_get_name(stream->codecpar->codec_id));
        goto end;
    }
    decoder = avcodec_alloc_context3(decoder_codec);
    encoder = avcodec_alloc_context3(encoder_codec);
    if (!decoder || !encoder || avcodec_parameters_to_context(decoder, stream->codecpar) < 0) {
        status = mw_fail(message, message_size, MW_E_OUT_OF_MEMORY, "out of memory");
        goto end;
    }
    decoder->pkt_timebase = stream->time_base;
    if ((ret = avcodec_open2(decoder, decoder_codec, NULL)) < 0) {
        status = mw_fail(message, message_size, MW_E_INPUT_CORRUPT, "cannot decode the subtitles: %s", av_err2str(ret));
        goto end;
    }
    /* The encoder reads the decoder's ASS events against its ASS header. */
    encoder->time_base = (AVRational){1, 1000};
    if (decoder->subtitle_header) {
        encoder->subtitle_header = av_mallocz(decoder->subtitle_header_size + 1);
        if (!encoder->subtitle_header) { status = mw_fail(message, message_size, MW_E_OUT_OF_MEMORY, "out of memory"); goto end; }
        memcpy(encoder->subtitle_header, decoder->subtitle_header, decoder->subtitle_header_size);
        encoder->subtitle_header_size = decoder->subtitle_header_size;
    }
    if ((ret = avcodec_open2(encoder, encoder_codec, NULL)) < 0) {
        status = mw_fail(message, message_size, MW_E_INTERNAL, "cannot open the WebVTT encoder: %s", av_err2str(ret));
        goto end;
    }
    if ((ret = avformat_alloc_output_context2(&mux, NULL, "webvtt", output_path)) < 0 || !mux) {
        status = mw_fail(message, message_size, MW_E_INTERNAL, "no WebVTT muxer: %s", av_err2str(ret));
        goto end;
    }
    AVStream *text = avformat_new_stream(mux, NULL);
    if (!text || avcodec_parameters_from_context(text->codecpar, encoder) < 0) {
        status = mw_fail(message, message_size, MW_E_OUT_OF_MEMORY, "out of memory");
        goto end;
    }
    text->time_base = (AVRational){1, 1000};
    AVDictionary *io_options = NULL;
    av_dict_set(&io_options, "protocol_whitelist", "file", 0);
    ret = avio_open2(&mux->pb, output_path, AVIO_FLAG_WRITE, NULL, &io_options);
    av_dict_free(&io_options);
    if (ret < 0) { status = mw_fail(message, message_size, MW_E_OUTPUT_FAILED, "cannot create %s: %s", output_path, av_err2str(ret)); goto end; }
    if ((ret = avformat_write_header(mux, NULL)) < 0) {
        status = mw_fail(message, message_size, MW_E_OUTPUT_FAILED, "cannot start %s: %s", output_path, av_err2str(ret));
        goto end;
    }
    header_written = 1;
    /* Times count from the upload's start, as the transcode's do; a sidecar's from zero. */
    int64_t origin = from_input_start && format->start_time != AV_NOPTS_VALUE ? format->start_time : 0;
    for (;;) {
        ret = av_read_frame(format, packet);
        if (ret == AVERROR_EOF) break;
        if (ret < 0) {
            status = mw_fail(message, message_size, mw_status_from_averror(ret, &interrupt), "the subtitles cannot be read: %s", av_err2str(ret));
            goto end;
        }
        if (packet->stream_index != stream_index || packet->pts == AV_NOPTS_VALUE) { av_packet_unref(packet); continue; }
        AVSubtitle subtitle;
        int got = 0;
        ret = avcodec_decode_subtitle2(decoder, &subtitle, &got, packet);
        int64_t duration_ms = packet->duration > 0 ? av_rescale_q(packet->duration, stream->time_base, (AVRational){1, 1000}) : 0;
        av_packet_unref(packet);
        if (ret < 0) continue;   /* one broken cue is dropped, not the whole track */
        if (!got) continue;
        if (subtitle.end_display_time == 0 && duration_ms > 0) subtitle.end_display_time = (uint32_t)duration_ms;
        int size = subtitle.num_rects > 0 && subtitle.end_display_time > subtitle.start_display_time
                       ? avcodec_encode_subtitle(encoder, buffer, 1 << 16, &subtitle) : 0;
        if (size > 0) {
            out->data = buffer;
            out->size = size;
            out->stream_index = 0;
            out->pts = out->dts = av_rescale_q(subtitle.pts - origin, AV_TIME_BASE_Q, (AVRational){1, 1000}) + subtitle.start_display_time;
            out->duration = subtitle.end_display_time - subtitle.start_display_time;
            if (out->pts >= 0) {
                ret = av_write_frame(mux, out);
                if (ret < 0) {
                    avsubtitle_free(&subtitle);
                    status = mw_fail(message, message_size, MW_E_OUTPUT_FAILED, "cannot write %s: %s", output_path, av_err2str(ret));
                    goto end;
                }
                cues++;
            }
            out->data = NULL;
            out->size = 0;
        }
        avsubtitle_free(&subtitle);
    }
    if ((ret = av_write_trailer(mux)) < 0) {
        status = mw_fail(message, message_size, MW_E_OUTPUT_FAILED, "cannot finish %s: %s", output_path, av_err2str(ret));
        goto end;
    }
    header_written = 0;
    if (cue_count) *cue_count = cues;
end:
    if (mux) {
        if (header_written) av_write_trailer(mux);
        avio_closep(&mux->pb);
        avformat_free_context(mux);
    }
    avcodec_free_context(&decoder);
    avcodec_free_context(&encoder);
    avformat_close_input(&format);
    av_packet_free(&packet);
    av_packet_free(&out);
    av_free(buffer);
    if (status != MW_OK) unlink(output_path);
    return status;
}

/* Probe: container and per-stream parameters of an input, as ffprobe reports them. */
#include "core/mw_internal.h"

#include <math.h>
#include <string.h>
#include <libavutil/avstring.h>
#include <libavutil/channel_layout.h>
#include <libavutil/pixdesc.h>

static void copy_string(char *dst, size_t size, const char *src) {
    av_strlcpy(dst, src ? src : "", size);
}

static const char *field_order_name(enum AVFieldOrder order) {
    switch (order) {
    case AV_FIELD_PROGRESSIVE: return "progressive";
    case AV_FIELD_TT: return "tt";
    case AV_FIELD_BB: return "bb";
    case AV_FIELD_TB: return "tb";
    case AV_FIELD_BT: return "bt";
    default: return "";
    }
}

static void fill_stream(AVFormatContext *ctx, AVStream *st, mw_stream_info *info) {
    const AVCodecParameters *par = st->codecpar;
    memset(info, 0, sizeof(*info));
    info->index = st->index;
    switch (par->codec_type) {
    case AVMEDIA_TYPE_VIDEO: info->media_type = MW_MEDIA_VIDEO; break;
    case AVMEDIA_TYPE_AUDIO: info->media_type = MW_MEDIA_AUDIO; break;
    case AVMEDIA_TYPE_SUBTITLE: info->media_type = MW_MEDIA_SUBTITLE; break;
    case AVMEDIA_TYPE_DATA: info->media_type = MW_MEDIA_DATA; break;
    default: info->media_type = MW_MEDIA_OTHER; break;
    }
    copy_string(info->codec, sizeof(info->codec), avcodec_get_name(par->codec_id));
    copy_string(info->profile, sizeof(info->profile), avcodec_profile_name(par->codec_id, par->profile));
    info->level = par->level;
    info->bit_rate = par->bit_rate;
    info->duration_us = st->duration != AV_NOPTS_VALUE
        ? av_rescale_q(st->duration, st->time_base, AV_TIME_BASE_Q) : -1;
    const AVDictionaryEntry *language = av_dict_get(st->metadata, "language", NULL, 0);
    const AVDictionaryEntry *title = av_dict_get(st->metadata, "title", NULL, 0);
    copy_string(info->language, sizeof(info->language), language ? language->value : "");
    copy_string(info->title, sizeof(info->title), title ? title->value : "");
    info->is_default = (st->disposition & AV_DISPOSITION_DEFAULT) ? 1 : 0;

    if (par->codec_type == AVMEDIA_TYPE_VIDEO) {
        info->width = par->width;
        info->height = par->height;
        /* The container's value wins over the codec's, as in ffprobe. */
        AVRational sar = av_guess_sample_aspect_ratio(ctx, st, NULL);
        info->sar_num = sar.num > 0 && sar.den > 0 ? sar.num : 0;
        info->sar_den = sar.num > 0 && sar.den > 0 ? sar.den : 1;
        info->avg_fps_num = st->avg_frame_rate.num;
        info->avg_fps_den = st->avg_frame_rate.den;
        info->real_fps_num = st->r_frame_rate.num;
        info->real_fps_den = st->r_frame_rate.den;
        const AVPixFmtDescriptor *desc = av_pix_fmt_desc_get((enum AVPixelFormat)par->format);
        copy_string(info->pix_fmt, sizeof(info->pix_fmt), desc ? desc->name : "");
        info->bit_depth = desc ? desc->comp[0].depth : 0;
        info->rotation_deg = mw_stream_rotation(st);
        info->is_attached_picture = (st->disposition & AV_DISPOSITION_ATTACHED_PIC) ? 1 : 0;
        copy_string(info->field_order, sizeof(info->field_order), field_order_name(par->field_order));
    } else if (par->codec_type == AVMEDIA_TYPE_AUDIO) {
        info->sample_rate = par->sample_rate;
        info->channels = par->ch_layout.nb_channels;
        if (av_channel_layout_describe(&par->ch_layout, info->channel_layout, sizeof(info->channel_layout)) < 0)
            info->channel_layout[0] = '\0';
        const char *sample_fmt = av_get_sample_fmt_name((enum AVSampleFormat)par->format);
        copy_string(info->sample_fmt, sizeof(info->sample_fmt), sample_fmt);
        info->bit_depth = par->bits_per_raw_sample > 0 ? par->bits_per_raw_sample : av_get_bits_per_sample(par->codec_id);
    }
}

static void describe(AVFormatContext *ctx, mw_media_info *out) {
    copy_string(out->container, sizeof(out->container), ctx->iformat->name);
    out->duration_us = ctx->duration != AV_NOPTS_VALUE ? ctx->duration : -1;
    out->bit_rate = ctx->bit_rate;
    out->size_bytes = ctx->pb ? avio_size(ctx->pb) : -1;
    out->stream_count = (int32_t)ctx->nb_streams;
    for (unsigned i = 0; i < ctx->nb_streams; i++) fill_stream(ctx, ctx->streams[i], &out->streams[i]);
}

mw_status mw_probe_file(const char *path, const mw_limits *limits, mw_cancel_token *cancel,
                        mw_media_info *out, char *message, size_t message_size) {
    if (!out) return mw_fail(message, message_size, MW_E_INVALID_ARGUMENT, "no output");
    memset(out, 0, sizeof(*out));
    if (message && message_size) message[0] = '\0';

    mw_interrupt interrupt;
    mw_interrupt_init(&interrupt, cancel, limits ? limits->timeout_ms : 0);
    AVFormatContext *ctx = NULL;
    mw_status status = mw_open_input(path, limits, &interrupt, &ctx, message, message_size);
    if (status != MW_OK) return status;
    describe(ctx, out);
    avformat_close_input(&ctx);
    return MW_OK;
}

static mw_status describe_memory(void *user, AVFormatContext *ctx, char *message, size_t message_size) {
    describe(ctx, user);
    return MW_OK;
}

mw_status mw_probe_buffer(const uint8_t *data, size_t size, const mw_limits *limits, mw_cancel_token *cancel,
                          mw_media_info *out, char *message, size_t message_size) {
    if (!out) return mw_fail(message, message_size, MW_E_INVALID_ARGUMENT, "no output");
    memset(out, 0, sizeof(*out));
    if (message && message_size) message[0] = '\0';
    mw_interrupt interrupt;
    mw_interrupt_init(&interrupt, cancel, limits ? limits->timeout_ms : 0);
    return mw_with_memory_input(data, size, limits, &interrupt, describe_memory, out, message, message_size);
}

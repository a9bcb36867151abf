/* Writes encoded or copied packets of one rendition: an MP4 file, or HLS segments with
 * their media playlist and I-frame playlist. Internal. */
#ifndef MW_PACKAGER_H
#define MW_PACKAGER_H

#include "core/mw_internal.h"
#include "bitstream/mw_bitstream.h"
#include <stdio.h>
#include <libavcodec/avcodec.h>

typedef enum mw_packager_kind {
    MW_PACKAGE_MP4_FILE = 0,   /* one file, moov first */
    MW_PACKAGE_HLS_FMP4 = 1,   /* init.mp4 + .m4s segments */
    MW_PACKAGE_HLS_TS = 2,     /* .ts segments */
} mw_packager_kind;

typedef struct mw_segment_record {
    double start_s, duration_s;
    int64_t size;
} mw_segment_record;

typedef struct mw_iframe_record {
    int32_t segment;
    double time_s;
    int64_t offset, length;    /* byte range inside the segment; length filled when known */
    int64_t sample_size;       /* the key picture's own size (fMP4 needs the moof around it) */
} mw_iframe_record;

typedef struct mw_packager {
    mw_packager_kind kind;
    char *directory;           /* HLS: the rendition's directory */
    char *path;                /* MP4: the output file */
    AVFormatContext *mux;
    AVIOContext *io;           /* HLS: counts bytes and writes them to the open segment */
    int video_stream, audio_stream;     /* output stream indices, -1 when absent */
    AVRational source_time_base[2];     /* time base of packets handed to write, per output stream */
    FILE *segment_file;
    int64_t segment_bytes;     /* bytes written to the open segment */
    int64_t spilled_bytes;     /* bytes written with no segment open (must stay 0) */
    int write_failed;
    int header_written;
    mw_segment_record *segments;
    int segment_count, segment_capacity;
    mw_iframe_record *iframes;
    int iframe_count, iframe_capacity;
    double end_s;              /* end of the last packet seen */
    double timeline_offset_s;  /* HLS: added to every timestamp written (see mw_packager_start) */
    int segment_base;          /* HLS: the number of the first segment (a part of a split package) */
    double first_start_s;      /* HLS: where the first segment starts (0, or a part's start) */
    char codecs[64];
    char video_codecs[48];     /* HEVC/AV1: the video's RFC 6381 name, read from init.mp4 */
    int has_video, has_audio;
} mw_packager;

/* Creates the muxer and its streams from the encoders' (or source's) parameters.
 * `video`/`audio` may be NULL. Times of packets given later are in the matching time base. */
mw_status mw_packager_open(mw_packager *packager, mw_packager_kind kind, const char *location,
                           const AVCodecParameters *video, AVRational video_time_base,
                           const AVCodecParameters *audio, AVRational audio_time_base,
                           char *message, size_t message_size);

/* Writes the container header (and, for fMP4, init.mp4). Set `timeline_offset_s` first for
 * HLS: every rendition of a package must use the same offset, large enough that no
 * timestamp is negative (encoder delay, AAC priming). */
mw_status mw_packager_start(mw_packager *packager, char *message, size_t message_size);

/* Writes one packet. `starts_segment` (HLS) closes the open segment first; for video it
 * must be a keyframe. Packets must come in decoding order per stream, interleaved by the caller. */
mw_status mw_packager_write(mw_packager *packager, AVPacket *packet, int is_video, int starts_segment,
                            char *message, size_t message_size);

/* Finishes the container; for HLS writes index.m3u8 and (with video) iframes.m3u8. */
mw_status mw_packager_finish(mw_packager *packager, char *message, size_t message_size);

/* The rendition's measured figures (bit rates, segment count, duration, codecs). */
void mw_packager_describe(const mw_packager *packager, mw_rendition_info *info);

void mw_packager_close(mw_packager *packager);

/* The timeline offset of HLS packages: covers B-frame delays and AAC priming. */
#define MW_HLS_TIMELINE_OFFSET_S 0.2

/* The media playlist (index.m3u8) and the I-frame playlist (iframes.m3u8) of an HLS rendition,
 * from the records kept while cutting (package/mw_playlist_writer.c). */
mw_status mw_write_media_playlist(mw_packager *packager, char *message, size_t message_size);
mw_status mw_write_iframe_playlist(mw_packager *packager, char *message, size_t message_size);
/* A duration as EXTINF writes it (to the millisecond), and the span of I-frame `i`. */
double mw_written_duration(double seconds);
double mw_iframe_duration(const mw_packager *packager, int i);

static inline const char *mw_segment_extension(const mw_packager *packager) {
    return packager->kind == MW_PACKAGE_HLS_TS ? "ts" : "m4s";
}

#endif

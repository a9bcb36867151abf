/* What the shim reads from the bitstreams it writes or copies: RFC 6381 codec names, MP4 boxes,
 * H.264 access units. Internal. */
#ifndef MW_BITSTREAM_H
#define MW_BITSTREAM_H

#include <stdint.h>
#include <stdio.h>
#include <libavcodec/avcodec.h>

/* RFC 6381 name of an H.264 stream ("avc1.64001f") from its SPS, found in avcC or Annex B
 * data; "" when none is found. */
void mw_h264_codec_string(const uint8_t *data, int size, char *out, size_t out_size);

/* RFC 6381 name of HEVC from an HEVCDecoderConfigurationRecord ("hvc1.1.6.L93.B0") and of AV1
 * from an AV1CodecConfigurationRecord ("av01.0.08M.08"); "" when the record is malformed. */
void mw_hevc_codec_string(const uint8_t *hvcc, int size, char *out, size_t out_size);
void mw_av1_codec_string(const uint8_t *av1c, int size, char *out, size_t out_size);

/* The video codec name of an fMP4 init segment, from its hvcC or av1C box; "" when neither. */
void mw_fmp4_video_codec_string(const char *init_path, char *out, size_t out_size);

/* Whether an H.264 packet (avcC length-prefixed or Annex B) holds an IDR slice. */
int mw_h264_packet_is_idr(const uint8_t *data, int size, int length_size);

/* RFC 6381 name of AAC ("mp4a.40.2"; 5 for HE-AAC, 29 for HE-AAC v2). */
void mw_aac_codec_string(const AVCodecParameters *audio, char *out, size_t out_size);

/* The bytes from an fMP4 fragment's start (at `offset` in `file`) through its first sample of
 * `track_id`: the moof's trun gives the sample's offset (default-base-is-moof) and size; -1 when
 * the fragment cannot be read. */
int64_t mw_fmp4_iframe_length(FILE *file, int64_t offset, uint32_t track_id);

#endif

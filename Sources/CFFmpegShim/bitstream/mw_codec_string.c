/* RFC 6381 codec names (the CODECS of HLS, the codecs of DASH) read from the bitstream's own
 * configuration records, so what a manifest promises is what the decoder will be given. */
#include "bitstream/mw_bitstream.h"

#include <stdio.h>
#include <string.h>

static void codec_string_from_sps(const uint8_t *sps, char *out, size_t out_size) {
    /* sps[0] is the NAL header; then profile_idc, constraint flags, level_idc. */
    snprintf(out, out_size, "avc1.%02x%02x%02x", sps[1], sps[2], sps[3]);
}

void mw_h264_codec_string(const uint8_t *data, int size, char *out, size_t out_size) {
    if (out_size) out[0] = 0;
    if (!data || size < 8) return;
    if (data[0] == 1) {
        /* avcC: version, then profile, compatibility, level of the first SPS. */
        snprintf(out, out_size, "avc1.%02x%02x%02x", data[1], data[2], data[3]);
        return;
    }
    for (int i = 0; i + 7 < size; i++) {
        if (data[i] == 0 && data[i + 1] == 0 && data[i + 2] == 1 && (data[i + 3] & 0x1F) == 7) {
            codec_string_from_sps(data + i + 3, out, out_size);
            return;
        }
    }
}

/* ISO/IEC 14496-15 annex E: profile space and profile, the compatibility flags in reverse bit
 * order, tier and level, then the constraint bytes without trailing zeros. */
void mw_hevc_codec_string(const uint8_t *hvcc, int size, char *out, size_t out_size) {
    if (out_size) out[0] = 0;
    if (!hvcc || size < 13 || hvcc[0] != 1) return;
    static const char *spaces[] = {"", "A", "B", "C"};
    int space = hvcc[1] >> 6, tier = (hvcc[1] >> 5) & 1, profile = hvcc[1] & 0x1F;
    uint32_t flags = (uint32_t)hvcc[2] << 24 | (uint32_t)hvcc[3] << 16 | (uint32_t)hvcc[4] << 8 | hvcc[5];
    uint32_t reversed = 0;
    for (int bit = 0; bit < 32; bit++) if (flags & (1u << bit)) reversed |= 1u << (31 - bit);
    int length = snprintf(out, out_size, "hvc1.%s%d.%X.%c%d", spaces[space], profile, reversed, tier ? 'H' : 'L', hvcc[12]);
    int last = 5;
    while (last >= 0 && hvcc[6 + last] == 0) last--;
    for (int i = 0; i <= last && length > 0 && (size_t)length < out_size; i++)
        length += snprintf(out + length, out_size - (size_t)length, ".%X", hvcc[6 + i]);
}

/* AV1 codecs parameter (av1-isobmff section 5): av01.<profile>.<level><tier>.<bit depth>. */
void mw_av1_codec_string(const uint8_t *av1c, int size, char *out, size_t out_size) {
    if (out_size) out[0] = 0;
    if (!av1c || size < 4 || av1c[0] != 0x81) return;
    int profile = av1c[1] >> 5, level = av1c[1] & 0x1F, tier = av1c[2] >> 7;
    int high_bitdepth = (av1c[2] >> 6) & 1, twelve_bit = (av1c[2] >> 5) & 1;
    int depth = high_bitdepth ? (twelve_bit ? 12 : 10) : 8;
    snprintf(out, out_size, "av01.%d.%02d%c.%02d", profile, level, tier ? 'H' : 'M', depth);
}

void mw_fmp4_video_codec_string(const char *init_path, char *out, size_t out_size) {
    if (out_size) out[0] = 0;
    FILE *file = fopen(init_path, "rb");
    if (!file) return;
    uint8_t data[16384];
    size_t size = fread(data, 1, sizeof(data), file);
    fclose(file);
    /* The record is the body of the box after its 8-byte header; the box sits inside the
     * sample entry (hvc1/av01), so a plain search for its type finds it. */
    for (size_t i = 4; i + 4 <= size; i++) {
        int hevc = !memcmp(data + i, "hvcC", 4), av1 = !memcmp(data + i, "av1C", 4);
        if (!hevc && !av1) continue;
        uint32_t box = (uint32_t)data[i - 4] << 24 | (uint32_t)data[i - 3] << 16 | (uint32_t)data[i - 2] << 8 | data[i - 1];
        if (box < 8 || i - 4 + box > size) return;
        if (hevc) mw_hevc_codec_string(data + i + 4, (int)box - 8, out, out_size);
        else mw_av1_codec_string(data + i + 4, (int)box - 8, out, out_size);
        return;
    }
}

void mw_aac_codec_string(const AVCodecParameters *audio, char *out, size_t out_size) {
    /* mp4a.40.<audio object type>: 2 AAC-LC, 5 HE-AAC, 29 HE-AAC v2. */
    int object_type = 2;
    if (audio->profile == FF_PROFILE_AAC_HE) object_type = 5;
    else if (audio->profile == FF_PROFILE_AAC_HE_V2) object_type = 29;
    snprintf(out, out_size, "mp4a.40.%d", object_type);
}

/* The HLS media and I-frame playlists of one rendition, from the segment and I-frame records
 * the packager kept while cutting (RFC 8216). The only C that writes playlist text; the Swift
 * side (Packaging/) writes master playlists and the stitched ones, and a test compares the two. */
#include "package/mw_packager.h"

#include <inttypes.h>
#include <math.h>
#include <libavutil/bprint.h>
#include <libavutil/mem.h>

/* EXTINF values are written with millisecond precision; the target duration is computed
 * from the written values so a reader's rounding agrees with ours. */
double mw_written_duration(double seconds) {
    return round(seconds * 1000) / 1000;
}

static int target_duration(const double *durations, int count) {
    int target = 1;
    for (int i = 0; i < count; i++) {
        int rounded = (int)floor(mw_written_duration(durations[i]) + 0.5);
        if (rounded > target) target = rounded;
    }
    return target;
}

static mw_status write_text_file(const char *directory, const char *name, const char *text, char *message, size_t message_size) {
    char *path = av_asprintf("%s/%s", directory, name);
    if (!path) return mw_fail(message, message_size, MW_E_OUT_OF_MEMORY, "out of memory");
    FILE *file = fopen(path, "wb");
    int ok = file && fputs(text, file) >= 0;
    if (file && fclose(file) != 0) ok = 0;
    av_free(path);
    if (!ok) return mw_fail(message, message_size, MW_E_OUTPUT_FAILED, "cannot write %s/%s", directory, name);
    return MW_OK;
}

mw_status mw_write_media_playlist(mw_packager *packager, char *message, size_t message_size) {
    int count = packager->segment_count;
    double *durations = av_calloc(count ? count : 1, sizeof(double));
    AVBPrint text;
    av_bprint_init(&text, 0, AV_BPRINT_SIZE_UNLIMITED);
    if (!durations) return mw_fail(message, message_size, MW_E_OUT_OF_MEMORY, "out of memory");
    for (int i = 0; i < count; i++) durations[i] = packager->segments[i].duration_s;
    int fmp4 = packager->kind == MW_PACKAGE_HLS_FMP4;
    /* Lowest version the tags allow (RFC 8216 section 7): decimal EXTINF needs 3, EXT-X-MAP 6. */
    av_bprintf(&text, "#EXTM3U\n#EXT-X-VERSION:%d\n#EXT-X-TARGETDURATION:%d\n#EXT-X-MEDIA-SEQUENCE:0\n"
               "#EXT-X-PLAYLIST-TYPE:VOD\n#EXT-X-INDEPENDENT-SEGMENTS\n",
               fmp4 ? 6 : 3, target_duration(durations, count));
    if (fmp4) av_bprintf(&text, "#EXT-X-MAP:URI=\"init.mp4\"\n");
    for (int i = 0; i < count; i++)
        av_bprintf(&text, "#EXTINF:%.3f,\nseg-%05d.%s\n", mw_written_duration(durations[i]), packager->segment_base + i,
                   mw_segment_extension(packager));
    av_bprintf(&text, "#EXT-X-ENDLIST\n");
    av_free(durations);
    mw_status status = av_bprint_is_complete(&text)
        ? write_text_file(packager->directory, "index.m3u8", text.str, message, message_size)
        : mw_fail(message, message_size, MW_E_OUT_OF_MEMORY, "out of memory");
    av_bprint_finalize(&text, NULL);
    return status;
}

double mw_iframe_duration(const mw_packager *packager, int i) {
    double next = i + 1 < packager->iframe_count ? packager->iframes[i + 1].time_s : packager->end_s;
    return next - packager->iframes[i].time_s;
}

mw_status mw_write_iframe_playlist(mw_packager *packager, char *message, size_t message_size) {
    int count = packager->iframe_count;
    for (int i = 0; i < count; i++)
        if (packager->iframes[i].length <= 0)
            return mw_fail(message, message_size, MW_E_INTERNAL, "I-frame %d of the rendition has no byte range", i);
    double *durations = av_calloc(count ? count : 1, sizeof(double));
    if (!durations) return mw_fail(message, message_size, MW_E_OUT_OF_MEMORY, "out of memory");
    for (int i = 0; i < count; i++) durations[i] = mw_iframe_duration(packager, i);
    int fmp4 = packager->kind == MW_PACKAGE_HLS_FMP4;
    AVBPrint text;
    av_bprint_init(&text, 0, AV_BPRINT_SIZE_UNLIMITED);
    /* EXT-X-I-FRAMES-ONLY and EXT-X-BYTERANGE need 4; EXT-X-MAP in an I-frame playlist 5. */
    av_bprintf(&text, "#EXTM3U\n#EXT-X-VERSION:%d\n#EXT-X-TARGETDURATION:%d\n#EXT-X-MEDIA-SEQUENCE:0\n"
               "#EXT-X-PLAYLIST-TYPE:VOD\n#EXT-X-INDEPENDENT-SEGMENTS\n#EXT-X-I-FRAMES-ONLY\n",
               fmp4 ? 5 : 4, target_duration(durations, count));
    if (fmp4) av_bprintf(&text, "#EXT-X-MAP:URI=\"init.mp4\"\n");
    for (int i = 0; i < count; i++) {
        const mw_iframe_record *iframe = &packager->iframes[i];
        av_bprintf(&text, "#EXTINF:%.3f,\n#EXT-X-BYTERANGE:%" PRId64 "@%" PRId64 "\nseg-%05d.%s\n",
                   mw_written_duration(durations[i]), iframe->length, iframe->offset, packager->segment_base + iframe->segment,
                   mw_segment_extension(packager));
    }
    av_bprintf(&text, "#EXT-X-ENDLIST\n");
    av_free(durations);
    mw_status status = av_bprint_is_complete(&text)
        ? write_text_file(packager->directory, "iframes.m3u8", text.str, message, message_size)
        : mw_fail(message, message_size, MW_E_OUT_OF_MEMORY, "out of memory");
    av_bprint_finalize(&text, NULL);
    return status;
}

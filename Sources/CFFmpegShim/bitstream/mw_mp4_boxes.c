/* Reading MP4 boxes the muxer wrote: an fMP4 fragment's first video sample, for the byte
 * ranges of the I-frame playlists. */
#include "bitstream/mw_bitstream.h"

#include <stdlib.h>
#include <string.h>

static uint32_t be32(const uint8_t *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }

/* The bytes from a fragment's start through its first video sample: the moof's trun gives
 * the sample's offset from the moof (default-base-is-moof) and its size. */
int64_t mw_fmp4_iframe_length(FILE *file, int64_t offset, uint32_t track_id) {
    uint8_t header[8];
    int64_t position = offset;
    for (int skipped = 0; skipped < 4; skipped++) {
        if (fseeko(file, position, SEEK_SET) != 0 || fread(header, 1, 8, file) != 8) return -1;
        uint32_t size = be32(header);
        if (size < 8) return -1;
        if (memcmp(header + 4, "moof", 4) != 0) { position += size; continue; }
        if (size > (1 << 24)) return -1;
        uint8_t *moof = malloc(size);
        if (!moof) return -1;
        int64_t length = -1;
        if (fseeko(file, position, SEEK_SET) == 0 && fread(moof, 1, size, file) == size) {
            for (uint32_t at = 8; at + 8 <= size;) {
                uint32_t box = be32(moof + at);
                /* 64-bit sums: a 32-bit one wraps past a huge box size and reads outside the moof. */
                if (box < 8 || (uint64_t)at + box > size) break;
                if (!memcmp(moof + at + 4, "traf", 4)) {
                    uint32_t default_size = 0, track = 0;
                    for (uint32_t in = at + 8; (uint64_t)in + 8 <= (uint64_t)at + box;) {
                        uint32_t child = be32(moof + in);
                        if (child < 8 || (uint64_t)in + child > (uint64_t)at + box) break;
                        const uint8_t *body = moof + in + 8;
                        uint32_t flags = be32(body) & 0xFFFFFF;
                        if (!memcmp(moof + in + 4, "tfhd", 4) && child >= 16) {
                            track = be32(body + 4);
                            uint32_t field = 8 + (flags & 0x1 ? 8 : 0) + (flags & 0x2 ? 4 : 0) + (flags & 0x8 ? 4 : 0);
                            if ((flags & 0x10) && (uint64_t)field + 4 <= (uint64_t)child - 8) default_size = be32(body + field);
                        } else if (!memcmp(moof + in + 4, "trun", 4) && track == track_id && (flags & 0x1) && child >= 20) {
                            int32_t data_offset = (int32_t)be32(body + 8);
                            uint32_t field = 12 + (flags & 0x4 ? 4 : 0) + (flags & 0x100 ? 4 : 0);
                            uint32_t first_size = default_size;
                            if ((flags & 0x200) && (uint64_t)field + 4 <= (uint64_t)child - 8) first_size = be32(body + field);
                            if (first_size > 0 && data_offset > 0)
                                length = (position - offset) + (int64_t)data_offset + (int64_t)first_size;
                        }
                        in += child;
                    }
                }
                at += box;
            }
        }
        free(moof);
        return length;
    }
    return -1;
}

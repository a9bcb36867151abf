/* H.264 access units: whether a packet starts a clean random access point. */
#include "bitstream/mw_bitstream.h"

int mw_h264_packet_is_idr(const uint8_t *data, int size, int length_size) {
    if (length_size > 0) {
        for (int i = 0; i + length_size < size;) {
            uint32_t length = 0;
            for (int b = 0; b < length_size; b++) length = length << 8 | data[i + b];
            i += length_size;
            if (i < size && (data[i] & 0x1F) == 5) return 1;
            if (length == 0 || length > (uint32_t)(size - i)) break;
            i += (int)length;
        }
        return 0;
    }
    for (int i = 0; i + 3 < size; i++)
        if (data[i] == 0 && data[i + 1] == 0 && data[i + 2] == 1 && (data[i + 3] & 0x1F) == 5) return 1;
    return 0;
}

#include <zlib.h>

/* deflateInit2 is a macro in zlib.h; Swift sees functions only. */
static inline int mw_deflate_init_gzip(z_stream *stream, int level) {
    /* windowBits 15 + 16: a gzip header and trailer, as Content-Encoding: gzip expects. */
    return deflateInit2(stream, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
}

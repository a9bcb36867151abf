/* Whole-segment AES-128 for HLS (RFC 8216 section 5.2): CBC over the entire file, PKCS#7 padding,
 * the IV given by the caller (the playlist carries it per segment). libavutil's AES: no second
 * crypto library linked into the shim for a few megabytes per rendition. */
#include "core/mw_internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <libavutil/aes.h>
#include <libavutil/mem.h>

enum { MW_CRYPT_CHUNK = 64 * 1024 };  /* a multiple of the 16-byte block */

mw_status mw_aes128_cbc_encrypt_file(const char *input_path, const char *output_path, const uint8_t *key, const uint8_t *iv,
                                     char *message, size_t message_size) {
    if (!input_path || !output_path || !key || !iv)
        return mw_fail(message, message_size, MW_E_INVALID_ARGUMENT, "encryption needs input, output, key and IV");
    FILE *in = fopen(input_path, "rb");
    if (!in) return mw_fail(message, message_size, MW_E_INPUT_NOT_FOUND, "cannot open %s: %s", input_path, strerror(errno));
    FILE *out = fopen(output_path, "wb");
    if (!out) {
        fclose(in);
        return mw_fail(message, message_size, MW_E_OUTPUT_FAILED, "cannot create %s: %s", output_path, strerror(errno));
    }
    struct AVAES *aes = av_aes_alloc();
    uint8_t *buffer = av_malloc(MW_CRYPT_CHUNK + 16);
    mw_status status = MW_OK;
    if (!aes || !buffer || av_aes_init(aes, key, 128, 0) < 0) {
        status = mw_fail(message, message_size, MW_E_OUT_OF_MEMORY, "cannot set up AES-128");
        goto done;
    }
    uint8_t chain[16];  /* av_aes_crypt updates it: the running CBC state across chunks */
    memcpy(chain, iv, 16);
    for (;;) {
        size_t got = fread(buffer, 1, MW_CRYPT_CHUNK, in);
        if (ferror(in)) {
            status = mw_fail(message, message_size, MW_E_INPUT_UNREADABLE, "cannot read %s: %s", input_path, strerror(errno));
            goto done;
        }
        int last = got < MW_CRYPT_CHUNK;
        size_t length = got;
        if (last) {
            /* PKCS#7: 1 to 16 bytes, each the count; a whole block when already aligned. */
            uint8_t pad = (uint8_t)(16 - got % 16);
            memset(buffer + got, pad, pad);
            length = got + pad;
        }
        if (length > 0) {
            av_aes_crypt(aes, buffer, buffer, (int)(length / 16), chain, 0);
            if (fwrite(buffer, 1, length, out) != length) {
                status = mw_fail(message, message_size, MW_E_OUTPUT_FAILED, "cannot write %s: %s", output_path, strerror(errno));
                goto done;
            }
        }
        if (last) break;
    }
done:
    av_free(buffer);
    av_free(aes);
    fclose(in);
    if (fclose(out) != 0 && status == MW_OK)
        status = mw_fail(message, message_size, MW_E_OUTPUT_FAILED, "cannot write %s: %s", output_path, strerror(errno));
    if (status != MW_OK) remove(output_path);
    return status;
}

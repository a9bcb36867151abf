/* Waveform data for audio players (see mw_audio_waveform in mw_shim.h): the best audio stream
 * decoded and mixed to mono at its own rate by the audio reader compose uses, then the minimum and
 * maximum of each pixel's samples. */
#include "compose/mw_audio_reader.h"

#include <math.h>
#include <string.h>
#include <libavutil/channel_layout.h>
#include <libavutil/mem.h>

static int16_t quantize(float sample, int bits) {
    double scale = bits == 8 ? 127.0 : 32767.0;
    double low = bits == 8 ? -128.0 : -32768.0;
    double value = round(sample * scale);
    if (value < low) value = low;
    if (value > scale) value = scale;
    return (int16_t)value;
}

mw_status mw_audio_waveform(const char *input, double pixels_per_second, int32_t bits, const mw_limits *limits,
                            mw_cancel_token *cancel, int16_t *data, int32_t capacity, mw_waveform_info *info,
                            char *message, size_t message_size) {
    if (!input || !data || !info || capacity < 2) return mw_fail(message, message_size, MW_E_INVALID_ARGUMENT, "missing input or buffer");
    if (bits != 8 && bits != 16) return mw_fail(message, message_size, MW_E_INVALID_ARGUMENT, "bits must be 8 or 16");
    if (!(pixels_per_second >= 1 && pixels_per_second <= 1000))
        return mw_fail(message, message_size, MW_E_INVALID_ARGUMENT, "pixels per second must be from 1 to 1000");
    memset(info, 0, sizeof(*info));
    mw_audio_reader reader;
    AVChannelLayout mono = AV_CHANNEL_LAYOUT_MONO;
    mw_status status = mw_audio_reader_open(&reader, input, 0, &mono, limits, cancel, message, message_size);
    const int chunk = 8192;
    float *samples = status == MW_OK ? av_malloc(sizeof(float) * chunk) : NULL;
    if (status == MW_OK && !samples) status = mw_fail(message, message_size, MW_E_OUT_OF_MEMORY, "out of memory");
    int per_pixel = status == MW_OK ? (int)lround(reader.out_rate / pixels_per_second) : 1;
    if (per_pixel < 1) per_pixel = 1;
    int32_t written = 0;
    int in_pixel = 0;
    float low = 0, high = 0;
    int got = chunk;
    while (status == MW_OK && got == chunk) {
        status = mw_audio_reader_read(&reader, &samples, chunk, &got, message, message_size);
        for (int i = 0; status == MW_OK && i < got; i++) {
            float sample = samples[i];
            if (in_pixel == 0 || sample < low) low = sample;
            if (in_pixel == 0 || sample > high) high = sample;
            if (++in_pixel == per_pixel) {
                if (written + 2 > capacity) {
                    info->truncated = 1;
                } else {
                    data[written++] = quantize(low, bits);
                    data[written++] = quantize(high, bits);
                }
                in_pixel = 0;
            }
        }
    }
    /* The last, partial pixel counts too (audiowaveform's length covers the whole file). */
    if (status == MW_OK && in_pixel > 0) {
        if (written + 2 > capacity) {
            info->truncated = 1;
        } else {
            data[written++] = quantize(low, bits);
            data[written++] = quantize(high, bits);
        }
    }
    if (status == MW_OK) {
        info->sample_rate = reader.out_rate;
        info->samples_per_pixel = per_pixel;
        info->bits = bits;
        info->pixels = written / 2;
    }
    av_free(samples);
    mw_audio_reader_close(&reader);
    return status;
}

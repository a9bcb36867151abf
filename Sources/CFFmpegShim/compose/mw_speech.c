/* Text to speech with libespeak-ng, written as a WAV for the compose pipeline.
 *
 * espeak-ng is a process-wide engine (global voice, parameters and callback): it is initialized
 * once and every synthesis holds one lock, so concurrent jobs take turns. */
#include "core/mw_internal.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <espeak-ng/espeak_ng.h>
#include <libavutil/avstring.h>

#define MW_SPEECH_MAX_TEXT 20000
#define MW_SPEECH_SILENCE 128  /* of 32767: about -48 dBFS */

static pthread_mutex_t speech_lock = PTHREAD_MUTEX_INITIALIZER;
static int speech_ready = 0;
static int speech_rate = 0;

typedef struct speech_buffer {
    int16_t *samples;
    size_t count, capacity;
    int failed;
    mw_cancel_token *cancel;
    mw_speech_word *words;  /* NULL: not asked */
    int32_t max_words, word_count;
} speech_buffer;

/* Word events start a word; the next word, a clause's end or the message's end closes the one open. */
static void collect_events(speech_buffer *buffer, const espeak_EVENT *event) {
    for (; event->type != espeakEVENT_LIST_TERMINATED; event++) {
        double at = event->audio_position / 1000.0;
        mw_speech_word *open = buffer->word_count > 0 ? &buffer->words[buffer->word_count - 1] : NULL;
        if (event->type == espeakEVENT_WORD || event->type == espeakEVENT_END || event->type == espeakEVENT_MSG_TERMINATED
            || event->type == espeakEVENT_SENTENCE) {
            if (open && open->end_s < 0) open->end_s = at > open->start_s ? at : open->start_s;
        }
        if (event->type == espeakEVENT_WORD && buffer->word_count < buffer->max_words) {
            mw_speech_word *word = &buffer->words[buffer->word_count++];
            word->text_offset = event->text_position > 0 ? event->text_position - 1 : 0;  /* espeak counts from 1 */
            word->text_length = event->length;
            word->start_s = at;
            word->end_s = -1;
        }
    }
}

void mw_speech_options_init_default(mw_speech_options *options) {
    if (!options) return;
    memset(options, 0, sizeof(*options));
    snprintf(options->voice, sizeof(options->voice), "en");
    options->rate_wpm = 175;
    options->pitch = 50;
}

/* Returning 1 asks espeak-ng to stop synthesizing. */
static int collect_samples(short *samples, int count, espeak_EVENT *events) {
    speech_buffer *buffer = events ? events->user_data : NULL;
    if (!buffer) return 0;
    if (mw_cancel_token_is_canceled(buffer->cancel)) return 1;
    if (buffer->words && events) collect_events(buffer, events);
    if (!samples || count <= 0) return 0;
    if (buffer->count + (size_t)count > buffer->capacity) {
        size_t capacity = buffer->capacity ? buffer->capacity * 2 : 65536;
        while (capacity < buffer->count + (size_t)count) capacity *= 2;
        int16_t *grown = realloc(buffer->samples, capacity * sizeof(int16_t));
        if (!grown) {
            buffer->failed = 1;
            return 1;
        }
        buffer->samples = grown;
        buffer->capacity = capacity;
    }
    memcpy(buffer->samples + buffer->count, samples, (size_t)count * sizeof(int16_t));
    buffer->count += (size_t)count;
    return 0;
}

static void put_le32(uint8_t *p, uint32_t v) { p[0] = v; p[1] = v >> 8; p[2] = v >> 16; p[3] = v >> 24; }
static void put_le16(uint8_t *p, uint16_t v) { p[0] = v; p[1] = v >> 8; }

static mw_status write_wav(const char *path, const int16_t *samples, size_t count, int rate, char *message, size_t message_size) {
    char *temporary = av_asprintf("%s.part-%d", path, (int)getpid());
    if (!temporary) return mw_fail(message, message_size, MW_E_OUT_OF_MEMORY, "out of memory");
    FILE *file = fopen(temporary, "wb");
    if (!file) {
        mw_status status = mw_fail(message, message_size, MW_E_OUTPUT_FAILED, "cannot create %s: %s", path, strerror(errno));
        av_free(temporary);
        return status;
    }
    uint8_t header[44];
    uint32_t bytes = (uint32_t)(count * 2);
    memcpy(header, "RIFF", 4); put_le32(header + 4, 36 + bytes); memcpy(header + 8, "WAVEfmt ", 8);
    put_le32(header + 16, 16); put_le16(header + 20, 1); put_le16(header + 22, 1); put_le32(header + 24, (uint32_t)rate);
    put_le32(header + 28, (uint32_t)rate * 2); put_le16(header + 32, 2); put_le16(header + 34, 16);
    memcpy(header + 36, "data", 4); put_le32(header + 40, bytes);
    /* WAV is little-endian, as is every machine this runs on (x86-64, arm64). */
    int ok = fwrite(header, 1, sizeof(header), file) == sizeof(header) && fwrite(samples, 2, count, file) == count;
    if (fclose(file) != 0) ok = 0;
    if (!ok || rename(temporary, path) != 0) {
        unlink(temporary);
        av_free(temporary);
        return mw_fail(message, message_size, MW_E_OUTPUT_FAILED, "cannot write %s", path);
    }
    av_free(temporary);
    return MW_OK;
}

static mw_status espeak_failure(espeak_ng_STATUS code, const char *what, char *message, size_t message_size) {
    char reason[256];
    espeak_ng_GetStatusCodeMessage(code, reason, sizeof(reason));
    return mw_fail(message, message_size, MW_E_INTERNAL, "%s: %s", what, reason);
}

mw_status mw_synthesize_speech(const char *text, const mw_speech_options *options, const char *wav_path,
                               mw_cancel_token *cancel, double *duration_s, char *message, size_t message_size) {
    return mw_synthesize_speech_timed(text, options, wav_path, cancel, duration_s, NULL, 0, NULL, message, message_size);
}

mw_status mw_synthesize_speech_timed(const char *text, const mw_speech_options *options_in, const char *wav_path,
                                     mw_cancel_token *cancel, double *duration_s, mw_speech_word *words, int32_t max_words,
                                     int32_t *word_count, char *message, size_t message_size) {
    if (word_count) *word_count = 0;
    if (!text || !wav_path) return mw_fail(message, message_size, MW_E_INVALID_ARGUMENT, "missing text or output path");
    size_t length = strlen(text);
    if (length == 0 || length > MW_SPEECH_MAX_TEXT)
        return mw_fail(message, message_size, MW_E_INVALID_ARGUMENT, "text must be 1 to %d bytes", MW_SPEECH_MAX_TEXT);
    mw_speech_options options;
    if (options_in) options = *options_in; else mw_speech_options_init_default(&options);
    if (options.rate_wpm < 80 || options.rate_wpm > 450 || options.pitch < 0 || options.pitch > 100)
        return mw_fail(message, message_size, MW_E_INVALID_ARGUMENT, "rate must be 80-450 words a minute and pitch 0-100");

    speech_buffer buffer = {.cancel = cancel, .words = max_words > 0 ? words : NULL, .max_words = max_words};
    mw_status status = MW_OK;
    pthread_mutex_lock(&speech_lock);
    if (!speech_ready) {
        espeak_ng_InitializePath(NULL);
        espeak_ng_STATUS code = espeak_ng_Initialize(NULL);
        if (code == ENS_OK) code = espeak_ng_InitializeOutput(ENOUTPUT_MODE_SYNCHRONOUS, 0, NULL);
        if (code != ENS_OK) {
            status = espeak_failure(code, "cannot start espeak-ng", message, message_size);
            goto end;
        }
        espeak_SetSynthCallback(collect_samples);
        speech_rate = espeak_ng_GetSampleRate();
        speech_ready = 1;
    }
    espeak_ng_STATUS code = espeak_ng_SetVoiceByName(options.voice[0] ? options.voice : "en");
    if (code != ENS_OK) {
        status = mw_fail(message, message_size, MW_E_INVALID_ARGUMENT, "unknown voice '%s'", options.voice);
        goto end;
    }
    espeak_ng_SetParameter(espeakRATE, options.rate_wpm, 0);
    espeak_ng_SetParameter(espeakPITCH, options.pitch, 0);
    code = espeak_ng_Synthesize(text, length + 1, 0, POS_CHARACTER, 0, espeakCHARS_UTF8, NULL, &buffer);
    if (code == ENS_OK) code = espeak_ng_Synchronize();
    if (mw_cancel_token_is_canceled(cancel)) {
        status = mw_fail(message, message_size, MW_E_CANCELED, "canceled");
        goto end;
    }
    if (buffer.failed) {
        status = mw_fail(message, message_size, MW_E_OUT_OF_MEMORY, "out of memory");
        goto end;
    }
    if (code != ENS_OK) {
        status = espeak_failure(code, "speech synthesis failed", message, message_size);
        goto end;
    }
    if (buffer.count == 0) {
        status = mw_fail(message, message_size, MW_E_INVALID_ARGUMENT, "the text has nothing to speak");
        goto end;
    }
    status = write_wav(wav_path, buffer.samples, buffer.count, speech_rate, message, message_size);
    if (status == MW_OK && duration_s) *duration_s = (double)buffer.count / speech_rate;
    if (status == MW_OK && buffer.words) {
        /* A word still open ends with the audio. Events fall on clause boundaries, after the pause
         * that follows a sentence: each word's edges are moved onto its sound (samples over about
         * -48 dBFS), so a caption ends when the voice does. */
        double end = (double)buffer.count / speech_rate;
        for (int32_t i = 0; i < buffer.word_count; i++) {
            mw_speech_word *word = &buffer.words[i];
            if (word->end_s < 0) word->end_s = end;
            size_t first = (size_t)(word->start_s * speech_rate), last = (size_t)(word->end_s * speech_rate);
            if (last > buffer.count) last = buffer.count;
            if (first > last) first = last;
            while (last > first && abs(buffer.samples[last - 1]) < MW_SPEECH_SILENCE) last--;
            while (first < last && abs(buffer.samples[first]) < MW_SPEECH_SILENCE) first++;
            if (last > first) {
                word->start_s = (double)first / speech_rate;
                word->end_s = (double)last / speech_rate;
            }
        }
        if (word_count) *word_count = buffer.word_count;
    }
end:
    pthread_mutex_unlock(&speech_lock);
    free(buffer.samples);
    return status;
}

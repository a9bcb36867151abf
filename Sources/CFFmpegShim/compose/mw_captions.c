/* Captions with libass: white text with a dark outline, bottom centre, smart-wrapped. */
#include "compose/mw_captions.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <libavutil/mem.h>

static mw_status append(mw_captions *captions, const char *text, size_t length, char *message, size_t message_size) {
    if (captions->script_length + length + 1 > captions->script_capacity) {
        size_t capacity = (captions->script_capacity + length + 1) * 2;
        char *grown = av_realloc(captions->script, capacity);
        if (!grown) return mw_fail(message, message_size, MW_E_OUT_OF_MEMORY, "out of memory");
        captions->script = grown;
        captions->script_capacity = capacity;
    }
    memcpy(captions->script + captions->script_length, text, length);
    captions->script_length += length;
    captions->script[captions->script_length] = 0;
    return MW_OK;
}

/* libass would print to stderr; the job's own errors say what matters. */
static void quiet(int level, const char *format, va_list args, void *data) {}

mw_status mw_captions_open(mw_captions *captions, int width, int height, double size, char *message, size_t message_size) {
    memset(captions, 0, sizeof(*captions));
    captions->width = width;
    captions->height = height;
    captions->library = ass_library_init();
    if (!captions->library) return mw_fail(message, message_size, MW_E_INTERNAL, "libass cannot start");
    ass_set_message_cb(captions->library, quiet, NULL);
    captions->renderer = ass_renderer_init(captions->library);
    captions->track = ass_new_track(captions->library);
    if (!captions->renderer || !captions->track) return mw_fail(message, message_size, MW_E_INTERNAL, "libass cannot start");
    ass_set_frame_size(captions->renderer, width, height);
    ass_set_fonts(captions->renderer, NULL, "DejaVu Sans", ASS_FONTPROVIDER_AUTODETECT, NULL, 1);
    int font = (int)lround(height * size);
    if (font < 8) font = 8;
    double outline = fmax(1, font / 14.0);
    int margin_h = (int)lround(width * 0.06), margin_v = (int)lround(height * 0.06);
    char header[1024];
    int length = snprintf(header, sizeof(header),
        "[Script Info]\nScriptType: v4.00+\nPlayResX: %d\nPlayResY: %d\nWrapStyle: 0\nScaledBorderAndShadow: yes\n\n"
        "[V4+ Styles]\nFormat: Name, Fontname, Fontsize, PrimaryColour, SecondaryColour, OutlineColour, BackColour, Bold, Italic, "
        "Underline, StrikeOut, ScaleX, ScaleY, Spacing, Angle, BorderStyle, Outline, Shadow, Alignment, MarginL, MarginR, MarginV, Encoding\n"
        "Style: Default,DejaVu Sans,%d,&H00FFFFFF,&H00FFFFFF,&H00000000,&H80000000,0,0,0,0,100,100,0,0,1,%.1f,0,2,%d,%d,%d,1\n\n"
        "[Events]\nFormat: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text\n",
        width, height, font, outline, margin_h, margin_h, margin_v);
    return append(captions, header, (size_t)length, message, message_size);
}

static void format_time(char *out, size_t size, double seconds) {
    long long centis = llround(seconds * 100);
    if (centis < 0) centis = 0;
    snprintf(out, size, "%lld:%02lld:%02lld.%02lld", centis / 360000, centis / 6000 % 60, centis / 100 % 60, centis % 100);
}

mw_status mw_captions_add(mw_captions *captions, const char *text, double start_s, double end_s, char *message, size_t message_size) {
    char start[32], end[32];
    format_time(start, sizeof(start), start_s);
    format_time(end, sizeof(end), end_s);
    char prefix[96];
    int length = snprintf(prefix, sizeof(prefix), "Dialogue: 0,%s,%s,Default,,0,0,0,,", start, end);
    mw_status status = append(captions, prefix, (size_t)length, message, message_size);
    /* Plain text: line breaks become \N; braces and backslashes cannot start tags. */
    for (const char *c = text; status == MW_OK && *c; c++) {
        if (*c == '\n') status = append(captions, "\\N", 2, message, message_size);
        else if (*c == '\r') continue;
        else if (*c == '{') status = append(captions, "\\{", 2, message, message_size);
        else if (*c == '}') status = append(captions, "\\}", 2, message, message_size);
        else if (*c == '\\') status = append(captions, "\\\xE2\x81\xA0", 4, message, message_size);  /* a word joiner after it */
        else status = append(captions, c, 1, message, message_size);
    }
    if (status == MW_OK) status = append(captions, "\n", 1, message, message_size);
    return status;
}

mw_status mw_captions_finish(mw_captions *captions, char *message, size_t message_size) {
    ass_process_data(captions->track, captions->script, (int)captions->script_length);
    return MW_OK;
}

ASS_Image *mw_captions_at(mw_captions *captions, double time_s) {
    int changed = 0;
    return ass_render_frame(captions->renderer, captions->track, llround(time_s * 1000), &changed);
}

void mw_captions_draw(const ASS_Image *images, AVFrame *frame) {
    for (const ASS_Image *image = images; image; image = image->next) {
        if (image->w <= 0 || image->h <= 0) continue;
        unsigned color = image->color;
        int r = color >> 24, g = (color >> 16) & 0xFF, b = (color >> 8) & 0xFF;
        int opacity = 255 - (int)(color & 0xFF);
        /* BT.601 limited range, as the encoder's pictures are. */
        int y_value = (int)lround(16 + (65.481 * r + 128.553 * g + 24.966 * b) / 255);
        int u_value = (int)lround(128 + (-37.797 * r - 74.203 * g + 112.0 * b) / 255);
        int v_value = (int)lround(128 + (112.0 * r - 93.786 * g - 18.214 * b) / 255);
        for (int y = 0; y < image->h; y++) {
            int fy = image->dst_y + y;
            if (fy < 0 || fy >= frame->height) continue;
            const uint8_t *alpha = image->bitmap + (size_t)y * image->stride;
            uint8_t *row = frame->data[0] + (size_t)fy * frame->linesize[0];
            for (int x = 0; x < image->w; x++) {
                int fx = image->dst_x + x;
                if (fx < 0 || fx >= frame->width) continue;
                int k = alpha[x] * opacity / 255;
                if (k) row[fx] = (uint8_t)((y_value * k + row[fx] * (255 - k) + 127) / 255);
            }
        }
        /* Chroma: each 2x2 block takes the mean coverage of its four pixels. */
        int cy0 = image->dst_y / 2, cy1 = (image->dst_y + image->h - 1) / 2;
        int cx0 = image->dst_x / 2, cx1 = (image->dst_x + image->w - 1) / 2;
        for (int cy = cy0; cy <= cy1; cy++) {
            if (cy < 0 || cy >= (frame->height + 1) / 2) continue;
            uint8_t *u_row = frame->data[1] + (size_t)cy * frame->linesize[1];
            uint8_t *v_row = frame->data[2] + (size_t)cy * frame->linesize[2];
            for (int cx = cx0; cx <= cx1; cx++) {
                if (cx < 0 || cx >= (frame->width + 1) / 2) continue;
                int sum = 0;
                for (int dy = 0; dy < 2; dy++) {
                    int y = cy * 2 + dy - image->dst_y;
                    if (y < 0 || y >= image->h) continue;
                    for (int dx = 0; dx < 2; dx++) {
                        int x = cx * 2 + dx - image->dst_x;
                        if (x >= 0 && x < image->w) sum += image->bitmap[(size_t)y * image->stride + x];
                    }
                }
                int k = sum / 4 * opacity / 255;
                if (!k) continue;
                u_row[cx] = (uint8_t)((u_value * k + u_row[cx] * (255 - k) + 127) / 255);
                v_row[cx] = (uint8_t)((v_value * k + v_row[cx] * (255 - k) + 127) / 255);
            }
        }
    }
}

void mw_captions_close(mw_captions *captions) {
    if (captions->track) ass_free_track(captions->track);
    if (captions->renderer) ass_renderer_done(captions->renderer);
    if (captions->library) ass_library_done(captions->library);
    av_freep(&captions->script);
    memset(captions, 0, sizeof(*captions));
}

/* Burned-in captions for compose: one libass track of timed lines, wrapped to the frame,
 * blended onto YUV 4:2:0 pictures. Internal. */
#ifndef MW_CAPTIONS_H
#define MW_CAPTIONS_H

#include "core/mw_internal.h"
#include <ass/ass.h>
#include <libavutil/frame.h>

typedef struct mw_captions {
    ASS_Library *library;
    ASS_Renderer *renderer;
    ASS_Track *track;
    int width, height;
    char *script;               /* the ASS script being built */
    size_t script_length, script_capacity;
} mw_captions;

/* `size` is the font height as a fraction of the frame height. */
mw_status mw_captions_open(mw_captions *captions, int width, int height, double size, char *message, size_t message_size);

/* Adds a caption shown from `start_s` to `end_s`; its text is plain UTF-8 (no ASS tags). */
mw_status mw_captions_add(mw_captions *captions, const char *text, double start_s, double end_s, char *message, size_t message_size);

/* Parses what was added; call once, before drawing. */
mw_status mw_captions_finish(mw_captions *captions, char *message, size_t message_size);

/* The caption images at `time_s`, NULL when none shows. */
ASS_Image *mw_captions_at(mw_captions *captions, double time_s);

/* Blends caption images onto a writable YUV 4:2:0 frame. */
void mw_captions_draw(const ASS_Image *images, AVFrame *frame);

void mw_captions_close(mw_captions *captions);

#endif

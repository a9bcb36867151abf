/* A scene's picture for compose: a still image fitted to the frame (with an optional slow
 * zoom and pan), or a video clip played from its start and held on its last frame. Every
 * picture is YUV 4:2:0 at the output size. Internal. */
#ifndef MW_SCENE_VISUAL_H
#define MW_SCENE_VISUAL_H

#include "core/mw_video_source.h"
#include <libswscale/swscale.h>

typedef struct mw_scene_visual {
    int width, height;          /* of the output */
    int fit;                    /* mw_fit_mode */
    int is_still;
    /* still */
    AVFrame *canvas;            /* the still fitted in; larger than the output with Ken Burns */
    int ken_burns, zoom_in;
    double zoom, pan_x, pan_y;  /* zoom over the scene; where the window drifts to (0..1) */
    /* clip */
    mw_video_source clip;
    int clip_open, clip_ended;
    AVFrame *decoded;           /* the latest decoded clip frame */
    AVFrame *lookahead;         /* the one after it, once read */
    int have_decoded, have_lookahead;
    AVFrame *upright;           /* a turned or converted copy of a clip frame */
    double shown_time;          /* clip time of the picture last made, -1 none */
    AVFrame *picture;           /* what render hands out */
    struct SwsContext *scaler;
} mw_scene_visual;

/* Opens and checks the visual (decodes a still right away). `index` varies the Ken Burns motion. */
mw_status mw_scene_visual_open(mw_scene_visual *visual, const char *path, int index, const mw_compose_options *options,
                               const mw_limits *limits, mw_cancel_token *cancel, char *message, size_t message_size);

/* The picture `time_s` into the scene (negative or past `length_s` during a crossfade). The
 * frame stays the visual's; its buffer is never written again, so references may be kept. */
mw_status mw_scene_visual_render(mw_scene_visual *visual, double time_s, double length_s, AVFrame **picture,
                                 char *message, size_t message_size);

void mw_scene_visual_close(mw_scene_visual *visual);

/* Fills a YUV 4:2:0 frame with black. */
void mw_picture_fill_black(AVFrame *frame);

/* A new YUV 4:2:0 frame of this size (its own buffer). */
AVFrame *mw_picture_alloc(int width, int height);

#endif

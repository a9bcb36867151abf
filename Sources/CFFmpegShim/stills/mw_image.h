/* Turning decoded frames into upright, square-pixel JPEG images. Internal. */
#ifndef MW_IMAGE_H
#define MW_IMAGE_H

#include "core/mw_internal.h"
#include <libavcodec/avcodec.h>
#include <libswscale/swscale.h>

typedef struct mw_image_renderer {
    struct SwsContext *scaler;
    int scaler_key[6];      /* what `scaler` was made for: source size, format, range; output size */
    AVFrame *scaled;      /* before rotation */
    AVFrame *upright;     /* after rotation: what is encoded */
    AVPacket *packet;
} mw_image_renderer;

void mw_image_renderer_init(mw_image_renderer *renderer);
void mw_image_renderer_free(mw_image_renderer *renderer);

/* The upright display size of a w x h picture with this SAR and rotation, fitted into
 * max_width x max_height (0: no limit) without upscaling, both even. */
void mw_image_fit(int width, int height, AVRational sar, int rotation, int max_width, int max_height,
                  int *out_width, int *out_height);

/* Renders `frame` upright at out_width x out_height (full-range YUV 4:2:0); the result is
 * renderer->upright, valid until the next call. */
mw_status mw_image_render(mw_image_renderer *renderer, const AVFrame *frame, int rotation, int out_width,
                          int out_height, char *message, size_t message_size);

/* Encodes a full-range YUV 4:2:0 frame as a JPEG file (written to a temp name, then renamed). */
mw_status mw_image_write_jpeg(mw_image_renderer *renderer, const AVFrame *picture, int quality,
                              const char *path, char *message, size_t message_size);

/* Luma statistics of a rendered picture: mean and standard deviation (0..255). */
void mw_image_luma_stats(const AVFrame *picture, double *mean, double *stddev);

/* A coarse 16x9 luma grid for comparing pictures (scene changes). */
void mw_image_luma_grid(const AVFrame *picture, uint8_t grid[144]);

#endif

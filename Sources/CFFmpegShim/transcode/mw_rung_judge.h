/* A rung's encode judged in the pass that makes it: every packet decoded again, scaled (bicubic)
 * to the size all rungs are compared at, and its luma compared with the source frame it was
 * encoded from. The same comparison as the quality meter's afterwards (mw_quality.c), without
 * decoding the source again or reading the segments back: a per-title analysis measured each
 * sample's seven candidates that way, and those passes were a third of its time. Internal. */
#ifndef MW_RUNG_JUDGE_H
#define MW_RUNG_JUDGE_H

#include "core/mw_internal.h"
#include <libavcodec/avcodec.h>

typedef struct mw_rung_judge {
    int width, height;            /* compared at: the largest rung's picture */
    AVCodecContext *decoder;
    struct SwsContext *scaler;
    AVFrame *decoded, *scaled;
    AVFrame **waiting;            /* the source frames sent to the encoder and not yet judged, in order */
    int waiting_count, waiting_capacity;
    int64_t expected;             /* source frames given */
    int64_t frames;               /* of them, judged */
    double mse_y_sum;             /* each frame's luma MSE, summed (psnr's per-frame value) */
} mw_rung_judge;

/* Opens a decoder for `encoder`'s stream (open, its extradata set) comparing at `width`x`height`. */
mw_status mw_rung_judge_open(mw_rung_judge *judge, const AVCodecContext *encoder, int width, int height,
                             char *message, size_t message_size);

/* The source frame (4:2:0 at the judge's size) that the encoder is about to be sent. */
mw_status mw_rung_judge_expect(mw_rung_judge *judge, const AVFrame *reference, char *message, size_t message_size);

/* A packet the encoder made; NULL when the encoder is drained: the decoder is drained too, and
 * every frame given must have been judged (MW_E_INTERNAL otherwise: a figure over some of the
 * frames would pass for one over all). */
mw_status mw_rung_judge_packet(mw_rung_judge *judge, const AVPacket *packet, char *message, size_t message_size);

void mw_rung_judge_close(mw_rung_judge *judge);

#endif

/* A one-input, one-output filter graph: a buffer source, a chain of filters given as text, a
 * buffer sink. The audio and video chains of a transcode both are one. Internal. */
#ifndef MW_FILTER_GRAPH_H
#define MW_FILTER_GRAPH_H

#include <libavfilter/avfilter.h>

/* Makes `*graph` with `source_filter` ("buffer" or "abuffer", set up by `source_args`) feeding
 * `description` into `sink_filter` ("buffersink" or "abuffersink"), configured. Returns 0 or an
 * AVERROR; on failure the graph is freed with everything in it. */
int mw_filter_graph_build(AVFilterGraph **graph, AVFilterContext **source, AVFilterContext **sink,
                          const char *source_filter, const char *source_args, const char *sink_filter,
                          const char *description);

/* A number a filter left in a frame's metadata (ebur128's lavfi.r128.*, blackdetect's
 * lavfi.black_start, ...); *found says whether the key was there. */
double mw_frame_metadata_number(const AVFrame *frame, const char *key, int *found);

#endif

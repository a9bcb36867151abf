/* A one-input, one-output filter graph from its description (see mw_filter_graph.h). */
#include "core/mw_filter_graph.h"

#include <stdlib.h>
#include <libavutil/dict.h>
#include <libavutil/error.h>
#include <libavutil/frame.h>
#include <libavutil/mem.h>

int mw_filter_graph_build(AVFilterGraph **graph, AVFilterContext **source, AVFilterContext **sink,
                          const char *source_filter, const char *source_args, const char *sink_filter,
                          const char *description) {
    *graph = avfilter_graph_alloc();
    int ret = *graph && source_args && description ? 0 : AVERROR(ENOMEM);
    AVFilterInOut *inputs = NULL, *outputs = NULL;
    if (ret >= 0) ret = avfilter_graph_create_filter(source, avfilter_get_by_name(source_filter), "in", source_args, NULL, *graph);
    if (ret >= 0) ret = avfilter_graph_create_filter(sink, avfilter_get_by_name(sink_filter), "out", NULL, NULL, *graph);
    if (ret >= 0) {
        outputs = avfilter_inout_alloc();
        inputs = avfilter_inout_alloc();
        if (!outputs || !inputs) ret = AVERROR(ENOMEM);
    }
    if (ret >= 0) {
        outputs->name = av_strdup("in");
        outputs->filter_ctx = *source;
        inputs->name = av_strdup("out");
        inputs->filter_ctx = *sink;
        ret = avfilter_graph_parse_ptr(*graph, description, &inputs, &outputs, NULL);
    }
    if (ret >= 0) ret = avfilter_graph_config(*graph, NULL);
    avfilter_inout_free(&inputs);
    avfilter_inout_free(&outputs);
    if (ret < 0) {
        avfilter_graph_free(graph);
        *source = *sink = NULL;
    }
    return ret;
}

double mw_frame_metadata_number(const AVFrame *frame, const char *key, int *found) {
    AVDictionaryEntry *entry = av_dict_get(frame->metadata, key, NULL, 0);
    *found = entry != NULL;
    return entry ? strtod(entry->value, NULL) : 0;
}

/* The keyframe times a container's index lists, without decoding: what the per-title analysis
 * places its samples by (a window starting far after a keyframe decodes that whole distance only
 * to throw it away, three times: the sample encode and each measuring thread). */
#include "core/mw_internal.h"

mw_status mw_keyframe_times(const char *path, const mw_limits *limits, mw_cancel_token *cancel, double *times, int32_t capacity,
                            int32_t *count, char *message, size_t message_size) {
    if (!path || !limits || !times || !count || capacity < 0) return mw_fail(message, message_size, MW_E_INVALID_ARGUMENT, "bad arguments");
    *count = 0;
    mw_interrupt interrupt;
    mw_interrupt_init(&interrupt, cancel, limits->timeout_ms);
    AVFormatContext *format = NULL;
    mw_status status = mw_open_input(path, limits, &interrupt, &format, message, message_size);
    if (status != MW_OK) return status;
    int video = av_find_best_stream(format, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);
    if (video >= 0) {
        AVStream *stream = format->streams[video];
        int64_t origin = format->start_time != AV_NOPTS_VALUE ? av_rescale_q(format->start_time, AV_TIME_BASE_Q, stream->time_base) : 0;
        /* MP4's index is its sync-sample table, complete; Matroska's its cues; MPEG-TS has none (0 entries). */
        int entries = avformat_index_get_entries_count(stream);
        for (int i = 0; i < entries && *count < capacity; i++) {
            const AVIndexEntry *entry = avformat_index_get_entry(stream, i);
            if (!entry || !(entry->flags & AVINDEX_KEYFRAME) || entry->timestamp == AV_NOPTS_VALUE) continue;
            times[(*count)++] = (double)(entry->timestamp - origin) * av_q2d(stream->time_base);
        }
    }
    avformat_close_input(&format);
    return MW_OK;
}

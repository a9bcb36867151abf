/* Transparent huge pages off for this process. libx264 asks for huge pages on every buffer of
 * 2 MB or more (madvise MADV_HUGEPAGE); with the kernel's default `defrag=madvise`, each first touch
 * of such a page may compact memory synchronously and then zeroes all 2 MB. A per-title analysis
 * opens seven encoders per sample and closes them again, so it paid that on every sample: a quarter
 * of a light title's analysis CPU on the quality benchmark, for no gain in the encodes measured. */
#include "core/mw_internal.h"
#include <errno.h>
#if defined(__linux__)
#include <sys/prctl.h>
#endif

int mw_disable_transparent_huge_pages(void) {
#if defined(__linux__) && defined(PR_SET_THP_DISABLE)
    return prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0) == 0 ? 0 : errno;
#else
    return ENOSYS;
#endif
}

#if canImport(Glibc)
import Glibc
#endif

/// After each job the heap's free pages go back to the system. Media jobs allocate and free large
/// buffers (frames, packets, segments) from many threads; glibc keeps those in its per-thread
/// arenas, so without this a long-lived worker's RSS creeps up with fragmentation instead of
/// tracking what it uses (MemoryStabilityTests measures it over 1,000 jobs).
/// Only after jobs whose handler handles media (`JobHandler.handlesMedia`): `malloc_trim` walks
/// every arena, which cost a no-op job more than the job itself in the queue benchmark's profile.
enum HeapTrim {
    #if canImport(Glibc)
    /// glibc's `malloc_trim`, looked up once (its header is not part of Swift's Glibc module).
    private static let trim: (@convention(c) (Int) -> Int32)? = {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "malloc_trim") else { return nil }
        return unsafeBitCast(symbol, to: (@convention(c) (Int) -> Int32).self)
    }()
    #endif

    static func afterJob() {
        #if canImport(Glibc)
        _ = trim?(0)
        #endif
    }
}

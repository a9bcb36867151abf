import JobContract
import Foundation
import MediaWorker
import QueueClient

/// libFuzzer entry: any bytes a producer could push to the inbox. The decoder must turn every
/// input into jobs or a rejection (a dead job with a reason): never crash, hang or leak.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzJobDecoder(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    var decoder = JobDecoder(defaultOutputURL: "file:///srv/media/out/")
    decoder.now = { Date(timeIntervalSince1970: 1_800_000_000) }
    switch decoder.decide(bytes) {
    case .jobs(let jobs):
        // What was accepted must be well formed: an id and a type the worker knows.
        for job in jobs where job.id.isEmpty { fatalError("accepted a job without an id: \(job)") }
    case .rejected(let item):
        if item.code.isEmpty || item.message.isEmpty { fatalError("a rejection without a code or message: \(item)") }
    case .ignored:
        break
    }
    return 0
}

/// SwiftPM links an executable with `main` defined as `<target>_main`; that entry hands control
/// to libFuzzer's driver with the callback above.
@_silgen_name("LLVMFuzzerRunDriver")
func runFuzzerDriver(
    _ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>, Int) -> CInt
) -> CInt

@_cdecl("JobDecoderFuzzer_main")
public func fuzzerMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var count = argc
    var arguments = argv
    return runFuzzerDriver(&count, &arguments, fuzzJobDecoder)
}

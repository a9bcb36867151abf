import Foundation
import JobContract

/// libFuzzer entry: any bytes a producer could push to the inbox. The decoder must turn every
/// input into jobs or a rejection (a dead job with a reason): never crash, hang or leak.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzJobDecoder(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    var decoder = JobDecoder(defaultOutputURL: "file:///srv/media/out/")
    decoder.now = { Date(timeIntervalSince1970: 1_800_000_000) }
    switch decoder.decide(bytes) {
    case .jobs(let jobs):
        // What was accepted must be well formed: an id, a type the worker knows, a payload that
        // reads back to the same value, and options its handler will take.
        for job in jobs {
            if job.id.isEmpty { fatalError("accepted a job without an id: \(job)") }
            guard let type = JobType(rawValue: job.type) else { fatalError("accepted an unknown type: \(job.type)") }
            guard let payload = try? JSONValue.parse(job.payload), (try? JSONValue.parse(payload.jsonText)) == payload else {
                fatalError("the stored payload does not read back: \(job.payload)")
            }
            guard (try? JSONValue.parse(job.metadataJSON))?.objectValue != nil else { fatalError("metadata is not an object: \(job.metadataJSON)") }
            do {
                try JobOptions.validate(payload["options"].flatMap { $0 == .null ? nil : $0 }, for: type)
            } catch {
                fatalError("accepted options its handler refuses: \(error)")
            }
        }
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

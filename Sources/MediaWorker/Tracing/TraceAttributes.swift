/// The names of span attributes the worker sets: OpenTelemetry's messaging and general
/// semantic conventions where one fits, `mediaworker.*` for what is ours.
enum TraceAttributes {
    // Messaging (https://opentelemetry.io/docs/specs/semconv/messaging/messaging-spans/).
    static let messagingSystem = "messaging.system"
    static let operationType = "messaging.operation.type"
    static let operationName = "messaging.operation.name"
    static let destination = "messaging.destination.name"
    static let messageID = "messaging.message.id"
    static let bodySize = "messaging.message.body.size"
    // General.
    static let errorType = "error.type"
    // Ours.
    static let jobType = "mediaworker.job.type"
    static let attempt = "mediaworker.job.attempt"
    static let stage = "mediaworker.job.stage"
    static let parentJob = "mediaworker.job.parent_id"
    static let outcome = "mediaworker.job.outcome"
    static let storageURL = "mediaworker.storage.url"
    static let bytes = "mediaworker.bytes"
    static let objects = "mediaworker.objects"
    static let rungs = "mediaworker.encode.rungs"
    static let chunk = "mediaworker.encode.chunk"
    static let mediaDuration = "mediaworker.media.duration_s"
    static let durationSeconds = "mediaworker.duration_s"
    static let version = "mediaworker.output.version"

    /// A rung group as an attribute: `1080p,720p,360p` (`h265-1080p` for a codec other than H.264).
    static func names(of rungs: [VideoRung]) -> String {
        rungs.map { ($0.codec == .h264 ? "" : "\($0.codec.rawValue)-") + "\($0.maxHeight)p" }.joined(separator: ",")
    }
}

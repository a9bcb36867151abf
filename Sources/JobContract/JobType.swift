/// The job types of the envelope (see contracts/job.schema.json).
public enum JobType: String, Sendable, CaseIterable, Codable {
    case transcode, thumbnails, keyframes, compose, probe
    /// Does nothing for `options.duration_ms`: a canary for a deployment and the queue benchmark's job.
    case noop

    /// Types whose envelope must name an input object.
    public var needsInput: Bool { self != .compose && self != .noop }
}

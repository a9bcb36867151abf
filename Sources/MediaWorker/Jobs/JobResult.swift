import JobContract
import QueueClient

/// What a handler hands back: the completion event's data, and, when it wrote outputs, their
/// version with what publication adds to it. Publication is one step after every versioned
/// object is uploaded: the stable names are written, then the job completes and its per-asset
/// events are appended with its terminal event.
public struct JobResult: Sendable {
    public var data: JSONValue
    /// Where the outputs were uploaded (nil: the job wrote nothing).
    public var version: OutputVersion?
    /// Stable names written at publication, last (the master playlist pointing into the version).
    public var stableObjects: [StableObject]
    /// Per-asset events (`KeyframeReady`, ...) appended just before the terminal event.
    public var assets: [(type: String, data: JSONValue)]
    /// Instead of completing, the job splits into these parts and waits for them (`data` is
    /// the `TranscodeSplit` event's); its output version must be recorded already.
    public var parts: [JobPart]?

    public init(data: JSONValue, version: OutputVersion? = nil, stableObjects: [StableObject] = [],
                assets: [(type: String, data: JSONValue)] = [], parts: [JobPart]? = nil) {
        self.data = data
        self.version = version
        self.stableObjects = stableObjects
        self.assets = assets
        self.parts = parts
    }
}

import Foundation
import JobContract
import Storage

// What the stills jobs (and a transcode's stills) share: the event form of an image, the
// options as the shim takes them.
extension StillImage {
    /// The event form of an uploaded still.
    func json(url: StorageLocation) -> JSONValue {
        .object(["url": .string(url.description), "time_s": .double((timeSeconds * 1000).rounded() / 1000),
                 "width": .integer(width), "height": .integer(height)])
    }
}

extension ImageSpec {
    init(_ options: StillImageOptions) {
        self.init(maxWidth: Int32(options.maxWidth), maxHeight: Int32(options.maxHeight), quality: Int32(options.quality))
    }
}

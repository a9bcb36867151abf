import Foundation

/// A directory written beside its final place and renamed into it when complete, so readers
/// never see half an output and a failure leaves nothing.
struct StagingDirectory {
    let path: String
    let destination: String

    init(for destination: String) throws(MediaError) {
        let manager = FileManager.default
        if manager.fileExists(atPath: destination) {
            throw MediaError(code: .outputFailed, message: "\(destination) already exists")
        }
        let parent = (destination as NSString).deletingLastPathComponent
        let name = (destination as NSString).lastPathComponent
        self.destination = destination
        self.path = (parent.isEmpty ? "." : parent) + "/.\(name).partial-\(UUID().uuidString.prefix(8))"
        do {
            try manager.createDirectory(atPath: path, withIntermediateDirectories: true)
        } catch {
            throw MediaError(code: .outputFailed, message: "cannot create \(path): \(error.localizedDescription)")
        }
    }

    /// Empties the staging directory for another attempt.
    func reset() throws(MediaError) {
        discard()
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        } catch {
            throw MediaError(code: .outputFailed, message: "cannot create \(path): \(error.localizedDescription)")
        }
    }

    func commit() throws(MediaError) {
        guard rename(path, destination) == 0 else {
            let reason = String(cString: strerror(errno))
            discard()
            throw MediaError(code: .outputFailed, message: "cannot move the output into \(destination): \(reason)")
        }
    }

    func discard() {
        try? FileManager.default.removeItem(atPath: path)
    }
}

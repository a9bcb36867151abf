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
        let (parent, name) = splitPath(destination)
        self.destination = destination
        self.path = parent + "/.\(name).partial-\(UUID().uuidString.prefix(8))"
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

/// A path's folder ("." when none) and last component, without Foundation's path APIs (whose
/// Linux build traps on some single-component paths).
func splitPath(_ path: String) -> (directory: String, name: String) {
    var trimmed = Substring(path)
    while trimmed.count > 1, trimmed.hasSuffix("/") { trimmed = trimmed.dropLast() }
    guard let slash = trimmed.lastIndex(of: "/") else { return (".", String(trimmed)) }
    let directory = trimmed[..<slash]
    return (directory.isEmpty ? "/" : String(directory), String(trimmed[trimmed.index(after: slash)...]))
}

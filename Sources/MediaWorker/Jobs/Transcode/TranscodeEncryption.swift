import Foundation
import JobContract
import Storage

/// `options.encryption` of a transcode: the key URL from the worker's template, the keys written to
/// the key store (or handed back in the event), and `data.encryption`.
enum TranscodeEncryption {
    static let notConfigured = "ENCRYPTION_NOT_CONFIGURED"

    /// Refuses before any download when the worker has no key URL to give players: no package could play.
    static func settings(_ options: EncryptionOptions?, keys: HLSKeySettings, fileID: String, version: OutputVersion) throws(JobFailure) -> SegmentEncryption? {
        guard let options else { return nil }
        guard keys.urlTemplate != nil else {
            throw JobFailure(code: notConfigured, message: "options.encryption needs the worker's MW_HLS_KEY_URL (the key server players ask)", retryable: false)
        }
        let versionID = version.id
        return SegmentEncryption(rotateEverySegments: options.rotateEverySegments) { keyID in
            keys.keyURL(keyID: keyID, fileID: fileID, version: versionID) ?? keyID
        }
    }

    /// Where a key is kept in the store: `<store>/<file_id>/<version>/<key_id>.key`.
    static func storeLocation(_ key: HLSKey, store: String, fileID: String, version: OutputVersion) throws(JobFailure) -> StorageLocation {
        do {
            return try StorageLocation(parsing: store).appending("\(fileID)/\(version.id)/\(key.id).key")
        } catch {
            throw JobFailure(code: "CONFIG_INVALID", message: "MW_HLS_KEY_STORE: \(error.message)", retryable: false)
        }
    }

    /// Writes the keys to the store before the package is published (a player must never find a
    /// playlist whose key is not there yet), and returns `data.encryption`.
    static func keep(_ keys: [HLSKey], options: EncryptionOptions, io: JobIO, settings: HLSKeySettings, version: OutputVersion) async throws(JobFailure) -> JSONValue {
        var entries: [JSONValue] = []
        let folder = io.directory + "/keys"
        try? FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        for key in keys {
            var entry: [String: JSONValue] = [
                "id": .string(key.id), "uri": .string(key.uri), "first_segment": .integer(key.firstSegment),
            ]
            if key.endSegment != Int.max { entry["end_segment"] = .integer(key.endSegment) }
            if let store = settings.store {
                let location = try storeLocation(key, store: store, fileID: io.fileID, version: version)
                let path = folder + "/" + key.id
                guard FileManager.default.createFile(atPath: path, contents: Data(key.bytes), attributes: [.posixPermissions: 0o600]) else {
                    throw JobFailure(code: "JOB_INTERNAL", message: "cannot write a key file in the job's folder", retryable: true)
                }
                do {
                    try await io.pipeline.storage.upload(file: path, to: location, contentType: "application/octet-stream",
                                                         cacheControl: "private, no-store", metadata: [:])
                } catch {
                    throw JobFailure(error)
                }
                try? FileManager.default.removeItem(atPath: path)
                entry["stored_at"] = .string(location.description)
            } else {
                // No store: the platform's key service takes the key from the event.
                entry["key_hex"] = .string(key.hex)
            }
            entries.append(.object(entry))
        }
        return .object([
            "method": .string(options.method.rawValue), "rotate_every_segments": .integer(options.rotateEverySegments),
            "keys": .array(entries),
        ])
    }
}

import Crypto
import Foundation
import JobContract
import QueueClient
import Storage

/// Where one attempt of a job writes: `<output>/<file_id>/v/<version>/`, a prefix no other
/// attempt or job ever writes to, so what one attempt uploads can be deleted without touching
/// what another published. Publication then writes the few stable names (the master playlist
/// at `<output>/<file_id>/hls/master.m3u8`) that point into the version.
public struct OutputVersion: Sendable, Equatable {
    /// `20261128T101500Z-3f9a1c2e`: sorts by creation time, unique by its random part.
    public let id: String
    /// `<output>/<file_id>/`.
    public let filePrefix: StorageLocation
    /// One job type's outputs for one file: what a publication replaces.
    public let slot: String
    /// The stable master playlist, for job types that have one.
    public let stableMaster: StorageLocation?

    /// Where its objects go: `<output>/<file_id>/v/<id>/`, or a part's folder in its job's version.
    public let url: StorageLocation

    public init(id: String = OutputVersion.newID(), filePrefix: StorageLocation, jobType: String, hasStableMaster: Bool) {
        self.id = id
        self.filePrefix = filePrefix
        self.slot = Self.slot(jobType: jobType, filePrefix: filePrefix)
        self.stableMaster = hasStableMaster ? filePrefix.appending(Self.stableMasterPath) : nil
        self.url = filePrefix.appending("v/\(id)/")
    }

    /// The same version again, as recorded (a split job's stitch writes into the version its parts filled).
    public init(id: String, filePrefix: StorageLocation, slot: String, url: StorageLocation, stableMaster: StorageLocation?) {
        self.id = id
        self.filePrefix = filePrefix
        self.slot = slot
        self.url = url
        self.stableMaster = stableMaster
    }

    /// What one attempt of a part of a split job writes: a folder of its own inside its job's
    /// version (`<version>/parts/<asset>-<random>/`), recorded like any version; it joins the
    /// job's version when the part completes, and is trash otherwise. It publishes nothing alone.
    public init(partOf parent: StorageLocation, parentID: String, filePrefix: StorageLocation, asset: String) {
        let random = (0..<4).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined()
        self.id = parentID + "." + asset + "-" + random
        self.filePrefix = filePrefix
        self.slot = ""
        self.stableMaster = nil
        self.url = parent.appending("parts/\(asset)-\(random)/")
    }

    /// The version's own master, which the stable one copies with its URIs pointed into the version.
    public var masterInVersion: StorageLocation { url.appending(Self.stableMasterPath) }

    public var record: OutputVersionRecord {
        OutputVersionRecord(id: id, url: url.description, slot: slot, stableMaster: stableMaster?.description)
    }

    public static let stableMasterPath = "hls/master.m3u8"

    /// From the stable master's folder (`<file>/hls/`) to the version's (`<file>/v/<id>/hls/`).
    public static func relativePrefix(version: String) -> String { "../v/\(version)/hls/" }

    public static func newID(now: Date = Date()) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let c = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: now)
        let stamp = String(format: "%04d%02d%02dT%02d%02d%02dZ", c.year ?? 0, c.month ?? 0, c.day ?? 0, c.hour ?? 0, c.minute ?? 0, c.second ?? 0)
        let random = (0..<4).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined()
        return stamp + "-" + random
    }

    static func slot(jobType: String, filePrefix: StorageLocation) -> String {
        let digest = Insecure.SHA1.hash(data: Data("\(jobType) \(filePrefix.description)".utf8))
        return digest.map { String(format: "%02x", $0) }.joined()
    }
}

extension MasterPlaylist {
    /// The master text with every URI (variant lines and `URI="..."` attributes) put behind
    /// `prefix`: the stable master is the version's own, pointed into the version.
    static func pointing(_ text: String, into prefix: String) -> String {
        func pointed(_ uri: String) -> String {
            uri.contains("://") || uri.hasPrefix("/") ? uri : prefix + uri
        }
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map { line -> String in
            let line = String(line)
            if line.isEmpty { return line }
            if !line.hasPrefix("#") { return pointed(line) }
            guard let start = line.range(of: "URI=\"") else { return line }
            guard let end = line[start.upperBound...].firstIndex(of: "\"") else { return line }
            return String(line[..<start.upperBound]) + pointed(String(line[start.upperBound..<end])) + String(line[end...])
        }
        return lines.joined(separator: "\n")
    }

    /// Whether a (stable) master points into `version`.
    static func points(_ text: String, into version: String) -> Bool {
        text.contains("v/\(version)/")
    }
}

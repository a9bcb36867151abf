import Foundation
import QueueClient
import RedisClient

/// The promises of docs/queue.md, checked on what Redis holds and on every event appended:
/// 1. every job life has exactly one terminal event, and no event of that job after it;
/// 2. a part acts on its parent only while it belongs to the parent's current split;
/// 3. once the schedule quiesces every job, parents included, has ended;
/// 4. a published version is never deleted while current, and the stable master points to
///    the current version once something is published;
/// 5. after quiescence and the janitor, no object lies outside a published version, no trash;
/// 6. after retention, Redis holds no key without an owner.
struct ProtocolInvariants {
    let explorer: ProtocolExplorer

    var base: String { explorer.base }
    var client: RedisClient { explorer.client }

    static func isTerminal(_ type: String) -> Bool {
        type.hasSuffix("Completed") || type.hasSuffix("Failed") || type.hasSuffix("Canceled")
    }

    func events() async throws -> [(type: String, job: String, data: [String: Any])] {
        let reply = try await client.command(["XRANGE", explorer.operatorQueue.eventsKey, "-", "+"])
        return (reply.array ?? []).compactMap { entry in
            let fields = entry.array?[1].array?.map { $0.string ?? "" } ?? []
            guard let at = fields.firstIndex(of: "event"), at + 1 < fields.count,
                  let event = try? JSONSerialization.jsonObject(with: Data(fields[at + 1].utf8)) as? [String: Any] else { return nil }
            return (event["type"] as? String ?? "", event["job_id"] as? String ?? "", event["data"] as? [String: Any] ?? [:])
        }
    }

    func checkQuiesced() async throws {
        // 3: everything ended.
        let left = try await explorer.unfinished()
        if !left.isEmpty { throw ProtocolViolation(invariant: 3, message: "jobs never ended: \(left)") }

        // 1 and 2, over the whole event stream.
        var ended: [String: Bool] = [:]
        var children: [String: Set<String>] = [:]
        var partEnded: Set<String> = []
        for (index, event) in try await events().enumerated() {
            let (type, job, data) = event
            let at = "event #\(index) \(type) of \(job)"
            if type.hasPrefix("TranscodeChunk") {
                let part = data["chunk_job_id"] as? String ?? ""
                if ended[job] == true { throw ProtocolViolation(invariant: 1, message: "\(at) (part \(part)) after its terminal event") }
                if !(children[job] ?? []).contains(part) {
                    throw ProtocolViolation(invariant: 2, message: "\(at): part \(part) is not of its current split \(children[job] ?? []) (data \(data))")
                }
                if partEnded.contains(part) { throw ProtocolViolation(invariant: 1, message: "\(at): a second terminal event of part \(part)") }
                partEnded.insert(part)
                continue
            }
            if partEnded.contains(job) { throw ProtocolViolation(invariant: 1, message: "\(at): the part ended already") }
            if ended[job] == true {
                guard type == "JobRequeued" else { throw ProtocolViolation(invariant: 1, message: "\(at) after its terminal event") }
                ended[job] = false
                continue
            }
            if type == "TranscodeSplit" { children[job] = Set(data["parts"] as? [String] ?? []) }
            if Self.isTerminal(type) { ended[job] = true }
        }
        for id in explorer.producerIDs where ended[id] != true {
            throw ProtocolViolation(invariant: 1, message: "job \(id) has no terminal event for its last life")
        }

        // 4: the stable master of a published slot points at the current version, which exists.
        for file in explorer.files {
            let current = try await client.command(["HGET", base + "slot:slot-\(file)", "current"]).string ?? ""
            let stable = explorer.storage.stable[file]
            if current.isEmpty {
                if let stable { throw ProtocolViolation(invariant: 4, message: "\(file): a master points into \(stable) though nothing is published") }
                continue
            }
            guard stable == current else {
                throw ProtocolViolation(invariant: 4, message: "\(file): the master points into \(stable ?? "nothing"), the current version is \(current)")
            }
            guard explorer.storage.exists(version: current, file: file) else {
                throw ProtocolViolation(invariant: 4, message: "\(file): the current version \(current) has no objects")
            }
        }

        // 5: no orphans, no trash.
        let currents = try await currentVersions()
        let orphans = explorer.storage.objects.filter { key in
            let parts = key.split(separator: "/")
            return parts.count < 3 || !currents.contains(String(parts[2]))
        }
        if !orphans.isEmpty { throw ProtocolViolation(invariant: 5, message: "objects outside every published version: \(orphans.sorted())") }
        let trash = try await client.command(["ZCARD", base + "trash"]).integer ?? 0
        if trash > 0 { throw ProtocolViolation(invariant: 5, message: "\(trash) versions left in the trash") }
    }

    func currentVersions() async throws -> Set<String> {
        var versions: Set<String> = []
        for file in explorer.files {
            if let current = try await client.command(["HGET", base + "slot:slot-\(file)", "current"]).string, !current.isEmpty {
                versions.insert(current)
            }
        }
        return versions
    }

    /// 6: what may outlive every job: the queue's counters, stream and wake-up list, and each
    /// published slot with its current version's record (docs/queue.md, "What Redis keeps").
    func checkNoLeaks() async throws {
        let currents = try await currentVersions()
        let fixed: Set<String> = ["events", "stats", "token", "marker", "claimers"]
        var leaks: [String] = []
        for key in try await explorer.scan(base + "*") {
            let name = String(key.dropFirst(base.count))
            if fixed.contains(name) { continue }
            if name.hasPrefix("slot:") {
                let current = try await client.command(["HGET", key, "current"]).string ?? ""
                if !current.isEmpty { continue }
            }
            if name.hasPrefix("version:"), currents.contains(String(name.dropFirst("version:".count))) { continue }
            leaks.append(name)
        }
        if !leaks.isEmpty { throw ProtocolViolation(invariant: 6, message: "keys without an owner after retention: \(leaks.sorted())") }
    }
}

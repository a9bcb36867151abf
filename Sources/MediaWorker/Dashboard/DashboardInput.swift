import Foundation
import Hummingbird
import QueueClient
import RedisClient

/// A request value the dashboard refuses: answered 400 with what was wrong, never passed on to
/// Redis or to arithmetic that could trap.
struct DashboardInputError: Error, CustomStringConvertible {
    let description: String
}

/// Every value a request carries, checked and bounded before use.
enum DashboardInput {
    /// Pages past this are refused (50 jobs a page: 50 million jobs).
    static let maxPage = 1_000_000
    static let maxIDLength = 512
    static let maxTermLength = 512
    static let maxQueueLength = 128

    /// `page`: a whole number from 1 to `maxPage`; absent: 1.
    static func page(_ text: String?) throws(DashboardInputError) -> Int {
        guard let text, !text.isEmpty else { return 1 }
        guard text.utf8.count <= 7, text.utf8.allSatisfy({ (48...57).contains($0) }), let page = Int(text), page >= 1, page <= maxPage else {
            throw DashboardInputError(description: "page: a whole number from 1 to \(maxPage)")
        }
        return page
    }

    /// A queue name as `MW_QUEUES` takes them (letters, digits, '-', '_', '.'); absent: nil.
    static func queue(_ text: String?) throws(DashboardInputError) -> String? {
        guard let text, !text.isEmpty else { return nil }
        guard text.count <= maxQueueLength, text.allSatisfy({ ($0.isLetter || $0.isNumber || "-_.".contains($0)) && $0.isASCII }) else {
            throw DashboardInputError(description: "queue: letters, digits, '-', '_' or '.', at most \(maxQueueLength)")
        }
        return text
    }

    /// `state`: one of the browsable states; absent: waiting.
    static func state(_ text: String?) throws(DashboardInputError) -> BrowsableState {
        guard let text, !text.isEmpty else { return .waiting }
        guard let state = BrowsableState(rawValue: text) else {
            throw DashboardInputError(description: "state: one of " + BrowsableState.allCases.map(\.rawValue).joined(separator: ", "))
        }
        return state
    }

    /// A job id (or search term): present, at most `maxIDLength` bytes, no control characters.
    static func id(_ text: String?, name: String = "id") throws(DashboardInputError) -> String {
        guard let text, !text.isEmpty else { throw DashboardInputError(description: "\(name): missing") }
        return try term(text, name: name)
    }

    static func term(_ text: String, name: String = "q") throws(DashboardInputError) -> String {
        guard text.utf8.count <= maxIDLength, !text.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw DashboardInputError(description: "\(name): at most \(maxIDLength) bytes, no control characters")
        }
        return text
    }

    /// A stream entry id `<ms>-<seq>` (or `<ms>`, or "0"), each part a 64-bit unsigned number.
    static func streamID(_ text: String?, name: String = "stream_id") throws(DashboardInputError) -> String {
        guard let text, !text.isEmpty else { throw DashboardInputError(description: "\(name): missing") }
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count <= 2, parts.allSatisfy({ !$0.isEmpty && $0.utf8.count <= 20 && $0.utf8.allSatisfy { (48...57).contains($0) } && UInt64($0) != nil }) else {
            throw DashboardInputError(description: "\(name): a stream id such as 1700000000000-0")
        }
        return text
    }

    /// A webhook endpoint id: 16 lowercase hex digits.
    static func endpoint(_ text: String?) throws(DashboardInputError) -> String {
        guard let text, text.utf8.count == 16, text.utf8.allSatisfy({ (48...57).contains($0) || (97...102).contains($0) }) else {
            throw DashboardInputError(description: "endpoint: 16 hex digits")
        }
        return text
    }
}

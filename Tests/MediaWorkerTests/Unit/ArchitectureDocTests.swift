import Foundation
import TestSupport
import Testing

/// docs/architecture.md is the map of the rooms: it must name every folder that exists, name no
/// folder that is gone, point only at paths that exist, and say truly what each target imports.
@Suite("docs/architecture.md matches the tree")
struct ArchitectureDocTests {
    static let root = ProjectPaths.root
    static let document = (try? String(contentsOf: root.appendingPathComponent("docs/architecture.md"), encoding: .utf8)) ?? ""

    /// The rows of "The rooms": folder → what it may import.
    static var rooms: [(folder: String, mayImport: String)] {
        guard let start = document.range(of: "## The rooms") else { return [] }
        let section = document[start.upperBound...].prefix { _ in true }
        var rows: [(String, String)] = []
        for line in section.split(whereSeparator: \.isNewline) {
            if line.hasPrefix("## ") { break }
            let cells = line.split(separator: "|", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            guard cells.count >= 4, cells[1].hasPrefix("`"), cells[1].hasSuffix("`") else { continue }
            rows.append((String(cells[1].dropFirst().dropLast()), cells[3]))
        }
        return rows
    }

    static func directories(under folder: String) -> [String] {
        let base = root.appendingPathComponent(folder)
        guard let walker = FileManager.default.enumerator(at: base, includingPropertiesForKeys: [.isDirectoryKey], options: [.skipsHiddenFiles]) else { return [] }
        var found: [String] = []
        for case let url as URL in walker where (try? url.resourceValues(forKeys: [.isDirectoryKey]).isDirectory) == true {
            found.append(folder + "/" + url.path.dropFirst(base.path.count + 1))
        }
        return found
    }

    @Test("every folder the table names exists, and every folder of Sources/ and Tests/ is named")
    func foldersMatch() {
        let named = Set(Self.rooms.map(\.folder))
        #expect(named.count > 40, "the table was not found or lost rows")
        for folder in named {
            var isDirectory: ObjCBool = false
            let exists = FileManager.default.fileExists(atPath: Self.root.appendingPathComponent(folder).path, isDirectory: &isDirectory)
            #expect(exists && isDirectory.boolValue, "docs/architecture.md names \(folder), which is gone")
        }
        var actual: [String] = []
        for top in ["Sources", "Tests"] {
            let entries = (try? FileManager.default.contentsOfDirectory(atPath: Self.root.appendingPathComponent(top).path)) ?? []
            for entry in entries where !entry.hasPrefix(".") {
                actual.append(top + "/" + entry)
                actual += Self.directories(under: top + "/" + entry)
            }
        }
        for folder in actual where !named.contains(folder) {
            Issue.record("\(folder) exists but docs/architecture.md does not say what lives there")
        }
    }

    @Test("every path the page points at exists")
    func pathsExist() {
        let pattern = /`((?:Sources|Tests|docs|contracts|scripts)\/[A-Za-z0-9_.\/+-]+)`/
        var checked = 0
        for match in Self.document.matches(of: pattern) {
            let path = String(match.1)
            checked += 1
            #expect(FileManager.default.fileExists(atPath: Self.root.appendingPathComponent(path).path), "docs/architecture.md points at \(path), which is gone")
        }
        #expect(checked > 50)
    }

    @Test("each Swift target imports only what its row allows")
    func importsAllowed() throws {
        var targets = 0
        for (folder, allowed) in Self.rooms where folder.hasPrefix("Sources/") && folder.split(separator: "/").count == 2 {
            let files = FileManager.default.enumerator(atPath: Self.root.appendingPathComponent(folder).path)?
                .compactMap { $0 as? String }.filter { $0.hasSuffix(".swift") } ?? []
            guard !files.isEmpty else { continue }
            targets += 1
            let modules = Set(allowed.split(separator: ",").compactMap { $0.split(separator: " ").first.map(String.init) })
            for file in files {
                let text = try String(contentsOf: Self.root.appendingPathComponent(folder + "/" + file), encoding: .utf8)
                for line in text.split(whereSeparator: \.isNewline) {
                    let words = line.split(separator: " ").filter { !$0.hasPrefix("@") }
                    guard words.first == "import", words.count >= 2 else { continue }
                    let module = String(words.count >= 3 ? words[2] : words[1]).split(separator: ".").first.map(String.init) ?? ""
                    #expect(modules.contains(module), "\(folder)/\(file) imports \(module), which docs/architecture.md does not allow \(folder)")
                }
            }
        }
        #expect(targets >= 7)
    }
}

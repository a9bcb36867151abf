import Foundation

/// Objects as files under configured roots (`file:///...`): every path is resolved (symlinks
/// and `..`) and must stay inside a root; writes go to a temporary file renamed into place.
/// Local files carry no user metadata. Every call's file work runs on the blocking I/O pool.
public struct LocalStorage: Storage {
    /// Real paths (symlinks resolved) of the roots.
    public let roots: [String]

    public init(roots: [String]) throws(StorageError) {
        var resolved: [String] = []
        for root in roots {
            try? FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
            guard let real = Self.realPath(root) else {
                throw StorageError(code: .notConfigured, message: "storage root \(root) does not exist")
            }
            resolved.append(real)
        }
        self.roots = resolved
    }

    public func head(_ location: StorageLocation) async throws(StorageError) -> ObjectInfo {
        try await BlockingIO.run { () throws(StorageError) in try headNow(location) }
    }

    func headNow(_ location: StorageLocation) throws(StorageError) -> ObjectInfo {
        let path = try confined(location, forWriting: false)
        var info = stat()
        guard stat(path, &info) == 0 else {
            throw StorageError(code: errno == ENOENT ? .notFound : .io, message: "\(location): \(String(cString: strerror(errno)))")
        }
        guard (info.st_mode & S_IFMT) == S_IFREG else { throw StorageError(code: .notFound, message: "\(location) is not a file") }
        return ObjectInfo(size: Int64(info.st_size))
    }

    public func download(_ location: StorageLocation, to path: String, maxBytes: Int64?) async throws(StorageError) -> ObjectInfo {
        try await BlockingIO.run { () throws(StorageError) in
            let info = try headNow(location)
            if let maxBytes, info.size > maxBytes {
                throw StorageError(code: .tooLarge, message: "\(location) is \(info.size) bytes, over the limit of \(maxBytes)")
            }
            try Self.copy(from: try confined(location, forWriting: false), to: path, limit: maxBytes)
            return info
        }
    }

    /// Local files carry no content type or cache policy: whatever serves them decides.
    public func upload(file path: String, to location: StorageLocation, contentType: String?, cacheControl: String?,
                       metadata: [String: String]) async throws(StorageError) {
        try await BlockingIO.run { () throws(StorageError) in try uploadNow(file: path, to: location) }
    }

    func uploadNow(file path: String, to location: StorageLocation) throws(StorageError) {
        // A delete may prune the folder between its creation and the write: then once more.
        for attempt in 1...3 {
            let destination = try confined(location, forWriting: true)
            let folder = String(destination[..<destination.lastIndex(of: "/")!])
            do {
                try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            } catch {
                throw StorageError(code: .io, message: "cannot create the folder of \(location)")
            }
            // Created folders are checked again (a symlink planted meanwhile must not lead out) and
            // the path as resolved now is the one written.
            do {
                try Self.copy(from: path, to: try confined(location, forWriting: true), limit: nil)
                return
            } catch where error.code == .io && attempt < 3 && !FileManager.default.fileExists(atPath: folder) {
                continue
            }
        }
    }

    /// Removes the objects themselves: a symlink is unlinked, never followed (its target may be
    /// another object, or a published one). Folders left empty are removed up to the root, as
    /// an object store has no folders.
    public func delete(_ locations: [StorageLocation]) async throws(StorageError) {
        try await BlockingIO.run { () throws(StorageError) in try deleteNow(locations) }
    }

    func deleteNow(_ locations: [StorageLocation]) throws(StorageError) {
        for location in locations {
            let (folder, name) = try confinedEntry(location)
            let path = folder + "/" + name
            if unlink(path) != 0 && errno != ENOENT {
                throw StorageError(code: .io, message: "cannot delete \(location): \(String(cString: strerror(errno)))")
            }
            pruneEmptyFolders(from: folder)
        }
    }

    /// `location`'s folder (real path, inside a root) and its last component, not resolved.
    func confinedEntry(_ location: StorageLocation) throws(StorageError) -> (folder: String, name: String) {
        guard case .file(let path) = location else { throw StorageError(code: .invalidURL, message: "\(location) is not a file:// location") }
        guard let slash = path.lastIndex(of: "/"), path.index(after: slash) < path.endIndex else {
            throw StorageError(code: .invalidURL, message: "\(location) names no object")
        }
        let name = String(path[path.index(after: slash)...])
        guard name != "..", name != "." else { throw StorageError(code: .outsideRoot, message: "\(location): '..' and '.' are not allowed") }
        let folder = try confined(.file(path: String(path[..<slash]) + "/."), forWriting: true, allowingRoot: true)
        return (String(folder.dropLast(2)), name)
    }

    private func pruneEmptyFolders(from start: String) {
        var folder = start
        while !roots.contains(folder), roots.contains(where: { folder.hasPrefix($0 == "/" ? "/" : $0 + "/") }) {
            guard rmdir(folder) == 0 else { return }  // not empty (or gone): stop
            guard let slash = folder.lastIndex(of: "/"), slash > folder.startIndex else { return }
            folder = String(folder[..<slash])
        }
    }

    public func list(prefix: StorageLocation) async throws(StorageError) -> [ListedObject] {
        try await BlockingIO.run { () throws(StorageError) in try listNow(prefix: prefix) }
    }

    func listNow(prefix: StorageLocation) throws(StorageError) -> [ListedObject] {
        guard case .file(let text) = prefix else { throw StorageError(code: .invalidURL, message: "\(prefix) is not a file:// location") }
        let folder = text.hasSuffix("/") ? String(text.dropLast()) : String(text[..<(text.lastIndex(of: "/") ?? text.startIndex)])
        let base = try confined(.file(path: folder + "/x"), forWriting: true)
        let directory = String(base.dropLast(2))
        guard let walker = FileManager.default.enumerator(atPath: directory) else { return [] }
        var found: [ListedObject] = []
        while let relative = walker.nextObject() as? String {
            let path = directory + "/" + relative
            var info = stat()
            guard lstat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { continue }
            let logical = folder + "/" + relative
            if logical.hasPrefix(text) { found.append(ListedObject(location: .file(path: logical), size: Int64(info.st_size))) }
        }
        return found.sorted { $0.location.description < $1.location.description }
    }

    /// The real path of `location`, refused unless it is inside a root. For writing, the
    /// deepest existing ancestor is resolved instead (the file may not exist yet).
    func confined(_ location: StorageLocation, forWriting: Bool, allowingRoot: Bool = false) throws(StorageError) -> String {
        guard case .file(let path) = location else { throw StorageError(code: .invalidURL, message: "\(location) is not a file:// location") }
        var components = path.split(separator: "/", omittingEmptySubsequences: true)
        // A trailing "." (used by `confinedEntry` to resolve a folder itself) names the folder.
        let folderItself = allowingRoot && components.last == "."
        if folderItself { components.removeLast() }
        guard !components.contains(where: { $0 == ".." || $0 == "." }) else {
            throw StorageError(code: .outsideRoot, message: "\(location): '..' and '.' are not allowed")
        }
        // Resolve the longest existing prefix, then append the rest.
        var existing = components.count
        var resolved: String? = nil
        while existing >= 0 {
            let candidate = "/" + components.prefix(existing).joined(separator: "/")
            if let real = Self.realPath(candidate) {
                resolved = real + (existing < components.count ? "/" + components.dropFirst(existing).joined(separator: "/") : "")
                break
            }
            existing -= 1
        }
        // Strictly inside a root: the root itself is no object (its temporary file would land outside).
        guard let real = resolved,
              roots.contains(where: { (folderItself && real == $0) || (real != $0 && real.hasPrefix($0 == "/" ? "/" : $0 + "/")) }) else {
            throw StorageError(code: .outsideRoot, message: "\(location) is outside the storage roots")
        }
        if !forWriting, existing < components.count {
            throw StorageError(code: .notFound, message: "\(location) does not exist")
        }
        return folderItself ? real + "/." : real
    }

    static func realPath(_ path: String) -> String? {
        guard let pointer = realpath(path, nil) else { return nil }
        defer { free(pointer) }
        return String(cString: pointer)
    }

    /// Copies through a temporary file beside the destination, renamed into place.
    static func copy(from source: String, to destination: String, limit: Int64?) throws(StorageError) {
        let temporary = destination + ".part-\(UUID().uuidString.prefix(8))"
        let input = open(source, O_RDONLY | O_CLOEXEC)
        guard input >= 0 else { throw StorageError(code: .io, message: "cannot open \(source): \(String(cString: strerror(errno)))") }
        defer { close(input) }
        let output = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard output >= 0 else { throw StorageError(code: .io, message: "cannot create \(temporary): \(String(cString: strerror(errno)))") }
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        var failed = false
        var total: Int64 = 0
        var tooLarge = false
        while true {
            let n = buffer.withUnsafeMutableBytes { read(input, $0.baseAddress!, $0.count) }
            if n == 0 { break }
            if n < 0 { failed = true; break }
            total += Int64(n)
            // The file may have grown since its size was checked.
            if let limit, total > limit { tooLarge = true; failed = true; break }
            let written = buffer.withUnsafeBytes { bytes -> Bool in
                var done = 0
                while done < n {
                    let w = write(output, bytes.baseAddress! + done, n - done)
                    if w <= 0 { return false }
                    done += w
                }
                return true
            }
            if !written { failed = true; break }
        }
        if fsync(output) != 0 { failed = true }
        close(output)
        guard !failed, rename(temporary, destination) == 0 else {
            unlink(temporary)
            if tooLarge { throw StorageError(code: .tooLarge, message: "\(source) grew over the limit of \(limit ?? 0) bytes") }
            throw StorageError(code: .io, message: "cannot write \(destination)")
        }
    }
}

import ArgumentParser
import Foundation
import JobContract
import Storage

/// `media-worker storage ...`: the worker's storage from the command line, configured by the
/// same environment as the daemon (MW_STORAGE_ROOT, AWS_*, MW_S3_BUCKETS).
struct StorageCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "storage", abstract: "Read and write objects as the worker does (s3:// or file://).",
        subcommands: [Head.self, Get.self, Put.self, PutTree.self, List.self, Remove.self, Presign.self, WhoAmI.self])

    /// Runs `body` with the configured storage; a storage error is one line and exit status 1.
    static func withStorage(_ body: (StorageRouter) async throws(StorageError) -> Void) async throws {
        let configuration = try WorkerConfiguration.forCommand()
        let storage: StorageRouter
        do {
            storage = try StorageRouter(configuration: configuration)
        } catch {
            printError("error \(error.code.rawValue): \(error.message)")
            throw ExitCode(1)
        }
        var failure: StorageError?
        do {
            try await body(storage)
        } catch {
            failure = error
        }
        await storage.shutdown()
        if let failure {
            printError("error \(failure.code.rawValue)\(failure.s3Code.map { " (\($0))" } ?? ""): \(failure.message)")
            throw ExitCode(1)
        }
    }

    static func location(_ text: String) throws -> StorageLocation {
        do {
            return try StorageLocation(parsing: text)
        } catch {
            throw ValidationError(error.message)
        }
    }

    static func infoLine(_ location: StorageLocation, _ info: ObjectInfo) -> String {
        JSONValue.object([
            "url": .string(location.description), "size": .integer(info.size),
            "metadata": .object(info.metadata.mapValues { .string($0) }),
            "content_type": info.contentType.map { .string($0) } ?? .null,
        ]).jsonText
    }

    /// `storage whoami`: which source of the credential chain gave S3's credentials, the key id,
    /// region and endpoint; never the secret or the session token. Exit status 1 when the source
    /// fails (saying which and why).
    struct WhoAmI: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "whoami", abstract: "Which credentials S3 requests are signed with, and where they come from (no secrets).")
        func run() async throws {
            try await StorageCommand.withStorage { (storage) throws(StorageError) in
                guard let s3 = storage.s3 else {
                    throw StorageError(code: .notConfigured, message: "no AWS credentials are set up (see docs/storage.md: the credential chain)")
                }
                let credentials = try await s3.configuration.credentialProvider.credentials()
                writeLine(JSONValue.object([
                    "source": .string(s3.configuration.credentialProvider.source), "access_key_id": .string(credentials.accessKeyID),
                    "temporary": .bool(credentials.sessionToken != nil), "region": .string(s3.configuration.region),
                    "endpoint": .string(s3.configuration.endpoint.absoluteString),
                ]).jsonText)
            }
        }
    }

    struct Head: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Size and metadata of an object.")
        @Argument var url: String
        func run() async throws {
            let location = try StorageCommand.location(url)
            try await StorageCommand.withStorage { (storage) throws(StorageError) in
                writeLine(StorageCommand.infoLine(location, try await storage.head(location)))
            }
        }
    }

    struct Get: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Download an object to a file (streamed).")
        @Argument var url: String
        @Argument var file: String
        @Option(help: "Refuse objects larger than this many bytes.") var maxBytes: Int64?
        @Option(help: "Only these bytes, e.g. 0-1023 (s3:// only).") var range: String?
        func run() async throws {
            let location = try StorageCommand.location(url)
            let bounds = try range.map { text -> ClosedRange<Int64> in
                let parts = text.split(separator: "-").compactMap { Int64($0) }
                guard parts.count == 2, parts[0] <= parts[1] else { throw ValidationError("--range takes FIRST-LAST") }
                return parts[0]...parts[1]
            }
            try await StorageCommand.withStorage { (storage) throws(StorageError) in
                let info: ObjectInfo
                if let bounds, let s3 = storage.s3, case .s3 = location {
                    info = try await s3.download(location, to: file, maxBytes: maxBytes, range: bounds)
                } else {
                    info = try await storage.download(location, to: file, maxBytes: maxBytes)
                }
                writeLine(StorageCommand.infoLine(location, info))
            }
        }
    }

    struct Put: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Upload a file (multipart when large).")
        @Argument var file: String
        @Argument var url: String
        @Option(help: "Content-Type.") var contentType: String?
        @Option(name: .customLong("meta"), help: "User metadata NAME=VALUE (repeatable).") var metadata: [String] = []
        func run() async throws {
            let location = try StorageCommand.location(url)
            var values: [String: String] = [:]
            for item in metadata {
                guard let equals = item.firstIndex(of: "=") else { throw ValidationError("--meta takes NAME=VALUE") }
                values[String(item[..<equals])] = String(item[item.index(after: equals)...])
            }
            let fixed = values
            try await StorageCommand.withStorage { (storage) throws(StorageError) in
                try await storage.upload(file: file, to: location, contentType: contentType, metadata: fixed)
                writeLine(StorageCommand.infoLine(location, try await storage.head(location)))
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "ls", abstract: "Objects under a prefix.")
        @Argument var prefix: String
        func run() async throws {
            let location = try StorageCommand.location(prefix)
            try await StorageCommand.withStorage { (storage) throws(StorageError) in
                for object in try await storage.list(prefix: location) {
                    writeLine(JSONValue.object(["url": .string(object.location.description), "size": .integer(object.size)]).jsonText)
                }
            }
        }
    }

    struct PutTree: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "put-tree",
            abstract: "Upload every file under a folder to a prefix as a job publishes: in parallel, playlists last.")
        @Argument var folder: String
        @Argument var prefix: String
        @Option(help: "Uploads in flight at once (MW_UPLOAD_CONCURRENCY by default).") var concurrency: Int?
        func run() async throws {
            let location = try StorageCommand.location(prefix.hasSuffix("/") ? prefix : prefix + "/")
            let configuration = try WorkerConfiguration.forCommand()
            let uploads = concurrency ?? configuration.uploadConcurrency
            guard (1...64).contains(uploads) else { throw ValidationError("--concurrency must be 1-64") }
            let folder = self.folder
            try await StorageCommand.withStorage { (storage) throws(StorageError) in
                let started = ContinuousClock.now
                do throws(JobFailure) {
                    try await OutputUploader(storage: storage, concurrency: uploads, headers: configuration.objectHeaders).upload(folder, to: location)
                } catch {
                    throw StorageError(code: StorageError.Code(rawValue: error.code) ?? .requestFailed, message: error.message)
                }
                let elapsed = ContinuousClock.now - started
                writeLine(JSONValue.object(["prefix": .string(location.description), "concurrency": .integer(uploads),
                                            "seconds": .double((elapsed.seconds * 1000).rounded() / 1000)]).jsonText)
            }
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "rm", abstract: "Delete objects (batched for S3).")
        @Argument var urls: [String]
        func run() async throws {
            let locations = try urls.map(StorageCommand.location)
            try await StorageCommand.withStorage { (storage) throws(StorageError) in
                try await storage.delete(locations)
            }
        }
    }

    struct Presign: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print a presigned URL for an s3:// object.")
        @Argument var url: String
        @Option(help: "GET or PUT.") var method = "GET"
        @Option(help: "Seconds the URL stays valid.") var expires = 3600
        @Option(name: .customLong("meta"), help: "Metadata the PUT must carry, NAME=VALUE (signed).") var metadata: [String] = []
        func run() async throws {
            let location = try StorageCommand.location(url)
            let headers = metadata.compactMap { item -> (String, String)? in
                guard let equals = item.firstIndex(of: "=") else { return nil }
                return ("x-amz-meta-" + item[..<equals].lowercased(), String(item[item.index(after: equals)...]))
            }
            try await StorageCommand.withStorage { (storage) throws(StorageError) in
                guard let s3 = storage.s3 else { throw StorageError(code: .notConfigured, message: "S3 is not configured") }
                writeLine(try await s3.presignedURL(location, method: method.uppercased(), expires: expires, headers: headers))
            }
        }
    }
}

import Crypto
import Foundation
@testable import Storage
import TestSupport
import Testing

/// S3 against moto_server with signature checking on (keys made through its IAM API).
@Suite("S3 storage against moto with SigV4 checked", .serialized)
struct S3StorageTests {
    static let buckets = ["media", "raw"]

    func storage(_ moto: MotoServer, secret: String? = nil, configure: (inout S3Configuration) -> Void = { _ in }) -> S3Storage {
        var configuration = S3Configuration(
            credentials: .init(accessKeyID: moto.credentials.accessKeyID, secretAccessKey: secret ?? moto.credentials.secretAccessKey),
            region: moto.credentials.region, endpoint: URL(string: moto.endpoint)!, allowedBuckets: Set(Self.buckets))
        configure(&configuration)
        return S3Storage(configuration: configuration)
    }

    func withS3(_ body: (MotoServer, S3Storage, String) async throws -> Void) async throws {
        try await MotoServer.with(buckets: Self.buckets) { moto in
            let s3 = storage(moto)
            let directory = try makeTestDirectory("s3")
            do {
                try await body(moto, s3, directory.path)
            } catch {
                await s3.shutdown()
                try? FileManager.default.removeItem(at: directory)
                throw error
            }
            await s3.shutdown()
            try? FileManager.default.removeItem(at: directory)
        }
    }

    func randomFile(_ path: String, bytes: Int) throws -> Data {
        let data = try #require(FileHandle(forReadingAtPath: "/dev/urandom")?.readData(ofLength: bytes))
        try data.write(to: URL(fileURLWithPath: path))
        return data
    }

    @Test("put, head (size and metadata, any case), get, range, list, batch delete; keys with spaces, UTF-8 and '+'")
    func roundTrip() async throws {
        try await withS3 { _, s3, directory in
            let original = try randomFile(directory + "/in.bin", bytes: 100_000)
            let keys = ["plain.mp4", "with space/file 1.mp4", "plus+sign.mp4", "ünïcödé/ファイル.mp4", "a/b c/d+e ü.mp4"]
            for key in keys {
                let location = StorageLocation.s3(bucket: "raw", key: "uploads/" + key)
                try await s3.upload(file: directory + "/in.bin", to: location, contentType: "video/mp4", metadata: ["Movie-ID": "movie-101"])
                let info = try await s3.head(location)
                #expect(info.size == 100_000, "\(key)")
                #expect(info.metadata["movie-id"] == "movie-101", "\(key): \(info.metadata)")
                #expect(info.contentType == "video/mp4")
                let back = directory + "/back.bin"
                _ = try await s3.download(location, to: back, maxBytes: nil)
                #expect(try Data(contentsOf: URL(fileURLWithPath: back)) == original, "\(key)")
            }
            let slice = directory + "/slice.bin"
            _ = try await s3.download(.s3(bucket: "raw", key: "uploads/plain.mp4"), to: slice, maxBytes: nil, range: 1000...1999)
            #expect(try Data(contentsOf: URL(fileURLWithPath: slice)) == original[1000...1999])

            let listed = try await s3.list(prefix: .s3(bucket: "raw", key: "uploads/"))
            #expect(Set(listed.map(\.location)) == Set(keys.map { StorageLocation.s3(bucket: "raw", key: "uploads/" + $0) }))
            try await s3.delete(listed.map(\.location) + [.s3(bucket: "raw", key: "uploads/never-existed")])
            #expect(try await s3.list(prefix: .s3(bucket: "raw", key: "uploads/")).isEmpty)
            do {
                _ = try await s3.head(.s3(bucket: "raw", key: "uploads/plain.mp4"))
                Issue.record("deleted object still there")
            } catch let error as StorageError {
                #expect(error.code == .notFound)
            }
            // No temporary files left beside downloads.
            #expect(try FileManager.default.contentsOfDirectory(atPath: directory).sorted() == ["back.bin", "in.bin", "slice.bin"])
        }
    }

    @Test("a 30 MB object goes up in concurrent parts of at least 5 MiB and comes back identical")
    func multipart() async throws {
        try await withS3 { _, s3, directory in
            let original = try randomFile(directory + "/big.bin", bytes: 30_000_000)
            let location = StorageLocation.s3(bucket: "media", key: "big/30mb.bin")
            try await s3.upload(file: directory + "/big.bin", to: location, contentType: nil, metadata: ["movie-id": "m-7"])
            let info = try await s3.head(location)
            #expect(info.size == 30_000_000)
            #expect(info.metadata["movie-id"] == "m-7")
            // A multipart ETag names its part count: 30 MB in 8 MiB parts is 4.
            #expect(info.etag?.hasSuffix("-4\"") == true, "\(info.etag ?? "no etag")")
            _ = try await s3.download(location, to: directory + "/back.bin", maxBytes: nil)
            let back = try Data(contentsOf: URL(fileURLWithPath: directory + "/back.bin"))
            #expect(SHA256.hash(data: back) == SHA256.hash(data: original))
        }
    }

    @Test("server-side encryption, SSE-S3 and SSE-KMS with a key and a bucket key, on single and multipart uploads, as boto3 reads it back",
          arguments: [ServerSideEncryption.s3, .kms(keyID: "alias/media-worker", bucketKey: true), .kms(keyID: nil, bucketKey: false)])
    func serverSideEncryption(_ encryption: ServerSideEncryption) async throws {
        try await MotoServer.with(buckets: Self.buckets) { moto in
            let s3 = storage(moto) { $0.serverSideEncryption = encryption }
            let directory = try makeTestDirectory("s3-sse")
            defer { try? FileManager.default.removeItem(at: directory) }
            _ = try randomFile(directory.path + "/small.bin", bytes: 4096)
            _ = try randomFile(directory.path + "/big.bin", bytes: 20_000_000)
            try await s3.upload(file: directory.path + "/small.bin", to: .s3(bucket: "media", key: "sse/small.m4s"),
                                contentType: "video/iso.segment", cacheControl: "public, max-age=31536000, immutable", metadata: [:])
            try await s3.upload(file: directory.path + "/big.bin", to: .s3(bucket: "media", key: "sse/big.mp4"),
                                contentType: "video/mp4", cacheControl: "no-cache", metadata: [:])
            await s3.shutdown()
            let heads = try await headObjectsWithBoto3(endpoint: moto.endpoint, bucket: "media", keys: ["sse/small.m4s", "sse/big.mp4"],
                                                      environment: moto.credentials.environment)
            #expect(heads.count == 2)
            for head in heads {
                switch encryption {
                case .s3:
                    #expect(head["ServerSideEncryption"] as? String == "AES256", "\(head)")
                    #expect(head["SSEKMSKeyId"] is NSNull, "\(head)")
                case .kms(let keyID, let bucketKey):
                    #expect(head["ServerSideEncryption"] as? String == "aws:kms", "\(head)")
                    if let keyID { #expect((head["SSEKMSKeyId"] as? String)?.hasSuffix(keyID) == true, "\(head)") }
                    // moto keeps the bucket key of single PUTs only (its CreateMultipartUpload drops the header).
                    if bucketKey, head["key"] as? String == "sse/small.m4s" { #expect(head["BucketKeyEnabled"] as? Bool == true, "\(head)") }
                }
            }
            #expect(heads.first?["CacheControl"] as? String == "public, max-age=31536000, immutable")
            #expect(heads.first?["ContentType"] as? String == "video/iso.segment")
            #expect(heads.last?["CacheControl"] as? String == "no-cache")
            #expect(heads.last?["ContentType"] as? String == "video/mp4")
        }
    }

    @Test("MW_S3_SSE settings: the two modes, and each mistake named by its variable")
    func serverSideEncryptionSettings() throws {
        #expect(try ServerSideEncryption.parse(mode: nil, kmsKeyID: nil, bucketKey: nil).get() == nil)
        #expect(try ServerSideEncryption.parse(mode: "AES256", kmsKeyID: nil, bucketKey: "0").get() == .s3)
        #expect(try ServerSideEncryption.parse(mode: "aws:kms", kmsKeyID: "arn:aws:kms:eu-west-1:1:key/k", bucketKey: "true").get()
                == .kms(keyID: "arn:aws:kms:eu-west-1:1:key/k", bucketKey: true))
        for (mode, key, bucketKey, variable) in [("aes256", nil, nil, "MW_S3_SSE"), ("AES256", "k", nil, "MW_S3_SSE_KMS_KEY_ID"),
                                                 (nil, "k", nil, "MW_S3_SSE_KMS_KEY_ID"), ("AES256", nil, "1", "MW_S3_SSE_BUCKET_KEY"),
                                                 ("aws:kms", nil, "maybe", "MW_S3_SSE_BUCKET_KEY"), ("aws:kms", "a key", nil, "MW_S3_SSE_KMS_KEY_ID")] as [(String?, String?, String?, String)] {
            guard case .failure(let fault) = ServerSideEncryption.parse(mode: mode, kmsKeyID: key, bucketKey: bucketKey) else {
                Issue.record("\(String(describing: mode)) \(String(describing: key)) \(String(describing: bucketKey)) accepted")
                continue
            }
            #expect(fault.variable == variable)
        }
    }

    @Test("a wrong secret is refused with AccessDenied, and no error or description carries the secret or a signature")
    func wrongSecret() async throws {
        try await MotoServer.with(buckets: Self.buckets) { moto in
            let secret = "definitely-not-the-secret-0123456789"
            let wrong = storage(moto, secret: secret)
            defer { Task { await wrong.shutdown() } }
            let directory = try makeTestDirectory("s3-wrong")
            defer { try? FileManager.default.removeItem(at: directory) }
            _ = try randomFile(directory.path + "/f.bin", bytes: 10)
            for operation in 0..<3 {
                do {
                    switch operation {
                    case 0: _ = try await wrong.head(.s3(bucket: "media", key: "x"))
                    case 1: try await wrong.upload(file: directory.path + "/f.bin", to: .s3(bucket: "media", key: "x"), contentType: nil, metadata: [:])
                    default: _ = try await wrong.list(prefix: .s3(bucket: "media", key: ""))
                    }
                    Issue.record("operation \(operation) accepted a wrong secret")
                } catch let error as StorageError {
                    #expect(error.code == .accessDenied, "\(error)")
                    let text = "\(error) \(try await wrong.configuration.credentialProvider.credentials()) \(wrong.configuration.credentialProvider.source)"
                    #expect(!text.contains(secret) && !text.contains(moto.credentials.secretAccessKey) && !text.contains("Signature="), "\(text)")
                }
            }
            await wrong.shutdown()
        }
    }

    @Test("size limit checked on HEAD before any download; buckets outside the configured ones refused without a request")
    func limits() async throws {
        try await withS3 { _, s3, directory in
            _ = try randomFile(directory + "/f.bin", bytes: 5000)
            let location = StorageLocation.s3(bucket: "media", key: "f.bin")
            try await s3.upload(file: directory + "/f.bin", to: location, contentType: nil, metadata: [:])
            do {
                _ = try await s3.download(location, to: directory + "/out.bin", maxBytes: 4999)
                Issue.record("downloaded over the limit")
            } catch let error as StorageError {
                #expect(error.code == .tooLarge)
            }
            #expect(!FileManager.default.fileExists(atPath: directory + "/out.bin"))
            do {
                _ = try await s3.head(.s3(bucket: "elsewhere", key: "f.bin"))
                Issue.record("an unconfigured bucket was used")
            } catch let error as StorageError {
                #expect(error.code == .bucketNotAllowed)
            }
        }
    }

    @Test("an endpoint that is down: retried with backoff, then STORAGE_UNAVAILABLE")
    func unreachable() async throws {
        let port = try LoopbackPort.free()
        var configuration = S3Configuration(credentials: .init(accessKeyID: "AKIDEXAMPLE", secretAccessKey: "secret"), region: "us-east-1",
                                            endpoint: URL(string: "http://127.0.0.1:\(port)")!, allowedBuckets: ["media"])
        configuration.retryBase = .milliseconds(20)
        configuration.maxAttempts = 3
        configuration.connectTimeout = .milliseconds(300)
        let s3 = S3Storage(configuration: configuration)
        let started = ContinuousClock.now
        do {
            _ = try await s3.head(.s3(bucket: "media", key: "x"))
            Issue.record("reached a closed port")
        } catch {
            #expect(error.code == .unavailable, "\(error)")
            #expect(error.code.isTransient)
        }
        // Three attempts with two backoff sleeps (10-20 ms, then 20-40 ms).
        #expect(ContinuousClock.now - started >= .milliseconds(30))
        #expect(await s3.probe(bucket: "media") == false)
        await s3.shutdown()
    }

    @Test("downloading 200 MB keeps the process's peak memory under 100 MB above its baseline")
    func constantMemoryDownload() async throws {
        try await MotoServer.with(buckets: Self.buckets) { moto in
            let directory = try makeTestDirectory("s3-big")
            defer { try? FileManager.default.removeItem(at: directory) }
            let big = directory.path + "/big.bin"
            // 200 MB of random bytes, written without holding them in this process.
            let dd = try await CommandRunner.run("/bin/sh", ["-c", "head -c 209715200 /dev/urandom > \"$0\"", big])
            #expect(dd.succeeded)
            let binary = try ProjectPaths.executable("media-worker")
            let python = ProjectPaths.venvBin.appendingPathComponent("python").path
            let wrapper = ProjectPaths.scripts.appendingPathComponent("test/peak_rss.py").path
            let environment = moto.credentials.environment.merging(["MW_S3_BUCKETS": "media", "MW_STORAGE_ROOT": directory.path + "/root"]) { $1 }
            func run(_ arguments: [String]) async throws -> (status: Int, peakKB: Int, output: String) {
                let result = try await CommandRunner.run(python, [wrapper, binary] + arguments, environment: environment)
                let json = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as! [String: Any]
                return (json["status"] as! Int, json["peak_rss_kb"] as! Int, (json["stdout"] as! String) + (json["stderr"] as! String))
            }
            let upload = try await run(["storage", "put", big, "s3://media/big.bin"])
            #expect(upload.status == 0, "\(upload.output)")
            let baseline = try await run(["storage", "head", "s3://media/big.bin"])
            #expect(baseline.status == 0, "\(baseline.output)")
            let download = try await run(["storage", "get", "s3://media/big.bin", directory.path + "/back.bin"])
            #expect(download.status == 0, "\(download.output)")
            let attributes = try FileManager.default.attributesOfItem(atPath: directory.path + "/back.bin")
            #expect((attributes[.size] as? NSNumber)?.intValue == 209_715_200)
            let aboveBaseline = download.peakKB - baseline.peakKB
            #expect(aboveBaseline < 100 * 1024, "peak \(download.peakKB) KB, baseline \(baseline.peakKB) KB")
            // The upload streams parts too: a few parts in flight, never the whole file.
            #expect(upload.peakKB - baseline.peakKB < 100 * 1024, "upload peak \(upload.peakKB) KB")
            let same = try await CommandRunner.run("/usr/bin/cmp", [big, directory.path + "/back.bin"])
            #expect(same.succeeded)
        }
    }
}

/// Local storage: confined to its roots, atomic writes.
@Suite("Local storage")
struct LocalStorageTests {
    @Test("traversal by '..', absolute paths and symlinks out of the root is refused; writes are atomic")
    func confinement() async throws {
        let directory = try makeTestDirectory("local")
        defer { try? FileManager.default.removeItem(at: directory) }
        let root = directory.path + "/root"
        let outside = directory.path + "/outside"
        try FileManager.default.createDirectory(atPath: outside, withIntermediateDirectories: true)
        try Data("secret".utf8).write(to: URL(fileURLWithPath: outside + "/secret.txt"))
        let storage = try LocalStorage(roots: [root])
        try Data("hello".utf8).write(to: URL(fileURLWithPath: directory.path + "/src.txt"))

        let inside = StorageLocation.file(path: root + "/a/b/c.txt")
        try await storage.upload(file: directory.path + "/src.txt", to: inside, contentType: nil, metadata: [:])
        #expect(try await storage.head(inside).size == 5)
        #expect(try FileManager.default.contentsOfDirectory(atPath: root + "/a/b") == ["c.txt"])
        _ = try await storage.download(inside, to: directory.path + "/copy.txt", maxBytes: 10)
        #expect(try String(contentsOfFile: directory.path + "/copy.txt", encoding: .utf8) == "hello")
        #expect(try await storage.list(prefix: .file(path: root + "/a/")).map(\.location) == [inside])

        try FileManager.default.createSymbolicLink(atPath: root + "/escape", withDestinationPath: outside)
        let attempts: [StorageLocation] = [
            .file(path: root + "/../outside/secret.txt"), .file(path: outside + "/secret.txt"), .file(path: "/etc/passwd"),
            .file(path: root + "/escape/secret.txt"), .file(path: root + "/a/./../../outside/secret.txt"),
        ]
        for location in attempts {
            do {
                _ = try await storage.download(location, to: directory.path + "/stolen.txt", maxBytes: nil)
                Issue.record("read \(location)")
            } catch {
                #expect(error.code == .outsideRoot, "\(location): \(error)")
            }
            do {
                try await storage.upload(file: directory.path + "/src.txt", to: location, contentType: nil, metadata: [:])
                Issue.record("wrote \(location)")
            } catch {
                #expect(error.code == .outsideRoot, "\(location): \(error)")
            }
        }
        #expect(!FileManager.default.fileExists(atPath: directory.path + "/stolen.txt"))
        #expect(try String(contentsOfFile: outside + "/secret.txt", encoding: .utf8) == "secret")
        do {
            _ = try await storage.download(inside, to: directory.path + "/x", maxBytes: 4)
            Issue.record("over the limit")
        } catch {
            #expect(error.code == .tooLarge)
        }
        try await storage.delete([inside, .file(path: root + "/missing.txt")])
        #expect(!FileManager.default.fileExists(atPath: root + "/a/b/c.txt"))
    }

    @Test("delete removes a symlink itself, never what it points to; emptied folders go, the root stays")
    func deleteDoesNotFollowSymlinks() async throws {
        let directory = try makeTestDirectory("local-delete")
        defer { try? FileManager.default.removeItem(at: directory) }
        let root = directory.path + "/root"
        let storage = try LocalStorage(roots: [root])
        // A published object, and in another version a symlink to it (planted, or left by a tool).
        try FileManager.default.createDirectory(atPath: root + "/f/v/live", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: root + "/f/v/trash/hls", withIntermediateDirectories: true)
        try Data("segment".utf8).write(to: URL(fileURLWithPath: root + "/f/v/live/seg.m4s"))
        try FileManager.default.createSymbolicLink(atPath: root + "/f/v/trash/hls/seg.m4s", withDestinationPath: root + "/f/v/live/seg.m4s")
        try FileManager.default.createSymbolicLink(atPath: root + "/f/v/trash/dir", withDestinationPath: root + "/f/v/live")
        try await storage.delete([.file(path: root + "/f/v/trash/hls/seg.m4s"), .file(path: root + "/f/v/trash/dir")])
        #expect(try String(contentsOfFile: root + "/f/v/live/seg.m4s", encoding: .utf8) == "segment", "the link's target was deleted")
        #expect(!FileManager.default.fileExists(atPath: root + "/f/v/trash"), "the emptied version folder is left")
        #expect(FileManager.default.fileExists(atPath: root + "/f/v/live"))
        // Through a symlinked folder that leads out of the root: refused, nothing outside touched.
        let outside = directory.path + "/outside"
        try FileManager.default.createDirectory(atPath: outside, withIntermediateDirectories: true)
        try Data("x".utf8).write(to: URL(fileURLWithPath: outside + "/keep.txt"))
        try FileManager.default.createSymbolicLink(atPath: root + "/out", withDestinationPath: outside)
        await #expect(throws: StorageError.self) { try await storage.delete([.file(path: root + "/out/keep.txt")]) }
        #expect(FileManager.default.fileExists(atPath: outside + "/keep.txt"))
        // Deleting the last object under the root keeps the root.
        try await storage.delete([.file(path: root + "/f/v/live/seg.m4s"), .file(path: root + "/out")])
        #expect(FileManager.default.fileExists(atPath: root) && !FileManager.default.fileExists(atPath: root + "/f"))
    }

    @Test("URLs: s3:// and file:// parsed, bad forms refused")
    func parsing() throws {
        #expect(try StorageLocation(parsing: "s3://media/file-555/hls/master.m3u8") == .s3(bucket: "media", key: "file-555/hls/master.m3u8"))
        #expect(try StorageLocation(parsing: "file:///srv/media/in.mp4") == .file(path: "/srv/media/in.mp4"))
        for bad in ["http://x/y", "s3://Bad_Bucket/k", "s3://ab/k", "file://relative/path", "s3://media/a\u{1}b"] {
            #expect(throws: StorageError.self) { try StorageLocation(parsing: bad) }
        }
        #expect(StorageLocation.s3(bucket: "media", key: "out/").appending("hls/master.m3u8") == .s3(bucket: "media", key: "out/hls/master.m3u8"))
    }
}

import AsyncHTTPClient
import Crypto
import Foundation
import MarkupEscaping
import NIOCore
import NIOFoundationCompat
import NIOHTTP1

/// An S3-compatible object store (AWS, MinIO) over async-http-client, signed with SigV4.
///
/// Every request carries `x-amz-content-sha256` (the body's hash, or UNSIGNED-PAYLOAD for
/// streamed bodies). 5xx answers, throttling, timeouts and dropped connections are retried with
/// exponential backoff; other 4xx answers are not. Errors carry S3's code and message, never a
/// header or a signature. Call `shutdown()` before dropping it.
public final class S3Storage: Storage {
    public let configuration: S3Configuration
    let http: HTTPClient
    /// Told every attempt's outcome, so repeated failures stop the worker taking jobs.
    let breaker: StorageCircuitBreaker?

    public init(configuration: S3Configuration, breaker: StorageCircuitBreaker? = nil) {
        self.configuration = configuration
        self.breaker = breaker
        var client = HTTPClient.Configuration()
        client.timeout = .init(connect: .nanoseconds(configuration.connectTimeout.nanoseconds),
                               read: .nanoseconds(configuration.readTimeout.nanoseconds))
        client.decompression = .disabled
        client.redirectConfiguration = .disallow
        http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: client)
    }

    public func shutdown() async {
        try? await http.shutdown()
    }

    // MARK: operations

    public func head(_ location: StorageLocation) async throws(StorageError) -> ObjectInfo {
        let (bucket, key) = try objectAddress(location)
        let response = try await send(.init(method: .HEAD, bucket: bucket, key: key))
        return Self.objectInfo(response.headers)
    }

    public func download(_ location: StorageLocation, to path: String, maxBytes: Int64?) async throws(StorageError) -> ObjectInfo {
        try await download(location, to: path, maxBytes: maxBytes, range: nil)
    }

    /// `range`: inclusive byte offsets, as in HTTP's Range header.
    public func download(_ location: StorageLocation, to path: String, maxBytes: Int64?, range: ClosedRange<Int64>?) async throws(StorageError) -> ObjectInfo {
        let (bucket, key) = try objectAddress(location)
        // The size limit is checked before a byte of the object is read.
        let info = try await head(location)
        let expected = range.map { min($0.upperBound, info.size - 1) - $0.lowerBound + 1 } ?? info.size
        if let maxBytes, expected > maxBytes {
            throw StorageError(code: .tooLarge, message: "\(location) is \(info.size) bytes, over the limit of \(maxBytes)")
        }
        var headers: [(String, String)] = []
        if let range { headers.append(("range", "bytes=\(range.lowerBound)-\(range.upperBound)")) }
        // The bytes must be those of the object HEAD described (it may be replaced meanwhile).
        if let etag = info.etag { headers.append(("if-match", etag)) }
        let temporary = path + ".part-\(UUID().uuidString.prefix(8))"
        try await withRetries { () throws(StorageError) in
            let response = try await self.execute(.init(method: .GET, bucket: bucket, key: key, headers: headers))
            try await Self.write(response.body, to: temporary, limit: maxBytes)
        }
        guard rename(temporary, path) == 0 else {
            unlink(temporary)
            throw StorageError(code: .io, message: "cannot move the download to \(path): \(String(cString: strerror(errno)))")
        }
        return info
    }

    public func upload(file path: String, to location: StorageLocation, contentType: String?, cacheControl: String?,
                       metadata: [String: String]) async throws(StorageError) {
        let (bucket, key) = try objectAddress(location)
        let size = try Self.fileSize(path)
        var headers: [(String, String)] = metadata.sorted { $0.key < $1.key }.map { ("x-amz-meta-" + $0.key.lowercased(), $0.value) }
        if let contentType { headers.append(("content-type", contentType)) }
        if let cacheControl { headers.append(("cache-control", cacheControl)) }
        headers += configuration.serverSideEncryption?.headers ?? []
        if size <= Int64(configuration.multipartThreshold) {
            let body = try await BlockingIO.run { () throws(StorageError) in try Self.read(path, offset: 0, count: Int(size)) }
            _ = try await send(.init(method: .PUT, bucket: bucket, key: key, headers: headers, body: body))
        } else {
            try await multipartUpload(path: path, size: size, bucket: bucket, key: key, headers: headers)
        }
    }

    public func delete(_ locations: [StorageLocation]) async throws(StorageError) {
        var byBucket: [String: [String]] = [:]
        for location in locations {
            let (bucket, key) = try objectAddress(location)
            byBucket[bucket, default: []].append(key)
        }
        for (bucket, keys) in byBucket.sorted(by: { $0.key < $1.key }) {
            // DeleteObjects takes at most 1000 keys and needs Content-MD5.
            for start in stride(from: 0, to: keys.count, by: 1000) {
                let batch = keys[start..<min(start + 1000, keys.count)]
                let xml = "<Delete><Quiet>true</Quiet>" + batch.map { "<Object><Key>\(markupEscaped($0))</Key></Object>" }.joined() + "</Delete>"
                let body = ByteBuffer(string: xml)
                let md5 = Data(Insecure.MD5.hash(data: Data(xml.utf8))).base64EncodedString()
                let response = try await send(.init(method: .POST, bucket: bucket, key: "", query: [("delete", "")],
                                                    headers: [("content-md5", md5), ("content-type", "application/xml")], body: body))
                if let root = S3XMLElement.parse(response.body), let failed = root.all("Error").first {
                    throw StorageError(code: .requestFailed, s3Code: failed.value("Code"),
                                       message: "cannot delete s3://\(bucket)/\(failed.value("Key") ?? ""): \(failed.value("Message") ?? "")")
                }
            }
        }
    }

    public func list(prefix: StorageLocation) async throws(StorageError) -> [ListedObject] {
        guard case .s3(let bucket, let keyPrefix) = prefix else {
            throw StorageError(code: .invalidURL, message: "\(prefix) is not an s3:// location")
        }
        try checkBucket(bucket)
        var objects: [ListedObject] = []
        var token: String?
        var seen: Set<String> = []
        repeat {
            // Keys come URL-encoded: some characters a key may hold cannot be carried by XML 1.0.
            var query = [("list-type", "2"), ("prefix", keyPrefix), ("encoding-type", "url")]
            if let token { query.append(("continuation-token", token)) }
            let response = try await send(.init(method: .GET, bucket: bucket, key: "", query: query))
            guard let root = S3XMLElement.parse(response.body) else {
                throw StorageError(code: .requestFailed, message: "the listing of s3://\(bucket) is not XML")
            }
            let encoded = root.value("EncodingType") == "url"
            for item in root.all("Contents") {
                guard let raw = item.value("Key"), let key = encoded ? raw.removingPercentEncoding : raw else { continue }
                objects.append(ListedObject(location: .s3(bucket: bucket, key: key), size: Int64(item.value("Size") ?? "") ?? 0))
            }
            token = nil
            if root.value("IsTruncated") == "true" {
                guard let next = root.value("NextContinuationToken"), !next.isEmpty, seen.insert(next).inserted else {
                    throw StorageError(code: .requestFailed, message: "the listing of s3://\(bucket) is truncated without a new continuation token")
                }
                token = next
            }
        } while token != nil
        return objects
    }

    /// A presigned GET (or PUT) URL for `location`, valid for `expires` seconds.
    public func presignedURL(_ location: StorageLocation, method: String = "GET", expires: Int = 3600,
                             headers: [(String, String)] = []) async throws(StorageError) -> String {
        let (bucket, key) = try objectAddress(location)
        let signer = SigV4Signer(credentials: try await configuration.credentialProvider.credentials(), region: configuration.region)
        let target = address(bucket: bucket, key: key)
        let query = signer.presignedQuery(method: method, path: target.path, query: [], host: target.host, expires: expires,
                                          date: Date(), headers: headers)
        return target.base + SigV4Signer.canonicalURI(target.path) + "?" + SigV4Signer.canonicalQuery(query)
    }

    /// A request that tells whether the service answers at all (for the circuit breaker).
    public func probe(bucket: String) async -> Bool {
        await probeFailure(bucket: bucket) == nil
    }

    /// Why the service cannot be used now (down, throttling, no credentials), or nil when it answers.
    public func probeFailure(bucket: String) async -> StorageError? {
        do {
            _ = try await execute(.init(method: .HEAD, bucket: bucket, key: ""))
            return nil
        } catch {
            return error.code.isTransient ? error : nil
        }
    }

    // MARK: multipart

    private func multipartUpload(path: String, size: Int64, bucket: String, key: String, headers: [(String, String)]) async throws(StorageError) {
        let created = try await send(.init(method: .POST, bucket: bucket, key: key, query: [("uploads", "")], headers: headers))
        guard let uploadID = S3XMLElement.parse(created.body)?.value("UploadId") else {
            throw StorageError(code: .requestFailed, message: "CreateMultipartUpload gave no UploadId")
        }
        // S3 takes at most 10,000 parts: very large files get larger parts.
        let partSize = max(Int64(max(configuration.partSize, 5 << 20)), (size + 9_999) / 10_000)
        let count = Int((size + partSize - 1) / partSize)
        do throws(StorageError) {
            let etags = try await uploadParts(path: path, size: size, partSize: partSize, count: count, bucket: bucket, key: key, uploadID: uploadID)
            let xml = "<CompleteMultipartUpload>" + etags.enumerated().map {
                "<Part><PartNumber>\($0.offset + 1)</PartNumber><ETag>\(markupEscaped($0.element))</ETag></Part>"
            }.joined() + "</CompleteMultipartUpload>"
            let response = try await send(.init(method: .POST, bucket: bucket, key: key, query: [("uploadId", uploadID)],
                                                headers: [("content-type", "application/xml")], body: ByteBuffer(string: xml)))
            // S3 may answer 200 and still fail: only a CompleteMultipartUploadResult is success.
            guard let root = S3XMLElement.parse(response.body), root.name == "CompleteMultipartUploadResult" else {
                throw Self.statusError(500, body: response.body, what: "CompleteMultipartUpload of s3://\(bucket)/\(key)")
            }
        } catch {
            // Not in this (possibly cancelled) task: stored parts are billed until aborted.
            let abort = Request(method: .DELETE, bucket: bucket, key: key, query: [("uploadId", uploadID)])
            await Task { _ = try? await self.send(abort) }.value
            throw error
        }
    }

    private func uploadParts(path: String, size: Int64, partSize: Int64, count: Int, bucket: String, key: String,
                             uploadID: String) async throws(StorageError) -> [String] {
        let concurrency = max(1, configuration.partConcurrency)
        let result: Result<[String], StorageError> = await withTaskGroup(of: Result<(Int, String), StorageError>.self) { group in
            var etags = [String](repeating: "", count: count)
            var next = 1
            func add() {
                let number = next
                next += 1
                group.addTask {
                    do throws(StorageError) {
                        let offset = Int64(number - 1) * partSize
                        let body = try await BlockingIO.run { () throws(StorageError) in
                            try Self.read(path, offset: offset, count: Int(min(partSize, size - offset)))
                        }
                        let response = try await self.send(.init(method: .PUT, bucket: bucket, key: key,
                                                                  query: [("partNumber", String(number)), ("uploadId", uploadID)], body: body))
                        guard let etag = response.headers.first(name: "etag") else {
                            throw StorageError(code: .requestFailed, message: "part \(number) got no ETag")
                        }
                        return .success((number, etag))
                    } catch {
                        return .failure(error)
                    }
                }
            }
            for _ in 0..<min(concurrency, count) { add() }
            for await outcome in group {
                switch outcome {
                case .success(let (number, etag)):
                    etags[number - 1] = etag
                    if next <= count { add() }
                case .failure(let error):
                    group.cancelAll()
                    return .failure(error)
                }
            }
            return .success(etags)
        }
        return try result.get()
    }

    // MARK: requests

    struct Request: Sendable {
        var method: HTTPMethod
        var bucket: String
        var key: String
        var query: [(String, String)] = []
        var headers: [(String, String)] = []
        var body: ByteBuffer? = nil
    }

    struct Response: Sendable {
        var status: Int
        var headers: HTTPHeaders
        var body: Data
    }

    /// Sends a request with retries and reads the whole (small) answer.
    func send(_ request: Request) async throws(StorageError) -> Response {
        try await withRetries { () throws(StorageError) -> Response in
            let response = try await self.execute(request)
            let body: Data
            do {
                body = Data(buffer: try await response.body.collect(upTo: 16 << 20))
            } catch {
                throw Self.transportError(error, bucket: request.bucket)
            }
            return Response(status: Int(response.status.code), headers: response.headers, body: body)
        }
    }

    /// One signed attempt; an answer outside 2xx becomes a typed error.
    func execute(_ request: Request) async throws(StorageError) -> HTTPClientResponse {
        let target = address(bucket: request.bucket, key: request.key)
        let payloadHash = request.body.map { buffer in
            buffer.withUnsafeReadableBytes { SigV4Signer.hexSHA256(UnsafeRawBufferPointer($0)) }
        } ?? SigV4Signer.emptyPayloadHash
        var headers = [("host", target.host)] + request.headers
        let credentials: SigV4Signer.Credentials
        do {
            credentials = try await configuration.credentialProvider.credentials()
        } catch {
            breaker?.record(success: false, error: error)
            throw error
        }
        let signer = SigV4Signer(credentials: credentials, region: configuration.region)
        headers += signer.signedHeaders(method: request.method.rawValue, path: target.path, query: request.query,
                                        headers: headers, payloadHash: payloadHash, date: Date())
        let query = SigV4Signer.canonicalQuery(request.query)
        var http = HTTPClientRequest(url: target.base + SigV4Signer.canonicalURI(target.path) + (query.isEmpty ? "" : "?" + query))
        http.method = request.method
        for (name, value) in headers where name != "host" { http.headers.add(name: name, value: value) }
        if let body = request.body { http.body = .bytes(body) }
        let response: HTTPClientResponse
        do {
            // The deadline covers sending the body too: allow 256 KiB/s on top of the read timeout.
            let sending = Int64(request.body?.readableBytes ?? 0) / (256 * 1024)
            response = try await self.http.execute(http, timeout: .nanoseconds(configuration.readTimeout.nanoseconds) + .seconds(sending))
        } catch {
            let failure = Self.transportError(error, bucket: request.bucket)
            breaker?.record(success: false, error: failure)
            throw failure
        }
        guard (200..<300).contains(Int(response.status.code)) else {
            let body = (try? await response.body.collect(upTo: 1 << 20)).map { Data(buffer: $0) } ?? Data()
            let failure = Self.statusError(Int(response.status.code), body: body, what: "\(request.method.rawValue) s3://\(request.bucket)/\(request.key)")
            // An answer, even a refusal, proves the endpoint alive; only 5xx and throttling count against it.
            breaker?.record(success: !failure.code.isTransient, error: failure)
            throw failure
        }
        breaker?.record(success: true)
        return response
    }

    func withRetries<T>(_ body: () async throws(StorageError) -> T) async throws(StorageError) -> T {
        var attempt = 1
        while true {
            do {
                return try await body()
            } catch where error.code == .unavailable && attempt < configuration.maxAttempts {
                // Exponential backoff with jitter: 200 ms, 400 ms, 800 ms, ...
                let base = Double(configuration.retryBase.nanoseconds) / 1e9 * pow(2, Double(attempt - 1))
                try? await Task.sleep(for: .seconds(base * Double.random(in: 0.5...1.0)))
                if Task.isCancelled { throw error }
                attempt += 1
            }
        }
    }

    struct Address {
        var base: String  // scheme://host[:port]
        var host: String  // as signed
        var path: String  // unencoded
    }

    func address(bucket: String, key: String) -> Address {
        let endpoint = configuration.endpoint
        let scheme = endpoint.scheme ?? "https"
        var host = endpoint.host ?? ""
        // A dotted bucket name breaks the endpoint's wildcard certificate: such buckets go path-style.
        let pathStyle = configuration.pathStyle || bucket.contains(".")
        if !pathStyle { host = bucket + "." + host }
        if let port = endpoint.port, !(scheme == "http" && port == 80), !(scheme == "https" && port == 443) { host += ":\(port)" }
        let path = pathStyle ? "/\(bucket)" + (key.isEmpty ? "" : "/\(key)") : "/\(key)"
        return Address(base: "\(scheme)://\(host)", host: host, path: path)
    }

    func checkBucket(_ bucket: String) throws(StorageError) {
        guard configuration.allowedBuckets.contains(bucket) else {
            throw StorageError(code: .bucketNotAllowed, message: "bucket \(bucket) is not one this worker may use")
        }
    }

    func objectAddress(_ location: StorageLocation) throws(StorageError) -> (String, String) {
        guard case .s3(let bucket, let key) = location, !key.isEmpty else {
            throw StorageError(code: .invalidURL, message: "\(location) is not an s3:// object")
        }
        try checkBucket(bucket)
        return (bucket, key)
    }

    // MARK: helpers

    static func objectInfo(_ headers: HTTPHeaders) -> ObjectInfo {
        var metadata: [String: String] = [:]
        for header in headers where header.name.lowercased().hasPrefix("x-amz-meta-") {
            metadata[String(header.name.lowercased().dropFirst("x-amz-meta-".count))] = header.value
        }
        return ObjectInfo(size: Int64(headers.first(name: "content-length") ?? "") ?? 0, metadata: metadata,
                          contentType: headers.first(name: "content-type"), etag: headers.first(name: "etag"))
    }

    static func statusError(_ status: Int, body: Data, what: String) -> StorageError {
        let root = S3XMLElement.parse(body)
        let s3Code = root?.value("Code")
        let message = "\(what): HTTP \(status)" + (root?.value("Message").map { ": \($0)" } ?? "")
        switch (status, s3Code) {
        case (_, "SlowDown"), (_, "RequestTimeout"), (_, "InternalError"), (_, "ServiceUnavailable"), (500...599, _), (429, _):
            return StorageError(code: .unavailable, s3Code: s3Code, message: message)
        case (404, _), (_, "NoSuchKey"), (_, "NoSuchBucket"), (_, "NoSuchUpload"):
            return StorageError(code: .notFound, s3Code: s3Code ?? "NotFound", message: message)
        case (403, _), (_, "AccessDenied"), (_, "SignatureDoesNotMatch"), (_, "InvalidAccessKeyId"):
            return StorageError(code: .accessDenied, s3Code: s3Code ?? "AccessDenied", message: message)
        default:
            return StorageError(code: .requestFailed, s3Code: s3Code, message: message)
        }
    }

    /// Only failures of the endpoint (unreachable, timed out, connection dropped) are transient
    /// and count against it; a cancellation or a request the client refused to send are not.
    /// Messages name the failure's kind only: a description could quote the request.
    static func transportError(_ error: any Error, bucket: String) -> StorageError {
        if let error = error as? StorageError { return error }
        if error is CancellationError {
            return StorageError(code: .canceled, message: "the request to s3://\(bucket) was canceled")
        }
        if let error = error as? HTTPClientError {
            let transient: [HTTPClientError] = [.connectTimeout, .readTimeout, .deadlineExceeded, .remoteConnectionClosed,
                                                .writeTimeout, .socksHandshakeTimeout, .httpProxyHandshakeTimeout]
            if error == .cancelled {
                return StorageError(code: .canceled, message: "the request to s3://\(bucket) was canceled")
            }
            if transient.contains(error) {
                return StorageError(code: .unavailable, message: "cannot reach the S3 endpoint for \(bucket): \(error.shortDescription)")
            }
            return StorageError(code: .requestFailed, message: "the request to s3://\(bucket) could not be sent: \(error.shortDescription)")
        }
        if let error = error as? IOError {
            return StorageError(code: .unavailable, message: "cannot reach the S3 endpoint for \(bucket): errno \(error.errnoCode)")
        }
        // NIO's connection errors (refused, reset, DNS) and the like.
        return StorageError(code: .unavailable, message: "cannot reach the S3 endpoint for \(bucket): \(type(of: error))")
    }

    static func fileSize(_ path: String) throws(StorageError) -> Int64 {
        var info = stat()
        guard stat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else {
            throw StorageError(code: .io, message: "\(path) is not a readable file")
        }
        return Int64(info.st_size)
    }

    static func read(_ path: String, offset: Int64, count: Int) throws(StorageError) -> ByteBuffer {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw StorageError(code: .io, message: "cannot open \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var buffer = ByteBufferAllocator().buffer(capacity: count)
        let read = buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: count) { pointer in
            var done = 0
            while done < count {
                let n = pread(fd, pointer.baseAddress! + done, count - done, off_t(offset) + off_t(done))
                if n <= 0 { break }
                done += n
            }
            return done
        }
        guard read == count else { throw StorageError(code: .io, message: "\(path) changed while it was read") }
        return buffer
    }

    static func write(_ body: HTTPClientResponse.Body, to path: String, limit: Int64?) async throws(StorageError) {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw StorageError(code: .io, message: "cannot create \(path): \(String(cString: strerror(errno)))") }
        var ok = false
        defer {
            close(fd)
            if !ok { unlink(path) }
        }
        var total: Int64 = 0
        do {
            for try await chunk in body {
                total += Int64(chunk.readableBytes)
                if let limit, total > limit {
                    throw StorageError(code: .tooLarge, message: "the object grew over the limit of \(limit) bytes while downloading")
                }
                let written = chunk.withUnsafeReadableBytes { bytes -> Bool in
                    var done = 0
                    while done < bytes.count {
                        let n = Foundation.write(fd, bytes.baseAddress! + done, bytes.count - done)
                        if n <= 0 { return false }
                        done += n
                    }
                    return true
                }
                guard written else { throw StorageError(code: .io, message: "cannot write \(path): \(String(cString: strerror(errno)))") }
            }
        } catch let error as StorageError {
            throw error
        } catch {
            throw transportError(error, bucket: "download")
        }
        // A large download's fsync can take seconds: on the blocking I/O pool.
        let synced = try await BlockingIO.run { () throws(StorageError) in fsync(fd) == 0 ? 0 : errno }
        guard synced == 0 else { throw StorageError(code: .io, message: "cannot write \(path): \(String(cString: strerror(synced)))") }
        ok = true
    }
}

extension Duration {
    var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}

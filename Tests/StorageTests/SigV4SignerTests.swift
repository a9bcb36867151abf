import Foundation
@testable import Storage
import TestSupport
import Testing

/// AWS's published S3 SigV4 examples ("Signature Calculations for the Authorization Header:
/// Transferring Payload in a Single Chunk" and "Authenticating Requests: Using Query
/// Parameters"): the expected signatures are public facts.
@Suite("SigV4 against AWS's published S3 examples")
struct SigV4SignerTests {
    let signer = SigV4Signer(
        credentials: .init(accessKeyID: "AKIAIOSFODNN7EXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
        region: "us-east-1")
    let date = Date(timeIntervalSince1970: 1_369_353_600)  // 2013-05-24T00:00:00Z

    func signature(_ headers: [(String, String)]) -> String? {
        headers.first { $0.0 == "authorization" }?.1.components(separatedBy: "Signature=").last
    }

    @Test("GET object with a Range header")
    func getObject() {
        let headers = signer.signedHeaders(method: "GET", path: "/test.txt", query: [],
                                           headers: [("Host", "examplebucket.s3.amazonaws.com"), ("Range", "bytes=0-9")],
                                           payloadHash: SigV4Signer.emptyPayloadHash, date: date)
        #expect(signature(headers) == "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41")
        #expect(headers.first { $0.0 == "authorization" }?.1.contains(
            "Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,") == true)
    }

    @Test("PUT object: a key with '$', a Date and a storage-class header, a hashed payload")
    func putObject() {
        let body = Data("Welcome to Amazon S3.".utf8)
        let headers = signer.signedHeaders(
            method: "PUT", path: "/test$file.text", query: [],
            headers: [("Host", "examplebucket.s3.amazonaws.com"), ("Date", "Fri, 24 May 2013 00:00:00 GMT"),
                      ("x-amz-storage-class", "REDUCED_REDUNDANCY")],
            payloadHash: SigV4Signer.hexSHA256(body), date: date)
        #expect(signature(headers) == "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd")
    }

    @Test("GET bucket lifecycle: an empty query value")
    func getLifecycle() {
        let headers = signer.signedHeaders(method: "GET", path: "/", query: [("lifecycle", "")],
                                           headers: [("Host", "examplebucket.s3.amazonaws.com")],
                                           payloadHash: SigV4Signer.emptyPayloadHash, date: date)
        #expect(signature(headers) == "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543")
    }

    @Test("list objects: query parameters sorted")
    func listObjects() {
        let headers = signer.signedHeaders(method: "GET", path: "/", query: [("prefix", "J"), ("max-keys", "2")],
                                           headers: [("Host", "examplebucket.s3.amazonaws.com")],
                                           payloadHash: SigV4Signer.emptyPayloadHash, date: date)
        #expect(signature(headers) == "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7")
    }

    @Test("presigned GET URL valid for a day")
    func presigned() {
        let query = signer.presignedQuery(method: "GET", path: "/test.txt", query: [], host: "examplebucket.s3.amazonaws.com",
                                          expires: 86400, date: date)
        #expect(query.last?.0 == "X-Amz-Signature")
        #expect(query.last?.1 == "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404")
    }

    @Test("S3 path encoding: once per segment, '/' kept, spaces, '+' and UTF-8 percent-encoded")
    func pathEncoding() {
        #expect(SigV4Signer.canonicalURI("/bucket/a b/c+d/ü.mp4") == "/bucket/a%20b/c%2Bd/%C3%BC.mp4")
        #expect(SigV4Signer.canonicalURI("/bucket/already%20encoded") == "/bucket/already%2520encoded")
        #expect(SigV4Signer.uriEncode("A-Z_a.z~0") == "A-Z_a.z~0")
    }

    @Test("credentials never print their secret")
    func credentialsDescription() {
        #expect(!"\(signer.credentials)".contains("wJalrXUtnFEMI"))
    }
}

/// The same requests signed by botocore (AWS's Python signer) and by ours: keys with spaces,
/// '+', UTF-8 and reserved characters, path-style and virtual-hosted, headers and presigned.
@Suite("SigV4 agrees with botocore")
struct SigV4BotocoreTests {
    struct Answer: Decodable { var authorization: String?; var url: String? }

    func botocore(_ spec: [String: Any]) async throws -> Answer {
        let python = ProjectPaths.venvBin.appendingPathComponent("python").path
        let input = try makeTestDirectory("sigv4").appendingPathComponent("spec.json")
        defer { try? FileManager.default.removeItem(at: input.deletingLastPathComponent()) }
        try JSONSerialization.data(withJSONObject: spec).write(to: input)
        let result = try await CommandRunner.run("/bin/sh", ["-c", "\"$0\" \"$1\" < \"$2\"", python,
                                                             ProjectPaths.scripts.appendingPathComponent("test/botocore_sign.py").path, input.path])
        #expect(result.succeeded, "\(result.stderr)")
        return try JSONDecoder().decode(Answer.self, from: Data(result.stdout.utf8))
    }

    @Test("header signing and presigned URLs match botocore for awkward keys", arguments: [
        "plain.mp4", "with space/file 1.mp4", "plus+sign.mp4", "ünïcödé/ファイル.mp4", "a~b_c-d.e!f'g(h)i*j.mp4", "100%done.mp4",
    ])
    func matchesBotocore(key: String) async throws {
        let signer = SigV4Signer(credentials: .init(accessKeyID: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"),
                                 region: "eu-west-1")
        let date = Date(timeIntervalSince1970: 1_763_700_000)
        let (amzDate, _) = SigV4Signer.timestamps(date)
        for pathStyle in [true, false] {
            let host = pathStyle ? "127.0.0.1:9000" : "media.s3.eu-west-1.amazonaws.com"
            let path = pathStyle ? "/media/" + key : "/" + key
            let url = "http://\(host)\(SigV4Signer.canonicalURI(path))"
            let hash = SigV4Signer.hexSHA256(Data("body".utf8))
            let ours = signer.signedHeaders(method: "PUT", path: path, query: [], headers: [("host", host), ("x-amz-meta-movie-id", "movie-101")],
                                            payloadHash: hash, date: date).first { $0.0 == "authorization" }?.1
            let theirs = try await botocore(["mode": "header", "method": "PUT", "url": url, "headers": ["x-amz-meta-movie-id": "movie-101"],
                                             "body": "body", "timestamp": amzDate, "access_key": "AKIDEXAMPLE",
                                             "secret_key": "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "region": "eu-west-1"])
            #expect(ours == theirs.authorization, "\(key) pathStyle=\(pathStyle)")

            let query = signer.presignedQuery(method: "GET", path: path, query: [], host: host, expires: 600, date: date)
            let presigned = try await botocore(["mode": "query", "method": "GET", "url": url, "timestamp": amzDate, "access_key": "AKIDEXAMPLE",
                                                "secret_key": "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "region": "eu-west-1", "expires": 600])
            let theirSignature = presigned.url?.components(separatedBy: "X-Amz-Signature=").last
            #expect(query.last?.1 == theirSignature, "\(key) pathStyle=\(pathStyle): \(presigned.url ?? "")")
        }
    }

    @Test("temporary credentials: the session token is signed as x-amz-security-token")
    func sessionToken() async throws {
        let token = "FwoGZXIvYXdzEJr//////////wEaDH+token/with+odd=chars"
        let signer = SigV4Signer(credentials: .init(accessKeyID: "ASIAEXAMPLE", secretAccessKey: "secret/key+1", sessionToken: token),
                                 region: "us-east-1")
        let date = Date(timeIntervalSince1970: 1_763_700_000)
        let (amzDate, _) = SigV4Signer.timestamps(date)
        let headers = signer.signedHeaders(method: "GET", path: "/media/in.mp4", query: [], headers: [("host", "127.0.0.1:9000")],
                                           payloadHash: SigV4Signer.emptyPayloadHash, date: date)
        #expect(headers.contains { $0.0 == "x-amz-security-token" && $0.1 == token })
        let theirs = try await botocore(["mode": "header", "method": "GET", "url": "http://127.0.0.1:9000/media/in.mp4", "body": "",
                                         "timestamp": amzDate, "access_key": "ASIAEXAMPLE", "secret_key": "secret/key+1",
                                         "session_token": token, "region": "us-east-1"])
        #expect(headers.first { $0.0 == "authorization" }?.1 == theirs.authorization)
    }
}

import Foundation
@testable import Storage
import Synchronization
import TestSupport
import Testing

/// The AWS default credential chain: which source wins, what each reads, how temporary keys are
/// refreshed, and, against moto with signatures checked, that the keys each source hands out
/// (and their session token) are what S3 requests are signed with.
@Suite("AWS credential chain", .serialized)
struct CredentialChainTests {
    static func settings(_ environment: [String: String]) -> AWSSettings {
        AWSSettings(environment: ["HOME": "/nonexistent"].merging(environment) { $1 })
    }

    static func source(_ environment: [String: String], imds: Bool = true) throws -> String? {
        try CredentialChain.resolve(settings(environment), useInstanceMetadata: imds)?.provider.source
    }

    @Test("the SDKs' order: environment, web identity, profile, container, instance metadata; IMDS only when wanted")
    func precedence() throws {
        let directory = try makeTestDirectory("aws-files")
        defer { try? FileManager.default.removeItem(at: directory) }
        let credentials = directory.appendingPathComponent("credentials").path
        try "[default]\naws_access_key_id = AKIDEFAULT\naws_secret_access_key = s\n".write(toFile: credentials, atomically: true, encoding: .utf8)
        let env = ["AWS_ACCESS_KEY_ID": "AKIENV", "AWS_SECRET_ACCESS_KEY": "s"]
        let web = ["AWS_WEB_IDENTITY_TOKEN_FILE": "/var/run/token", "AWS_ROLE_ARN": "arn:aws:iam::1:role/r"]
        let files = ["AWS_SHARED_CREDENTIALS_FILE": credentials, "AWS_CONFIG_FILE": "/nonexistent"]
        let container = ["AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "/v2/credentials/x"]
        #expect(try Self.source(env.merging(web) { $1 }.merging(files) { $1 }.merging(container) { $1 }) == "environment")
        #expect(try Self.source(web.merging(files) { $1 }.merging(container) { $1 })?.hasPrefix("web identity") == true)
        #expect(try Self.source(files.merging(container) { $1 }) == "profile default")
        #expect(try Self.source(container)?.hasPrefix("container credentials (http://169.254.170.2/v2/credentials/x)") == true)
        #expect(try Self.source(["AWS_CONTAINER_CREDENTIALS_FULL_URI": "http://127.0.0.1:1/c"])?.hasPrefix("container credentials (http://127.0.0.1:1/c)") == true)
        #expect(try Self.source([:])?.hasPrefix("instance metadata (http://169.254.169.254)") == true)
        #expect(try Self.source(["AWS_EC2_METADATA_SERVICE_ENDPOINT": "http://[fd00:ec2::254]"])?.hasPrefix("instance metadata (http://[fd00:ec2::254])") == true)
        #expect(try Self.source(["AWS_EC2_METADATA_DISABLED": "true"]) == nil)
        #expect(try Self.source([:], imds: false) == nil)
        // Half of a source is not that source: a secret without a key, a token file without a role.
        #expect(try Self.source(["AWS_SECRET_ACCESS_KEY": "s", "AWS_WEB_IDENTITY_TOKEN_FILE": "/t"], imds: false) == nil)
    }

    @Test("shared files: profiles from both files, the credentials file winning, region, credential_process, and each failure named")
    func sharedFiles() async throws {
        let directory = try makeTestDirectory("aws-files")
        defer { try? FileManager.default.removeItem(at: directory) }
        let credentials = directory.appendingPathComponent("credentials").path
        let config = directory.appendingPathComponent("config").path
        try """
        # comment
        [default]
        aws_access_key_id = AKIDEFAULT
        aws_secret_access_key = default-secret
        [ops]
        aws_access_key_id=AKIOPS
        aws_secret_access_key=ops-secret
        aws_session_token = ops-token
        """.write(toFile: credentials, atomically: true, encoding: .utf8)
        try """
        [default]
        region = eu-central-1
        [profile ops]
        region = ap-south-1
        aws_access_key_id = AKICONFIG
        [profile proc]
        credential_process = printf '{"Version": 1, "AccessKeyId": "AKIPROC", "SecretAccessKey": "p", "SessionToken": "t", "Expiration": "2099-01-01T00:00:00Z"}'
        [profile broken]
        credential_process = exit 3
        [profile half]
        aws_access_key_id = AKIHALF
        [sso-session corp]
        sso_region = us-east-1
        """.write(toFile: config, atomically: true, encoding: .utf8)
        let files = ["AWS_SHARED_CREDENTIALS_FILE": credentials, "AWS_CONFIG_FILE": config]
        let defaults = try #require(try CredentialChain.resolve(Self.settings(files), useInstanceMetadata: false))
        #expect(defaults.region == "eu-central-1")
        #expect(try await defaults.provider.credentials().accessKeyID == "AKIDEFAULT")
        let ops = try #require(try CredentialChain.resolve(Self.settings(files.merging(["AWS_PROFILE": "ops"]) { $1 }), useInstanceMetadata: false))
        let opsKeys = try await ops.provider.credentials()
        #expect(opsKeys.accessKeyID == "AKIOPS" && opsKeys.sessionToken == "ops-token" && ops.region == "ap-south-1")
        // AWS_REGION beats the profile's region.
        #expect(try CredentialChain.resolve(Self.settings(files.merging(["AWS_PROFILE": "ops", "AWS_REGION": "us-west-2"]) { $1 }),
                                            useInstanceMetadata: false)?.region == "us-west-2")
        let process = try #require(try CredentialChain.resolve(Self.settings(files.merging(["AWS_PROFILE": "proc"]) { $1 }), useInstanceMetadata: false))
        let processKeys = try await process.provider.credentials()
        #expect(processKeys.accessKeyID == "AKIPROC" && processKeys.sessionToken == "t")
        #expect(process.provider.source == "credential_process of profile proc")
        let broken = try #require(try CredentialChain.resolve(Self.settings(files.merging(["AWS_PROFILE": "broken"]) { $1 }), useInstanceMetadata: false))
        await #expect(throws: StorageError.self) { _ = try await broken.provider.credentials() }
        do {
            _ = try await broken.provider.credentials()
        } catch {
            #expect(error.code == .credentialsUnavailable && error.message.contains("exited with status 3"), "\(error)")
        }
        for (profile, words) in [("half", "without aws_secret_access_key"), ("missing", "not in"), ("corp", "not in")] {
            do {
                _ = try CredentialChain.resolve(Self.settings(files.merging(["AWS_PROFILE": profile]) { $1 }), useInstanceMetadata: false)
                Issue.record("profile \(profile) accepted")
            } catch {
                #expect(error.code == .credentialsUnavailable && error.message.contains("profile \(profile)") && error.message.contains(words), "\(error)")
            }
        }
    }

    @Test("temporary keys: one fetch for many callers, refreshed ahead of expiry, kept while a refresh fails and they still work")
    func refreshing() async throws {
        let clock = Mutex(Date(timeIntervalSince1970: 1_000_000))
        let plan = Mutex<[Result<TemporaryCredentials, StorageError>]>([])
        func keys(_ id: String, expiresIn seconds: TimeInterval) -> TemporaryCredentials {
            TemporaryCredentials(credentials: .init(accessKeyID: id, secretAccessKey: "s", sessionToken: "t"),
                                 expiration: clock.withLock { $0 }.addingTimeInterval(seconds))
        }
        let provider = RefreshingCredentials(source: "test", margin: 300, now: { clock.withLock { $0 } }) { () throws(StorageError) in
            try? await Task.sleep(for: .milliseconds(20))
            let next = plan.withLock { $0.isEmpty ? nil : $0.removeFirst() }
            guard let next else { throw StorageError.credentials("test", "no plan") }
            return try next.get()
        }
        plan.withLock { $0 = [.success(keys("A", expiresIn: 3600))] }
        let all = await withTaskGroup(of: String?.self) { group in
            for _ in 0..<50 { group.addTask { try? await provider.credentials().accessKeyID } }
            return await group.reduce(into: [String?]()) { $0.append($1) }
        }
        #expect(all.allSatisfy { $0 == "A" })
        #expect(await provider.fetches == 1)
        // Until 5 minutes before the expiry: the cached keys.
        clock.withLock { $0 = $0.addingTimeInterval(3600 - 301) }
        #expect(try await provider.credentials().accessKeyID == "A")
        #expect(await provider.fetches == 1)
        // Inside the margin: a refresh; when it fails, the keys that still work are kept.
        clock.withLock { $0 = $0.addingTimeInterval(2) }
        plan.withLock { $0 = [.failure(StorageError.credentials("test", "STS down"))] }
        #expect(try await provider.credentials().accessKeyID == "A")
        #expect(await provider.fetches == 2)
        plan.withLock { $0 = [.success(keys("B", expiresIn: 60))] }
        #expect(try await provider.credentials().accessKeyID == "B")
        // A short lifetime is refreshed at 80 % of it, not 5 minutes ahead.
        clock.withLock { $0 = $0.addingTimeInterval(30) }
        #expect(try await provider.credentials().accessKeyID == "B")
        clock.withLock { $0 = $0.addingTimeInterval(19) }
        plan.withLock { $0 = [.success(keys("C", expiresIn: 60))] }
        #expect(try await provider.credentials().accessKeyID == "C")
        // Expired and no refresh: the failure, naming its source.
        clock.withLock { $0 = $0.addingTimeInterval(120) }
        do {
            _ = try await provider.credentials()
            Issue.record("expired keys were used")
        } catch {
            #expect(error.code == .credentialsUnavailable && error.message.hasPrefix("test:"), "\(error)")
        }
    }

    // MARK: against moto

    /// moto (signatures checked) and the stand-in credential endpoints handing out its role's keys.
    func withEndpoints(lifetime: Double = 3600, _ body: (MotoServer, Int, String) async throws -> Void) async throws {
        try await MotoServer.with(buckets: ["media"]) { moto in
            let port = try LoopbackPort.free()
            let directory = try makeTestDirectory("credential-endpoints")
            defer { try? FileManager.default.removeItem(at: directory) }
            let server = try ManagedServerProcess(
                name: "credential_endpoints", executable: ProjectPaths.venvBin.appendingPathComponent("python").path,
                arguments: [ProjectPaths.scripts.appendingPathComponent("test/credential_endpoints.py").path, String(port), moto.endpoint,
                            moto.credentials.accessKeyID, moto.credentials.secretAccessKey, moto.credentials.roleARN,
                            "--lifetime", String(lifetime)],
                directory: directory)
            let deadline = ContinuousClock.now + .seconds(30)
            while !LoopbackPort.accepts(port) {
                guard server.isRunning, ContinuousClock.now < deadline else {
                    await server.stop()
                    throw TestEnvironmentError.serverFailed(name: "credential_endpoints.py", detail: server.logTail())
                }
                try await Task.sleep(for: .milliseconds(100))
            }
            do {
                try await body(moto, port, directory.path)
            } catch {
                await server.stop()
                throw error
            }
            await server.stop()
        }
    }

    /// A put and a head through S3Storage signed by `environment`'s chain; returns the source.
    func roundTrip(_ moto: MotoServer, _ environment: [String: String], key: String, directory: String) async throws -> String {
        let settings = Self.settings(environment.merging(["AWS_ENDPOINT_URL_S3": moto.endpoint, "AWS_REGION": moto.credentials.region]) { $1 })
        let configuration = try #require(try S3Configuration(settings: settings, allowedBuckets: ["media"]))
        let s3 = S3Storage(configuration: configuration)
        let file = directory + "/" + key
        try Data(key.utf8).write(to: URL(fileURLWithPath: file))
        do {
            try await s3.upload(file: file, to: .s3(bucket: "media", key: key), contentType: "text/plain", metadata: [:])
            #expect(try await s3.head(.s3(bucket: "media", key: key)).size == Int64(key.utf8.count))
            let keys = try await configuration.credentialProvider.credentials()
            #expect(keys.sessionToken != nil, "temporary keys carry a session token")
            #expect(keys.accessKeyID != moto.credentials.accessKeyID)
        } catch {
            await s3.shutdown()
            throw error
        }
        await s3.shutdown()
        return configuration.credentialProvider.source
    }

    @Test("each temporary source's keys and session token sign S3 requests that moto accepts: AssumeRole, web identity, container, IMDSv2")
    func temporarySourcesSignS3() async throws {
        try await withEndpoints { moto, port, directory in
            let base = "http://127.0.0.1:\(port)"
            // A profile that assumes the role with the user's keys (STS AssumeRole at moto, signed by us).
            let config = directory + "/config"
            try """
            [profile worker]
            role_arn = \(moto.credentials.roleARN)
            source_profile = base
            [profile base]
            aws_access_key_id = \(moto.credentials.accessKeyID)
            aws_secret_access_key = \(moto.credentials.secretAccessKey)
            """.write(toFile: config, atomically: true, encoding: .utf8)
            let assumed = try await roundTrip(moto, ["AWS_CONFIG_FILE": config, "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent",
                                                     "AWS_PROFILE": "worker", "AWS_ENDPOINT_URL_STS": moto.endpoint], key: "assume-role", directory: directory)
            #expect(assumed == "profile worker (assume role \(moto.credentials.roleARN))")

            let tokenFile = directory + "/web-token"
            try "web-identity-token\n".write(toFile: tokenFile, atomically: true, encoding: .utf8)
            let web = try await roundTrip(moto, ["AWS_WEB_IDENTITY_TOKEN_FILE": tokenFile, "AWS_ROLE_ARN": moto.credentials.roleARN,
                                                 "AWS_ROLE_SESSION_NAME": "worker-1", "AWS_ENDPOINT_URL_STS": base + "/sts"],
                                          key: "web-identity", directory: directory)
            #expect(web == "web identity (\(moto.credentials.roleARN))")

            let containerToken = directory + "/container-token"
            try "container-token".write(toFile: containerToken, atomically: true, encoding: .utf8)
            let container = try await roundTrip(moto, ["AWS_CONTAINER_CREDENTIALS_FULL_URI": base + "/ecs/creds",
                                                       "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE": containerToken],
                                                key: "container", directory: directory)
            #expect(container.hasPrefix("container credentials"))

            let imds = try await roundTrip(moto, ["AWS_EC2_METADATA_SERVICE_ENDPOINT": base], key: "imds", directory: directory)
            #expect(imds == "instance metadata (\(base))")

            // Role profiles whose base keys come from elsewhere: the instance's role (credential_source,
            // role chaining at moto) and a web identity token named in the profile.
            let roles = directory + "/roles"
            try """
            [profile chained]
            role_arn = \(moto.credentials.roleARN)
            credential_source = Ec2InstanceMetadata
            role_session_name = chained
            [profile pod]
            role_arn = \(moto.credentials.roleARN)
            web_identity_token_file = \(tokenFile)
            """.write(toFile: roles, atomically: true, encoding: .utf8)
            let chained = try await roundTrip(moto, ["AWS_CONFIG_FILE": roles, "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent", "AWS_PROFILE": "chained",
                                                     "AWS_EC2_METADATA_SERVICE_ENDPOINT": base, "AWS_ENDPOINT_URL_STS": moto.endpoint],
                                              key: "credential-source", directory: directory)
            #expect(chained == "profile chained (assume role \(moto.credentials.roleARN))")
            let pod = try await roundTrip(moto, ["AWS_CONFIG_FILE": roles, "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent", "AWS_PROFILE": "pod",
                                                 "AWS_ENDPOINT_URL_STS": base + "/sts"], key: "profile-web-identity", directory: directory)
            #expect(pod == "web identity (\(moto.credentials.roleARN))")
        }
    }

    @Test("role profiles that cannot work are refused at start, naming the profile: SSO, an unknown credential_source, both sources, none")
    func roleProfilesRefused() throws {
        let directory = try makeTestDirectory("role-profiles")
        defer { try? FileManager.default.removeItem(at: directory) }
        let config = directory.appendingPathComponent("config").path
        try """
        [profile sso]
        sso_session = corp
        sso_account_id = 111122223333
        [profile unknown]
        role_arn = arn:aws:iam::123456789012:role/r
        credential_source = Laptop
        [profile both]
        role_arn = arn:aws:iam::123456789012:role/r
        credential_source = Ec2InstanceMetadata
        source_profile = sso
        [profile bare]
        role_arn = arn:aws:iam::123456789012:role/r
        [profile ecs]
        role_arn = arn:aws:iam::123456789012:role/r
        credential_source = EcsContainer
        """.write(toFile: config, atomically: true, encoding: .utf8)
        for (profile, words) in [("sso", ["profile sso", "SSO", "credential_process"]), ("unknown", ["profile unknown", "credential_source Laptop"]),
                                 ("both", ["not both"]), ("bare", ["role_arn needs"]), ("ecs", ["EcsContainer", "AWS_CONTAINER_CREDENTIALS"])] {
            do throws(StorageError) {
                _ = try CredentialChain.resolve(Self.settings(["AWS_CONFIG_FILE": config, "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent",
                                                               "AWS_PROFILE": profile]), useInstanceMetadata: true)
                Issue.record("profile \(profile) was taken")
            } catch {
                #expect(error.code == .credentialsUnavailable, "\(error)")
                for word in words { #expect(error.message.contains(word), "\(error.message) lacks \(word)") }
            }
        }
    }

    @Test("each source's failure says which source and why: wrong web token, missing token file, container refusal, IMDS down")
    func failuresNameTheirSource() async throws {
        try await withEndpoints { moto, port, directory in
            let base = "http://127.0.0.1:\(port)"
            let wrongToken = directory + "/wrong"
            try "not-the-token".write(toFile: wrongToken, atomically: true, encoding: .utf8)
            let cases: [([String: String], [String])] = [
                (["AWS_WEB_IDENTITY_TOKEN_FILE": wrongToken, "AWS_ROLE_ARN": moto.credentials.roleARN, "AWS_ENDPOINT_URL_STS": base + "/sts"],
                 ["web identity", "InvalidIdentityToken"]),
                (["AWS_WEB_IDENTITY_TOKEN_FILE": directory + "/gone", "AWS_ROLE_ARN": moto.credentials.roleARN, "AWS_ENDPOINT_URL_STS": base + "/sts"],
                 ["web identity", "token file", "missing"]),
                (["AWS_CONTAINER_CREDENTIALS_FULL_URI": base + "/ecs/creds", "AWS_CONTAINER_AUTHORIZATION_TOKEN": "wrong"],
                 ["container credentials", "HTTP 401"]),
                (["AWS_EC2_METADATA_SERVICE_ENDPOINT": "http://127.0.0.1:\(try LoopbackPort.free())"], ["instance metadata", "unreachable"]),
            ]
            for (environment, words) in cases {
                let provider = try #require(try CredentialChain.resolve(Self.settings(environment), useInstanceMetadata: true)).provider
                do throws(StorageError) {
                    _ = try await provider.credentials()
                    Issue.record("\(environment) gave credentials")
                } catch {
                    #expect(error.code == .credentialsUnavailable, "\(error)")
                    for word in words { #expect(error.message.contains(word), "\(error.message) lacks \(word)") }
                    #expect(!error.message.contains(moto.credentials.secretAccessKey))
                }
            }
        }
    }

    @Test("keys that expire during a long run are refreshed ahead of time: every upload succeeds across several refreshes")
    func refreshDuringALongRun() async throws {
        // Keys that live 6 s are refreshed at 80 % of their life: a run of uploads meets several.
        try await withEndpoints(lifetime: 6) { moto, port, directory in
            let settings = Self.settings(["AWS_EC2_METADATA_SERVICE_ENDPOINT": "http://127.0.0.1:\(port)", "AWS_ENDPOINT_URL_S3": moto.endpoint,
                                          "AWS_REGION": moto.credentials.region])
            let configuration = try #require(try S3Configuration(settings: settings, allowedBuckets: ["media"]))
            let s3 = S3Storage(configuration: configuration)
            let file = directory + "/part"
            try Data(repeating: 7, count: 64 * 1024).write(to: URL(fileURLWithPath: file))
            func handedOut() throws -> Int {
                let stats = try HTTPProbe.get(port: port, path: "/stats")
                return (try JSONSerialization.jsonObject(with: Data(stats.body.utf8)) as? [String: Int])?["imds"] ?? 0
            }
            var uploads = 0
            // Bounded by count; ends as soon as the endpoint has handed out three sets of keys.
            while try handedOut() < 3 && uploads < 2000 {
                try await s3.upload(file: file, to: .s3(bucket: "media", key: "long/\(uploads % 10)"), contentType: nil, metadata: [:])
                uploads += 1
                try await Task.sleep(for: .milliseconds(20))
            }
            await s3.shutdown()
            #expect(try handedOut() >= 3, "after \(uploads) uploads")
            // One fetch per refresh, not one per request: the run ended at the third.
            let fetched = try handedOut()
            #expect(fetched <= 4, "\(fetched) fetches for \(uploads) uploads")
        }
    }
}

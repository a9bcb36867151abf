import Logging
import MediaWorker
import QueueClient
import RedisClient
import Storage
import Testing

@Suite("WorkerConfiguration")
struct WorkerConfigurationTests {
    @Test("defaults for `make run`")
    func defaults() throws {
        let configuration = try WorkerConfiguration(environment: [:])
        #expect(configuration.redisURL == RedisURL(endpoint: .tcp(host: "127.0.0.1", port: 6379)))
        #expect(configuration.httpHost == "127.0.0.1" && configuration.httpPort == 8080)
        #expect(configuration.storageRoot == "./var/storage")
        #expect(configuration.queues == ["default"])
        #expect(configuration.concurrency == 1)
        #expect(configuration.logLevel == .info)
        #expect(configuration.aws.region == "us-east-1")
        #expect(!configuration.workerID.isEmpty)
    }

    @Test("every variable is read")
    func everyVariable() throws {
        let configuration = try WorkerConfiguration(environment: [
            "MW_REDIS_URL": "redis://:pw@10.0.0.5:6380/2", "MW_HTTP_ADDR": ":9090", "MW_STORAGE_ROOT": "/srv/media",
            "MW_QUEUES": "high, default", "MW_CONCURRENCY": "4", "MW_LOG_LEVEL": "debug", "MW_WORKER_ID": "w-1",
            "MW_QUEUE_PREFIX": "media", "AWS_ACCESS_KEY_ID": "AKIA", "AWS_SECRET_ACCESS_KEY": "topsecret",
            "AWS_SESSION_TOKEN": "token", "AWS_REGION": "eu-west-1", "AWS_ENDPOINT_URL": "http://generic:9000",
            "AWS_ENDPOINT_URL_S3": "http://minio:9000",
        ])
        #expect(configuration.redisURL.password == "pw" && configuration.redisURL.database == 2)
        #expect(configuration.httpHost == "0.0.0.0" && configuration.httpPort == 9090)
        #expect(configuration.storageRoot == "/srv/media")
        #expect(configuration.queues == ["high", "default"])
        #expect(configuration.concurrency == 4)
        #expect(configuration.logLevel == .debug)
        #expect(configuration.workerID == "w-1")
        #expect(configuration.queuePrefix == "media")
        #expect(configuration.aws.accessKeyID == "AKIA" && configuration.aws.secretAccessKey == "topsecret")
        #expect(configuration.aws.sessionToken == "token" && configuration.aws.region == "eu-west-1")
        #expect(configuration.aws.endpointURL == "http://minio:9000")
    }

    @Test("AWS_ENDPOINT_URL is the fallback endpoint")
    func genericEndpoint() throws {
        let configuration = try WorkerConfiguration(environment: ["AWS_ENDPOINT_URL": "http://generic:9000"])
        #expect(configuration.aws.endpointURL == "http://generic:9000")
    }

    @Test("Redis TLS: rediss takes MW_REDIS_TLS_*; a missing CA file or TLS files with a plain URL stop the start")
    func redisTLS() throws {
        let configuration = try WorkerConfiguration(environment: ["MW_REDIS_URL": "rediss+cluster://10.0.0.1:7000,10.0.0.2:7000",
                                                                   "MW_REDIS_TLS_SERVER_NAME": "redis.internal"])
        #expect(configuration.redisURL.tls?.serverName == "redis.internal")
        #expect(configuration.redisURL.topology == .cluster(seeds: [.tcp(host: "10.0.0.1", port: 7000), .tcp(host: "10.0.0.2", port: 7000)]))
        #expect(throws: ConfigurationError.self) {
            try WorkerConfiguration(environment: ["MW_REDIS_URL": "rediss://h", "MW_REDIS_TLS_CA": "/nonexistent/ca.pem"])
        }
        #expect(throws: ConfigurationError.self) {
            try WorkerConfiguration(environment: ["MW_REDIS_URL": "redis://h", "MW_REDIS_TLS_SERVER_NAME": "h"])
        }
    }

    @Test("the AWS settings never print the secret or token")
    func secretsRedacted() throws {
        let configuration = try WorkerConfiguration(environment: ["AWS_SECRET_ACCESS_KEY": "topsecret", "AWS_SESSION_TOKEN": "tok3n"])
        #expect(!configuration.aws.description.contains("topsecret"))
        #expect(!configuration.aws.description.contains("tok3n"))
    }

    @Test("bad values name their variable", arguments: [
        ("MW_REDIS_URL", "http://localhost"), ("MW_HTTP_ADDR", "localhost"), ("MW_HTTP_ADDR", "h:70000"),
        ("MW_CONCURRENCY", "0"), ("MW_CONCURRENCY", "many"), ("MW_QUEUES", " , "), ("MW_QUEUES", "a b"),
        ("MW_LOG_LEVEL", "loud"), ("MW_QUEUE_PREFIX", "a:b"),
    ])
    func refused(variable: String, value: String) {
        #expect {
            try WorkerConfiguration(environment: [variable: value])
        } throws: { error in
            (error as? ConfigurationError)?.variable == variable
        }
    }
}

@Suite("ReadinessState")
struct ReadinessStateTests {
    @Test("ready only with Redis reachable and not draining")
    func readiness() {
        let state = ReadinessState()
        #expect(!state.report.ready)
        state.setRedis(reachable: true)
        #expect(state.report.ready)
        state.setRedis(reachable: false, detail: "REDIS_CONNECTION: refused")
        #expect(!state.report.ready && state.report.detail == "REDIS_CONNECTION: refused")
        state.setRedis(reachable: true)
        state.startDraining()
        #expect(!state.report.ready && state.report.draining)
    }

    @Test("the dashboard's variables: defaults, an empty value is unset, bad values name their variable")
    func dashboardSettings() throws {
        let defaults = try DashboardSettings(environment: ["MW_DASHBOARD_TOKEN": "", "MW_DASHBOARD_TLS_CERT": ""])
        #expect(defaults.token == nil && defaults.tlsCertificate == nil && defaults.tlsKey == nil)
        #expect(defaults.sessionLifetime == .seconds(43200) && defaults.allowedHosts.isEmpty)
        let set = try DashboardSettings(environment: [
            "MW_DASHBOARD_TOKEN": "0123456789abcdef", "MW_DASHBOARD_SESSION_S": "600",
            "MW_DASHBOARD_ALLOWED_HOSTS": "Media.Example.com, ops.example.com", "MW_DASHBOARD_TLS_CERT": "/c.pem", "MW_DASHBOARD_TLS_KEY": "/k.pem",
        ])
        #expect(set.token == "0123456789abcdef" && set.sessionLifetime == .seconds(600))
        #expect(set.allowedHosts == ["media.example.com", "ops.example.com"])
        #expect(set.tlsCertificate == "/c.pem" && set.tlsKey == "/k.pem")
        for (variable, value) in [("MW_DASHBOARD_TOKEN", "short"), ("MW_DASHBOARD_SESSION_S", "5"), ("MW_DASHBOARD_SESSION_S", "1e99"),
                                  ("MW_DASHBOARD_ALLOWED_HOSTS", "example.com:443"), ("MW_DASHBOARD_ALLOWED_HOSTS", "https://example.com")] {
            #expect(throws: ConfigurationError.self, "\(variable)=\(value)") { try DashboardSettings(environment: [variable: value]) }
            do {
                _ = try DashboardSettings(environment: [variable: value])
            } catch {
                #expect(error.variable == variable)
            }
        }
    }

    @Test("server-side encryption for S3 from MW_S3_SSE*, a bad value named by its variable")
    func serverSideEncryption() throws {
        #expect(try WorkerConfiguration(environment: [:]).s3ServerSideEncryption == nil)
        #expect(try WorkerConfiguration(environment: ["MW_S3_SSE": "AES256"]).s3ServerSideEncryption == .s3)
        let kms = try WorkerConfiguration(environment: ["MW_S3_SSE": "aws:kms", "MW_S3_SSE_KMS_KEY_ID": "alias/media", "MW_S3_SSE_BUCKET_KEY": "1"])
        #expect(kms.s3ServerSideEncryption == .kms(keyID: "alias/media", bucketKey: true))
        do {
            _ = try WorkerConfiguration(environment: ["MW_S3_SSE": "AES256", "MW_S3_SSE_KMS_KEY_ID": "alias/media"])
            Issue.record("a KMS key with AES256 accepted")
        } catch {
            #expect(error.variable == "MW_S3_SSE_KMS_KEY_ID")
        }
    }

    @Test("HLS keys: MW_HLS_KEY_URL needs {key_id} and knows only its placeholders; MW_HLS_KEY_STORE is a storage URL; both unset by default")
    func hlsKeys() throws {
        #expect(try WorkerConfiguration(environment: [:]).hlsKeys == HLSKeySettings())
        let keys = try WorkerConfiguration(environment: ["MW_HLS_KEY_URL": "https://keys.example.com/{file_id}/{version}/{key_id}",
                                                         "MW_HLS_KEY_STORE": "s3://private/keys/"]).hlsKeys
        #expect(keys.keyURL(keyID: "k1", fileID: "movie-7", version: "v2") == "https://keys.example.com/movie-7/v2/k1")
        #expect(keys.store == "s3://private/keys/")
        for (variable, value) in [("MW_HLS_KEY_URL", "https://keys.example.com/{file_id}"), ("MW_HLS_KEY_URL", "https://k/{key_id}/{movie}"),
                                  ("MW_HLS_KEY_URL", "https://k/\"{key_id}"), ("MW_HLS_KEY_STORE", "keys/")] {
            do {
                _ = try WorkerConfiguration(environment: [variable: value])
                Issue.record("\(variable)=\(value) accepted")
            } catch {
                #expect(error.variable == variable)
            }
        }
    }

    @Test("speech recognition: Whisper when MW_ASR_COMMAND names a program, else pocketsphinx when its model is installed; an engine asked for and missing stops the start naming its variable")
    func speechRecognition() throws {
        let whisper = try WorkerConfiguration(environment: ["MW_ASR_COMMAND": "/bin/echo --flag", "MW_ASR_MODEL": "tiny.en", "PATH": "/usr/bin:/bin"])
        #expect(whisper.speechRecognition.engine == .whisper(command: ["/bin/echo", "--flag"], model: "tiny.en"))
        let onPath = try WorkerConfiguration(environment: ["MW_ASR_COMMAND": "echo", "PATH": "/usr/bin:/bin"])
        #expect(onPath.speechRecognition.engine == .whisper(command: ["/usr/bin/echo"], model: nil) || onPath.speechRecognition.engine == .whisper(command: ["/bin/echo"], model: nil))
        let installed = SpeechRecognitionSettings.pocketsphinxModelExists(SpeechRecognitionSettings.defaultPocketsphinxModel)
        #expect(installed, "Debian's pocketsphinx-en-us is installed by scripts/install-deps.sh")
        #expect(try WorkerConfiguration(environment: [:]).speechRecognition.engine == .pocketsphinx(model: SpeechRecognitionSettings.defaultPocketsphinxModel))
        #expect(try WorkerConfiguration(environment: ["MW_ASR_ENGINE": "off", "MW_ASR_COMMAND": "/bin/echo"]).speechRecognition.engine == nil)
        for (environment, variable) in [(["MW_ASR_COMMAND": "/nonexistent/whisper"], "MW_ASR_COMMAND"), (["MW_ASR_ENGINE": "whisper"], "MW_ASR_COMMAND"),
                                        (["MW_ASR_ENGINE": "pocketsphinx", "MW_ASR_POCKETSPHINX_MODEL": "/nonexistent"], "MW_ASR_POCKETSPHINX_MODEL"),
                                        (["MW_ASR_ENGINE": "vosk"], "MW_ASR_ENGINE"), (["MW_ASR_COMMAND": "/bin/echo", "MW_ASR_MODEL": "/nonexistent/model"], "MW_ASR_MODEL"),
                                        (["MW_ASR_TIMEOUT_FACTOR": "0"], "MW_ASR_TIMEOUT_FACTOR")] {
            do {
                _ = try WorkerConfiguration(environment: environment)
                Issue.record("\(environment) accepted")
            } catch {
                #expect(error.variable == variable, "\(environment): \(error)")
            }
        }
    }

    @Test("the headers of outputs: defaults by kind, MW_CACHE_CONTROL_* and MW_CONTENT_TYPES, bad values named")
    func objectHeaders() throws {
        let defaults = try WorkerConfiguration(environment: [:]).objectHeaders
        #expect(defaults.cacheControl(of: "hls/720p/seg-00001.m4s") == "public, max-age=31536000, immutable")
        #expect(defaults.cacheControl(of: "hls/720p/index.m3u8") == "public, max-age=60")
        #expect(defaults.cacheControl(of: "dash/manifest.mpd") == "public, max-age=60")
        #expect(defaults.stableCacheControl == "no-cache")
        #expect(defaults.contentType(of: "poster.JPG") == "image/jpeg" && defaults.contentType(of: "a.webp") == "image/webp")
        #expect(defaults.contentType(of: "manifest.mpd") == "application/dash+xml" && defaults.contentType(of: "README") == "application/octet-stream")
        let set = try WorkerConfiguration(environment: [
            "MW_CACHE_CONTROL_IMMUTABLE": "public, max-age=86400", "MW_CACHE_CONTROL_STABLE": "public, max-age=5",
            "MW_CONTENT_TYPES": ".m4s=video/mp4, srt=application/x-subrip",
        ]).objectHeaders
        #expect(set.cacheControl(of: "x.ts") == "public, max-age=86400" && set.stableCacheControl == "public, max-age=5")
        #expect(set.contentType(of: "seg.m4s") == "video/mp4" && set.contentType(of: "en.srt") == "application/x-subrip")
        #expect(set.contentType(of: "index.m3u8") == "application/vnd.apple.mpegurl")
        for (variable, value) in [("MW_CONTENT_TYPES", "m4s"), ("MW_CONTENT_TYPES", "m4s=video"), ("MW_CONTENT_TYPES", "../x=a/b"),
                                  ("MW_CACHE_CONTROL_STABLE", "no-cache\r\nX-Evil: 1")] {
            do {
                _ = try WorkerConfiguration(environment: [variable: value])
                Issue.record("\(variable)=\(value) accepted")
            } catch {
                #expect(error.variable == variable)
            }
        }
    }

    @Test("traces: off unless an OTLP endpoint or OTEL_TRACES_EXPORTER=otlp is set; link by default; what is not built in is refused")
    func tracing() throws {
        #expect(try WorkerConfiguration(environment: [:]).tracing.enabled == false)
        #expect(try WorkerConfiguration(environment: ["OTEL_SERVICE_NAME": "media"]).tracing.enabled == false)
        let shared = try TracingSettings(environment: ["OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"])
        #expect(shared.enabled && shared.endpoint == "http://collector:4318/v1/traces" && shared.producerSpan == .link)
        let specific = try TracingSettings(environment: ["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/custom", "MW_TRACE_PRODUCER_SPAN": "child"])
        #expect(specific.enabled && specific.endpoint == "http://collector:4318/custom" && specific.producerSpan == .child)
        let byName = try TracingSettings(environment: ["OTEL_TRACES_EXPORTER": "otlp"])
        #expect(byName.enabled && byName.endpoint == "http://localhost:4318/v1/traces")
        #expect(try TracingSettings(environment: ["OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_SDK_DISABLED": "true"]).enabled == false)
        #expect(try TracingSettings(environment: ["OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_TRACES_EXPORTER": "none"]).enabled == false)
        #expect(try TracingSettings(environment: ["OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf"]).enabled)
        for (variable, value, extra) in [
            ("MW_TRACE_PRODUCER_SPAN", "parent", [String: String]()),
            ("OTEL_TRACES_EXPORTER", "zipkin", [:]),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc", ["OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4317"]),
            ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/json", ["OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"]),
            ("OTEL_PROPAGATORS", "b3", ["OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"]),
        ] {
            #expect(throws: ConfigurationError.self, "\(variable)=\(value)") {
                try WorkerConfiguration(environment: extra.merging([variable: value]) { $1 })
            }
            do {
                _ = try WorkerConfiguration(environment: extra.merging([variable: value]) { $1 })
            } catch {
                #expect(error.variable == variable, "\(error)")
            }
        }
    }
}

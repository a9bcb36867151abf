// swift-tools-version:6.1
import PackageDescription

let package = Package(
    name: "MediaWorker",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "media-worker", targets: ["media-worker"]),
        .library(name: "MediaWorker", targets: ["MediaWorker"]),
        // The job contract alone (envelope, typed options, schemas): for producers' tools, fuzzers, tests.
        .library(name: "JobContract", targets: ["JobContract"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache", from: "2.1.1"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-distributed-tracing", from: "1.7.3"),
    ],
    targets: [
        // FFmpeg's libraries, found through pkg-config; only CFFmpegShim includes them.
        .systemLibrary(
            name: "CLibAV",
            pkgConfig: "libavformat",
            providers: [.apt(["libavformat-dev", "libavcodec-dev", "libavutil-dev", "libswscale-dev", "libswresample-dev", "libavfilter-dev"])]
        ),
        // zlib, for gzip request bodies (OTLP export with OTEL_EXPORTER_OTLP_COMPRESSION=gzip).
        .systemLibrary(
            name: "CZlib",
            pkgConfig: "zlib",
            providers: [.apt(["zlib1g-dev"])]
        ),
        // hiredis 0.14; only QueueClient includes it.
        .systemLibrary(
            name: "CHiredis",
            pkgConfig: "hiredis",
            providers: [.apt(["libhiredis-dev"])]
        ),
        // The pipe under the Redis protocol: TCP, unix sockets and TLS (OpenSSL from Debian).
        .target(
            name: "CRedisTransport",
            cSettings: [.unsafeFlags(["-Wall", "-Wextra", "-Wno-unused-parameter"])],
            linkerSettings: [.linkedLibrary("ssl"), .linkedLibrary("crypto")]
        ),
        // posix_spawn's GNU extras (closing every inherited descriptor) for the engines the worker runs.
        .target(
            name: "CProcessSpawn",
            cSettings: [.unsafeFlags(["-Wall", "-Wextra"])]
        ),
        // Every libav* call, foldered by concern: core/ (input, limits, decode chains), probe/,
        // transcode/, package/ (segments, playlists), bitstream/ (codec strings, MP4 boxes),
        // stills/, compose/, subtitles/, analysis/. Internal headers are included by folder.
        .target(
            name: "CFFmpegShim",
            dependencies: ["CLibAV"],
            cSettings: [.headerSearchPath("."), .unsafeFlags(["-Wall", "-Wextra", "-Wno-unused-parameter"])],
            linkerSettings: [
                .linkedLibrary("avformat"), .linkedLibrary("avcodec"), .linkedLibrary("avutil"),
                .linkedLibrary("swscale"), .linkedLibrary("swresample"), .linkedLibrary("avfilter"),
                .linkedLibrary("espeak-ng"), .linkedLibrary("ass"),
                .linkedLibrary("m"),
            ]
        ),
        // The job contract: envelope, typed options per job type, the schemas of contracts/ and a
        // validator for them. Foundation and swift-crypto only: no server stack.
        .target(
            name: "JobContract",
            dependencies: [.product(name: "Crypto", package: "swift-crypto")]
        ),
        // A Redis client on hiredis: URL forms, transport (TCP, unix, TLS), node pipelining,
        // Cluster slots, Sentinel, scripts by SHA. Knows nothing of the queue.
        .target(
            name: "RedisClient",
            dependencies: [
                "CHiredis",
                "CRedisTransport",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        // The queue on Redis: its Lua scripts are files in Lua/ (embedded by scripts/embed-lua.py).
        .target(
            name: "QueueClient",
            dependencies: [
                "RedisClient",
                "JobContract",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            exclude: ["Lua"]
        ),
        // The one escaper of text inside XML and HTML (dashboard pages, DASH manifests, S3 bodies).
        .target(name: "MarkupEscaping"),
        // Where outputs go: local folders and S3 (our SigV4 client on async-http-client), behind
        // one `Storage` protocol; nothing of jobs or the dashboard.
        .target(
            name: "Storage",
            dependencies: [
                "MarkupEscaping",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOFoundationCompat", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        .target(
            name: "MediaWorker",
            dependencies: [
                "CFFmpegShim",
                "CProcessSpawn",
                "JobContract",
                "RedisClient",
                "Storage",
                "MarkupEscaping",
                "QueueClient",
                "CZlib",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "Mustache", package: "swift-mustache"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
            ],
            // The dashboard's templates and assets are embedded (scripts/embed-dashboard.py).
            exclude: ["Dashboard/Templates", "Dashboard/Assets"]
        ),
        .executableTarget(
            name: "media-worker",
            dependencies: ["MediaWorker"]
        ),
        // Starts private redis-server and moto_server processes for tests and benchmarks.
        .target(
            name: "TestSupport",
            dependencies: ["CProcessSpawn"]
        ),
        .testTarget(name: "TestSupportTests", dependencies: ["TestSupport"]),
        .testTarget(name: "CFFmpegShimTests", dependencies: ["CFFmpegShim", "TestSupport"]),
        .testTarget(name: "RedisClientTests", dependencies: ["RedisClient", "TestSupport"]),
        .testTarget(name: "QueueClientTests", dependencies: ["QueueClient", "RedisClient", "JobContract", "TestSupport"]),
        .testTarget(name: "StorageTests", dependencies: [
            "Storage", "TestSupport",
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
        ]),
        .testTarget(name: "JobContractTests", dependencies: ["JobContract", "TestSupport"]),
        .testTarget(name: "MediaWorkerTests", dependencies: [
            "MediaWorker", "JobContract", "RedisClient", "QueueClient", "Storage", "MarkupEscaping", "media-worker", "TestSupport",
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "Tracing", package: "swift-distributed-tracing"),
        ]),
    ]
)

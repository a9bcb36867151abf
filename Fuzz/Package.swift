// swift-tools-version:6.0
// libFuzzer targets over MediaWorker's Swift code, built with sanitizers by Fuzz/run.sh:
//   swift build --package-path Fuzz -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library
import Foundation
import PackageDescription

// A path dependency is known by its folder's name, whatever the clone is called.
let parent = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().lastPathComponent

let package = Package(
    name: "MediaWorkerFuzz",
    platforms: [.macOS(.v14)],
    dependencies: [.package(path: "..")],
    targets: [
        .executableTarget(name: "JobDecoderFuzzer", dependencies: [.product(name: "JobContract", package: parent)]),
    ]
)

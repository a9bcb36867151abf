import Foundation

/// Where the package's own files are, for tests and benchmarks.
public enum ProjectPaths {
    /// The package root: three levels above this file.
    public static let root: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    public static var fixturesDirectory: URL { root.appendingPathComponent("Fixtures/.cache") }
    public static var venvBin: URL { root.appendingPathComponent(".venv/bin") }
    public static var scripts: URL { root.appendingPathComponent("scripts") }

    /// A generated fixture's path; fails with the command that makes them when absent.
    public static func fixture(_ name: String) throws -> String {
        let path = fixturesDirectory.appendingPathComponent(name).path
        guard FileManager.default.fileExists(atPath: path) else {
            throw TestEnvironmentError.missing(what: "fixture \(name)", hint: "run `make fixtures` (Fixtures/generate.sh)")
        }
        return path
    }

    /// The folder of the binaries built with the running test bundle (.build/<config>).
    public static var buildProducts: URL {
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var url = URL(fileURLWithPath: exe).deletingLastPathComponent()
        // On Linux the test runner is <products>/<Package>PackageTests.xctest.
        if url.pathExtension == "xctest" { url = url.deletingLastPathComponent() }
        return url
    }

    /// A product built beside the tests, e.g. `media-worker`.
    public static func executable(_ name: String) throws -> String {
        let path = buildProducts.appendingPathComponent(name).path
        guard FileManager.default.isExecutableFile(atPath: path) else {
            throw TestEnvironmentError.missing(what: "the \(name) executable at \(path)", hint: "run `swift build` first")
        }
        return path
    }

    /// A program on PATH, or an error naming the Debian package that has it.
    public static func tool(_ name: String, package: String) throws -> String {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for directory in path.split(separator: ":") {
            let candidate = "\(directory)/\(name)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        throw TestEnvironmentError.missing(what: "\(name)", hint: "run `make deps` (apt-get install \(package))")
    }
}

/// A test cannot run because something it needs is absent: it fails, saying how to install it.
public enum TestEnvironmentError: Error, CustomStringConvertible {
    case missing(what: String, hint: String)
    case serverFailed(name: String, detail: String)

    public var description: String {
        switch self {
        case .missing(let what, let hint): return "\(what) is not available: \(hint)"
        case .serverFailed(let name, let detail): return "\(name) did not start: \(detail)"
        }
    }
}

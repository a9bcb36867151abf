import Foundation
import TestSupport
import Testing

// Real players as judges: a package is good when they play it to its end.

/// Plays `master` (relative to `root`) to its end in GStreamer's playbin3 (hlsdemux2) over HTTP
/// from a private loopback server: a client nobody here wrote (`scripts/test/gst_play.py`).
func playInGStreamer(root: String, master: String, timeout: Duration = .seconds(300)) async throws -> (ok: Bool, report: String) {
    _ = try ProjectPaths.tool("gst-launch-1.0", package: "gstreamer1.0-tools gstreamer1.0-plugins-good gstreamer1.0-plugins-bad gstreamer1.0-libav")
    let python = ProjectPaths.venvBin.appendingPathComponent("python").path
    let result = try await CommandRunner.run(python, [
        ProjectPaths.scripts.appendingPathComponent("test/gst_play.py").path, root, master, "--timeout", String(Int(timeout.seconds)),
    ], timeout: timeout + .seconds(30))
    return (result.succeeded, result.stdout + result.stderr)
}

/// Plays a manifest (relative to `root`) to its end in Video.js 7 (PyPI js.videojs) in headless
/// Chromium over HTTP from a private loopback server (`scripts/test/videojs_play.py`).
func playInVideoJS(root: String, manifest: String, timeout: Duration = .seconds(120)) async throws -> (ok: Bool, report: String) {
    _ = try ProjectPaths.tool("chromium", package: "chromium")
    _ = try ProjectPaths.tool("chromedriver", package: "chromium-driver")
    let python = ProjectPaths.venvBin.appendingPathComponent("python").path
    let result = try await CommandRunner.run(python, [
        ProjectPaths.scripts.appendingPathComponent("test/videojs_play.py").path, root, manifest, "--timeout", String(Int(timeout.seconds)),
    ], timeout: timeout + .seconds(60))
    return (result.succeeded, result.stdout + result.stderr)
}

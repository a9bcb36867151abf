import Foundation
import JobContract
import Storage

/// A transcode's stills: the poster, evenly spaced thumbnails and the storyboard (sprite + WebVTT),
/// written into `output` and described as event data with their URLs under `prefix`.
enum TranscodeStills {
    static func make(input path: String, output: String, prefix: StorageLocation, thumbnails: Int, storyboard: Bool,
                     limits: MediaLimits) async throws -> [String: JSONValue] {
        var stills: [String: JSONValue] = [:]
        try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
        let poster = try await MediaStills.poster(input: path, outputPath: output + "/poster.jpg", image: ImageSpec(maxWidth: 1280, maxHeight: 1280),
                                                  limits: limits)
        stills["poster"] = poster.json(url: prefix.appending("poster.jpg"))
        if thumbnails > 0 {
            try FileManager.default.createDirectory(atPath: output + "/thumbnails", withIntermediateDirectories: true)
            let images = try await MediaStills.thumbnails(input: path, outputDirectory: output + "/thumbnails", count: thumbnails,
                                                          image: ImageSpec(maxWidth: 640), limits: limits)
            stills["thumbnails"] = .array(images.map { image in
                image.json(url: prefix.appending("thumbnails/" + (image.path.split(separator: "/").last.map(String.init) ?? "")))
            })
        }
        if storyboard {
            // The cues name the sprite by its relative URL: both files sit side by side wherever they are served.
            let board = try await MediaStills.storyboard(input: path, spritePath: output + "/storyboard.jpg", vttPath: output + "/storyboard.vtt",
                                                         spriteURL: "storyboard.jpg", limits: limits)
            stills["storyboard"] = .object([
                "image": .string(prefix.appending("storyboard.jpg").description), "vtt": .string(prefix.appending("storyboard.vtt").description),
                "tile_width": .integer(board.tileWidth), "tile_height": .integer(board.tileHeight),
                "tiles": .integer(board.count), "interval_s": .double(board.intervalSeconds),
            ])
        }
        return stills
    }
}

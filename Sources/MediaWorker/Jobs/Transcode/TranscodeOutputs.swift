import JobContract
import Storage

/// What `TranscodeCompleted` says of a package, the same for a one-pass and a stitched one.
enum TranscodeOutputs {
    /// The source's audio streams' language tags, by stream index.
    static func languages(_ info: MediaInfo) -> [Int: String] {
        Dictionary(info.audioStreams.compactMap { stream in stream.language.map { (stream.index, $0) } }) { first, _ in first }
    }

    /// Each rendition: kind, playlist URL, codecs, measured bandwidths, resolution, frame rate.
    static func renditions(_ renditions: [HLSRendition], prefix: StorageLocation) -> [JSONValue] {
        renditions.map { rendition in
            var fields: [String: JSONValue] = [
                "kind": .string(rendition.kind.rawValue), "playlist": .string(prefix.appending("hls/" + rendition.playlist).description),
                "codecs": .string(rendition.codecs), "bandwidth": .integer(rendition.peakBitrate),
                "average_bandwidth": .integer(rendition.averageBitrate),
            ]
            if let width = rendition.width, let height = rendition.height { fields["resolution"] = .string("\(width)x\(height)") }
            if let rate = rendition.frameRate { fields["frame_rate"] = .double((rate * 1000).rounded() / 1000) }
            return .object(fields)
        }
    }

    /// Adds the masters: `hls_master`, the stable name that plays whatever is published last,
    /// and `hls_master_version`, this version's own.
    static func addMasters(_ version: OutputVersion, to outputs: inout [String: JSONValue]) {
        outputs["hls_master"] = .string(version.stableMaster?.description ?? "")
        outputs["hls_master_version"] = .string(version.masterInVersion.description)
    }

    /// `data.stable_urls`: every URL of the event that stays valid across re-runs (the stable
    /// master); all the others lead into the version (docs/storage.md, "Which URLs are stable").
    static func stableURLs(_ version: OutputVersion, hasMaster: Bool = true) -> JSONValue {
        guard hasMaster, let master = version.stableMaster else { return .array([]) }
        return .array([.string(master.description)])
    }

    /// Adds the per-codec masters (`hls_codec_masters`: codec → URL) when the ladder has several codecs.
    static func addCodecMasters(_ renditions: [HLSRendition], prefix: StorageLocation, to outputs: inout [String: JSONValue]) {
        let masters = MasterPlaylist.perCodec(renditions)
        guard !masters.isEmpty else { return }
        outputs["hls_codec_masters"] = .object(Dictionary(uniqueKeysWithValues: masters.map { master in
            (master.codec.rawValue, JSONValue.string(prefix.appending("hls/" + master.name).description))
        }))
    }

    /// Adds the DASH manifest (`dash_manifest`) and, with several codecs, one per codec (`dash_codec_manifests`).
    static func addDASH(_ renditions: [HLSRendition], prefix: StorageLocation, to outputs: inout [String: JSONValue]) {
        outputs["dash_manifest"] = .string(prefix.appending("hls/" + DASHManifest.fileName).description)
        let codecs = Set(renditions.compactMap(\.codec))
        guard codecs.count > 1 else { return }
        outputs["dash_codec_manifests"] = .object(Dictionary(uniqueKeysWithValues: codecs.map { codec in
            (codec.rawValue, JSONValue.string(prefix.appending("hls/manifest-\(codec.rawValue).mpd").description))
        }))
    }

    /// Adds the subtitle renditions (`subtitles`: language, name, HLS playlist, whole WebVTT file),
    /// each with where its whole file is, relative to the version.
    static func addSubtitles(_ subtitles: [(rendition: SubtitleRendition, webvtt: String)], prefix: StorageLocation,
                             to outputs: inout [String: JSONValue]) {
        guard !subtitles.isEmpty else { return }
        outputs["subtitles"] = .array(subtitles.map { track, webvtt in
            .object([
                "language": track.language.map(JSONValue.string) ?? .null, "name": .string(track.name), "default": .bool(track.isDefault),
                "cues": .integer(track.cueCount), "playlist": .string(prefix.appending("hls/" + track.playlist).description),
                "webvtt": .string(prefix.appending(webvtt).description),
            ])
        })
    }
}

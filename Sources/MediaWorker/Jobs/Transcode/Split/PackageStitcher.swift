import Foundation

/// Joins the parts of a split transcode into one HLS package by writing playlists only: each
/// rung's media and I-frame playlists list every chunk's segments in order (URIs into the parts'
/// folders), the audio's its own, and the master is written as for a one-pass package. Nothing
/// is re-muxed: the chunks' segments already carry continuous decode times.
///
/// Before writing anything it checks that the parts fit together: every chunk made the same
/// rungs with a byte-identical init segment (the same parameter sets), and chunk after chunk
/// the segments follow on without a gap or an overlap.
enum PackageStitcher {
    struct Package {
        /// Files to write, by path relative to the version (`hls/720p/index.m3u8`).
        var files: [String: String]
        var renditions: [HLSRendition]
        var durationSeconds: Double
    }

    struct Mismatch: Error, CustomStringConvertible {
        var code: String
        var message: String
        var description: String { "\(code): \(message)" }
    }

    static func stitch(chunks: [PartResult], audio: PartResult?, timelineOffset: Double = MasterPlaylist.defaultTimelineOffset,
                       duration: Double? = nil, dash: Bool = false) throws(Mismatch) -> Package {
        let chunks = chunks.sorted { ($0.start ?? 0) < ($1.start ?? 0) }
        guard let first = chunks.first else { throw Mismatch(code: "TRANSCODE_CHUNK_MISSING", message: "no video chunk") }
        let names = first.renditions.map(\.name)
        var files: [String: String] = [:]
        var renditions: [HLSRendition] = []
        for (position, chunk) in chunks.enumerated() {
            guard chunk.renditions.map(\.name) == names else {
                throw Mismatch(code: "TRANSCODE_CHUNK_MISMATCH", message: "chunk \(chunk.asset) made rungs \(chunk.renditions.map(\.name)), chunk \(first.asset) \(names)")
            }
            if position > 0 {
                let previous = chunks[position - 1]
                guard let end = previous.end, let start = chunk.start, abs(end - start) < 1e-6 else {
                    throw Mismatch(code: "TRANSCODE_CHUNK_GAP", message: "chunk \(chunk.asset) does not start where chunk \(previous.asset) ends")
                }
            }
        }
        for (index, name) in names.enumerated() {
            let parts = chunks.map { $0.renditions[index] }
            let reference = parts[0]
            for (chunk, part) in zip(chunks, parts) where part.initDigest != reference.initDigest || part.codecs != reference.codecs {
                throw Mismatch(code: "TRANSCODE_CHUNK_MISMATCH",
                               message: "chunk \(chunk.asset) encoded \(name) with other parameter sets than chunk \(chunks[0].asset) (\(part.codecs) against \(reference.codecs))")
            }
            // Segment numbers follow on from chunk to chunk.
            let numbers = parts.flatMap(\.segments).map { segmentNumber($0.uri) }
            guard numbers == Array(0..<numbers.count).map(Optional.some) else {
                throw Mismatch(code: "TRANSCODE_CHUNK_GAP", message: "\(name): the chunks' segments do not follow on (\(numbers.compactMap { $0 }.prefix(20)))")
            }
            files["hls/\(name)/index.m3u8"] = mediaPlaylist(initURI: reference.initURI, segments: parts.flatMap(\.segments))
            files["hls/\(name)/iframes.m3u8"] = iframePlaylist(initURI: reference.initURI, iframes: parts.flatMap(\.iframes))
            renditions.append(joined(parts, name: name, kind: .video))
        }
        for track in audio?.renditions ?? [] {
            files["hls/\(track.name)/index.m3u8"] = mediaPlaylist(initURI: track.initURI, segments: track.segments)
            renditions.append(joined([track], name: track.name, kind: .audio))
        }
        let subtitles = audio?.subtitles ?? []
        for track in subtitles {
            files["hls/\(track.rendition.playlist)"] = rebased(track.playlist, folder: track.folder)
        }
        files["hls/master.m3u8"] = MasterPlaylist.render(renditions, subtitles: subtitles.map(\.rendition))
        for master in MasterPlaylist.perCodec(renditions, subtitles: subtitles.map(\.rendition)) { files["hls/" + master.name] = master.text }
        let total = duration ?? renditions.map(\.durationSeconds).max() ?? 0
        if dash {
            let periods = dashPeriods(chunks: chunks, audio: audio, duration: total)
            for (index, period) in periods.enumerated() {
                for track in subtitles {
                    // A side-loaded WebVTT per period, its cues' times from the period's start.
                    let end = index + 1 < periods.count ? periods[index + 1].start : total
                    let cues = WebVTT.cues(track.webvtt).filter { $0.start < end && $0.end > period.start }.map { cue in
                        WebVTT.Cue(start: max(0, cue.start - period.start), end: cue.end - period.start, settings: cue.settings, text: cue.text)
                    }
                    files["hls/\(track.rendition.folder)/p\(index).vtt"] = WebVTT.render(cues, timelineOffset: nil)
                }
            }
            let withText = periods.enumerated().map { index, period in
                DASHManifest.Period(start: period.start, tracks: period.tracks + subtitles.map { track in
                    var text = DASHManifest.Track(subtitles: track.rendition)
                    text.wholeFile = "\(track.rendition.folder)/p\(index).vtt"
                    return text
                })
            }
            for manifest in DASHManifest.manifests(withText, duration: total, offset: timelineOffset) { files["hls/" + manifest.name] = manifest.text }
        }
        return Package(files: files, renditions: renditions, durationSeconds: total)
    }

    /// The figures of a rendition made of parts: the peak is the highest part's, the average
    /// weighs each part by its own length (its segments': a chunk's `durationSeconds` is where it
    /// ends on the package's timeline, not how long it lasts).
    static func joined(_ parts: [ChunkRendition], name: String, kind: HLSRendition.Kind) -> HLSRendition {
        func length(_ part: ChunkRendition) -> Double { part.segments.reduce(0) { $0 + $1.duration } }
        let duration = parts.reduce(0) { $0 + length($1) }
        func average(_ value: (ChunkRendition) -> Int?) -> Int? {
            guard duration > 0, parts.allSatisfy({ value($0) != nil }) else { return nil }
            return Int((parts.reduce(0.0) { $0 + Double(value($1)!) * length($1) } / duration).rounded(.up))
        }
        let first = parts[0]
        return HLSRendition(
            kind: kind, playlist: "\(name)/index.m3u8", iframePlaylist: kind == .video ? "\(name)/iframes.m3u8" : nil,
            width: first.width, height: first.height, frameRate: first.frameRate, codecs: first.codecs,
            peakBitrate: parts.map(\.peakBitrate).max() ?? 0, averageBitrate: average { $0.averageBitrate } ?? 0,
            iframePeakBitrate: kind == .video ? parts.compactMap(\.iframePeakBitrate).max() : nil,
            iframeAverageBitrate: kind == .video ? average { $0.iframeAverageBitrate } : nil,
            audioChannels: first.audioChannels, segmentCount: parts.reduce(0) { $0 + $1.segments.count },
            durationSeconds: duration, audioWaitPeakSeconds: nil, language: first.language, name: first.title)
    }

    /// A part's own playlist with its segment names made relative to `hls/<track>/` (two levels up
    /// to the version, then into the part's folder).
    static func rebased(_ playlist: String, folder: String) -> String {
        playlist.split(separator: "\n", omittingEmptySubsequences: false).map { line in
            line.isEmpty || line.hasPrefix("#") ? String(line) : relative(folder + line)
        }.joined(separator: "\n")
    }

    /// A DASH period per chunk: each rung's segments in the chunk's part folder, the audio's
    /// segments of the same numbers (the last period takes the rest) in the audio part's folder.
    static func dashPeriods(chunks: [PartResult], audio: PartResult?, duration: Double) -> [DASHManifest.Period] {
        func track(_ rendition: ChunkRendition, kind: HLSRendition.Kind, segments: [ChunkRendition.Segment]) -> DASHManifest.Track? {
            guard let first = segments.first, let number = segmentNumber(first.uri) else { return nil }
            let folder = String(first.uri[..<(first.uri.lastIndex(of: "/") ?? first.uri.startIndex)])
            let joined = joined([rendition], name: rendition.name, kind: kind)
            return DASHManifest.Track(joined, id: rendition.name, initialization: "../" + rendition.initURI,
                                      media: "../" + folder + "/seg-$Number%05d$.m4s", startNumber: number, durations: segments.map(\.duration))
        }
        return chunks.enumerated().map { index, chunk in
            var tracks = chunk.renditions.compactMap { track($0, kind: .video, segments: $0.segments) }
            let numbers = chunk.renditions.first?.segments.compactMap { segmentNumber($0.uri) } ?? []
            let low = numbers.min() ?? 0, high = index == chunks.count - 1 ? Int.max : (numbers.max() ?? 0)
            for rendition in audio?.renditions ?? [] {
                let mine = rendition.segments.filter { segment in segmentNumber(segment.uri).map { (low...high).contains($0) } ?? false }
                if let audioTrack = track(rendition, kind: .audio, segments: mine) { tracks.append(audioTrack) }
            }
            return DASHManifest.Period(start: chunk.start ?? 0, tracks: tracks)
        }
    }

    /// `seg-00012.m4s` → 12.
    static func segmentNumber(_ uri: String) -> Int? {
        let name = uri.split(separator: "/").last ?? ""
        guard name.hasPrefix("seg-"), let dot = name.firstIndex(of: ".") else { return nil }
        return Int(name[name.index(name.startIndex, offsetBy: 4)..<dot])
    }

    /// Playlists live in `hls/<rung>/`; the parts' files in `parts/…` of the same version.
    static func relative(_ uri: String) -> String { "../../" + uri }

    static func mediaPlaylist(initURI: String, segments: [ChunkRendition.Segment]) -> String {
        HLSMediaPlaylist(segments: segments.map { .init(uri: relative($0.uri), duration: $0.duration) }, initURI: relative(initURI)).text
    }

    static func iframePlaylist(initURI: String, iframes: [ChunkRendition.IFrame]) -> String {
        HLSMediaPlaylist(
            segments: iframes.map { .init(uri: relative($0.uri), duration: $0.duration, byteRange: .init(length: $0.length, offset: $0.offset)) },
            initURI: relative(initURI), iFramesOnly: true
        ).text
    }
}

/// Reads back the media and I-frame playlists a part's packager wrote.
enum PartPlaylist {
    static func segments(_ text: String, folder: String) -> [ChunkRendition.Segment] {
        HLSMediaPlaylist(parsing: text).segments.map { .init(uri: folder + $0.uri, duration: $0.duration) }
    }

    static func iframes(_ text: String, folder: String) -> [ChunkRendition.IFrame] {
        HLSMediaPlaylist(parsing: text).segments.compactMap { segment in
            segment.byteRange.map { .init(uri: folder + segment.uri, duration: segment.duration, offset: $0.offset, length: $0.length) }
        }
    }
}

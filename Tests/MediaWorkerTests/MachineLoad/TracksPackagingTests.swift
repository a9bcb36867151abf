import Foundation
import JobContract
@testable import MediaWorker
import TestSupport
import Testing

/// Several audio languages and subtitles (issue 16), on a fixture with English (440 Hz, default)
/// and French (660 Hz) audio, an English SubRip stream and a French sidecar .srt. Judged by
/// hls_judge.py (which decodes each audio rendition and measures its tone), dash_judge.py and
/// GStreamer.
@Suite("Audio languages and subtitles", .serialized)
struct TracksPackagingTests {
    func withDirectory(_ body: (String) async throws -> Void) async throws {
        try await withTestDirectory("tracks", body)
    }

    struct Verdict: Decodable {
        struct Audio: Decodable {
            var uri: String
            var language: String?
            var name: String
            var `default`: Bool
            var frequency_hz: Int?
            var segments: Int
        }
        struct Subtitles: Decodable {
            var uri: String
            var language: String?
            var name: String
            var cues: [[JSONAny]]
            var mpegts: Int?
        }
        struct Facts: Decodable {
            var audios: [Audio]?
            var subtitles: [Subtitles]?
        }
        var errors: [String]
        var facts: Facts
    }

    /// A cue as the judges report it: [start, end, text].
    enum JSONAny: Decodable {
        case number(Double), text(String)
        init(from decoder: any Decoder) throws {
            let value = try decoder.singleValueContainer()
            if let number = try? value.decode(Double.self) { self = .number(number) } else { self = .text(try value.decode(String.self)) }
        }
        var number: Double? { if case .number(let value) = self { value } else { nil } }
        var text: String? { if case .text(let value) = self { value } else { nil } }
    }

    static func cueTimes(_ cues: [[JSONAny]]) -> [[Double]] { cues.map { $0.prefix(2).compactMap(\.number) } }

    @Test("two audio languages and two subtitle tracks: renditions with language and name, the source's default first, cues on the package's timeline, in HLS and DASH; GStreamer plays both")
    func languagesAndSubtitles() async throws {
        try await withDirectory { directory in
            let input = try ProjectPaths.fixture("tracks-12s.mkv")
            let info = try await MediaProbe.probe(path: input)
            var hls = HLSSettings()
            hls.dash = true
            hls.audioStreams = try AudioTracks.streams(info, picks: nil)
            #expect(hls.audioStreams == [1, 2])
            let upload = SubtitleTracks.sources(info, path: input)
            #expect(upload.text.map(\.streamIndex) == [3] && upload.bitmap.isEmpty)
            let sidecar = SubtitleSource(path: try ProjectPaths.fixture("subs-fr.srt"), streamIndex: nil, language: "fra", name: nil)
            let package = try await HLSPackager.package(
                input: input, outputDirectory: directory + "/p", rungs: [VideoLadder.apple[0]], hls: hls, subtitles: upload.text + [sidecar])
            #expect(package.subtitles.map(\.cueCount) == [3, 2])

            let master = try String(contentsOfFile: package.masterPlaylist, encoding: .utf8)
            #expect(master.contains(#"TYPE=AUDIO,GROUP-ID="audio",NAME="English",LANGUAGE="en",DEFAULT=YES"#), "\(master)")
            #expect(master.contains(#"TYPE=AUDIO,GROUP-ID="audio",NAME="Français",LANGUAGE="fr",DEFAULT=NO"#), "\(master)")
            #expect(master.contains(#"TYPE=SUBTITLES,GROUP-ID="subs",NAME="English",LANGUAGE="en""#))
            #expect(master.contains(#"TYPE=SUBTITLES,GROUP-ID="subs",NAME="French",LANGUAGE="fr""#))

            let python = ProjectPaths.venvBin.appendingPathComponent("python").path
            let judged = try await CommandRunner.run(python, [ProjectPaths.scripts.appendingPathComponent("test/hls_judge.py").path,
                                                              package.masterPlaylist, "--target", "6"], timeout: .seconds(300))
            let verdict = try JSONDecoder().decode(Verdict.self, from: Data(judged.stdout.utf8))
            #expect(verdict.errors.isEmpty, "\(verdict.errors)")
            // Each rendition really is its language's track: 440 Hz English, 660 Hz French (AAC blurs a few %).
            let audios = verdict.facts.audios ?? []
            #expect(audios.map(\.language) == ["en", "fr"] && audios.map(\.default) == [true, false])
            let tones = audios.compactMap(\.frequency_hz)
            #expect(tones.count == 2 && abs(tones[0] - 440) < 25 && abs(tones[1] - 660) < 35, "\(tones)")
            // Cues where the sources put them: the upload's stream on the upload's timeline (its video
            // starts 21 ms in, so everything is 21 ms later), the sidecar's from zero; X-TIMESTAMP-MAP
            // maps them onto the segments' 0.2 s timeline offset.
            let subtitles = verdict.facts.subtitles ?? []
            #expect(subtitles.map(\.language) == ["en", "fr"])
            #expect(subtitles.allSatisfy { $0.mpegts == 18_000 })
            let english = Self.cueTimes(subtitles.first?.cues ?? [])
            let expected: [[Double]] = [[1.021, 3.521], [5.021, 7.271], [9.521, 11.021]]
            #expect(english.count == 3 && zip(english, expected).allSatisfy { abs($0[0] - $1[0]) < 0.03 && abs($0[1] - $1[1]) < 0.03 }, "\(english)")
            #expect(Self.cueTimes(subtitles.last?.cues ?? []) == [[2.0, 4.0], [8.0, 10.5]])
            #expect(subtitles.first?.cues.first?.last?.text == "Hello from the first cue.")

            // DASH: an audio set per language (the default one "main"), a text/vtt set per subtitle track.
            let dash = try await judgeDASH(try #require(package.dashManifest))
            #expect(dash.errors.isEmpty, "\(dash.errors)")
            let sets = dash.facts.adaptation_sets ?? []
            #expect(sets.filter { $0.content_type == "audio" }.map { [$0.lang ?? "", $0.roles.first ?? ""] } == [["en", "main"], ["fr", "alternate"]])
            #expect(sets.filter { $0.content_type == "text" }.map { $0.lang ?? "" } == ["en", "fr"])

            for manifest in ["master.m3u8", "manifest.mpd"] {
                let played = try await playInGStreamer(root: directory + "/p", master: manifest, timeout: .seconds(120))
                #expect(played.ok, "\(manifest): \(played.report)")
                let browser = try await playInVideoJS(root: directory + "/p", manifest: manifest)
                #expect(browser.ok, "Video.js \(manifest): \(browser.report)")
            }
        }
    }

    @Test("audio_tracks picks by number or language; a pick the source lacks is refused")
    func audioTrackPicks() async throws {
        let info = try await MediaProbe.probe(path: try ProjectPaths.fixture("tracks-12s.mkv"))
        #expect(try AudioTracks.streams(info, picks: [.language("fr")]) == [2])
        #expect(try AudioTracks.streams(info, picks: [.number(1), .language("eng")]) == [1, 2])
        #expect(throws: AudioTracks.NotFound.self) { try AudioTracks.streams(info, picks: [.language("deu")]) }
        #expect(throws: AudioTracks.NotFound.self) { try AudioTracks.streams(info, picks: [.number(2)]) }
        // Muxed audio carries one track.
        do {
            _ = try JobOptions.decode(TranscodeJobOptions.self, from: try JSONValue.parse(#"{"audio":"muxed","audio_tracks":[0,1]}"#))
            Issue.record("accepted two muxed audio tracks")
        } catch let error as JobRejection {
            #expect(error.message.contains("options.audio_tracks"))
        }
    }

    @Test("text subtitle streams are packaged; bitmap ones (DVD, PGS, DVB) are skipped with a warning naming them")
    func bitmapSubtitlesSkipped() throws {
        let codecs = ["subrip", "dvd_subtitle", "ass", "hdmv_pgs_subtitle", "mov_text", "dvb_subtitle", "webvtt"]
        let streams = codecs.enumerated().map { #"{"index":\#($0.offset + 1),"type":"subtitle","codec":"\#($0.element)"}"# }
        let json = #"{"container":"matroska,webm","streams":[{"index":0,"type":"video","codec":"h264"},"# + streams.joined(separator: ",") + "]}"
        let info = try JSONDecoder().decode(MediaInfo.self, from: Data(json.utf8))
        let (text, bitmap) = SubtitleTracks.sources(info, path: "in.mkv")
        #expect(text.map(\.streamIndex) == [1, 3, 5, 7])
        #expect(bitmap.map(\.codec) == ["dvd_subtitle", "hdmv_pgs_subtitle", "dvb_subtitle"])
        #expect(SubtitleTracks.warnings(skipping: bitmap) == [
            "subtitle stream 2 (dvd_subtitle) is a bitmap, not text: skipped", "subtitle stream 4 (hdmv_pgs_subtitle) is a bitmap, not text: skipped",
            "subtitle stream 6 (dvb_subtitle) is a bitmap, not text: skipped",
        ])
    }

    @Test("ASS and WebVTT sidecars and a mov_text stream become WebVTT with their cues and times")
    func otherSubtitleFormats() async throws {
        let directory = try makeTestDirectory("subtitle-formats")
        defer { try? FileManager.default.removeItem(at: directory) }
        let ass = directory.appendingPathComponent("in.ass").path
        try """
        [Script Info]
        ScriptType: v4.00+

        [V4+ Styles]
        Format: Name, Fontname, Fontsize, PrimaryColour, SecondaryColour, OutlineColour, BackColour, Bold, Italic, Underline, StrikeOut, ScaleX, ScaleY, Spacing, Angle, BorderStyle, Outline, Shadow, Alignment, MarginL, MarginR, MarginV, Encoding
        Style: Default,Arial,20,&H00FFFFFF,&H000000FF,&H00000000,&H00000000,0,0,0,0,100,100,0,0,1,1,0,2,10,10,10,1

        [Events]
        Format: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text
        Dialogue: 0,0:00:01.50,0:00:02.75,Default,,0,0,0,,From an {\\i1}ASS{\\i0} file
        """.write(toFile: ass, atomically: true, encoding: .utf8)
        let vtt = directory.appendingPathComponent("in.vtt").path
        try "WEBVTT\n\n00:00:03.000 --> 00:00:04.500\nFrom a WebVTT file\n".write(toFile: vtt, atomically: true, encoding: .utf8)
        let srt = directory.appendingPathComponent("in.srt").path
        try "1\n00:00:00,500 --> 00:00:01,250\nFrom mov_text\n".write(toFile: srt, atomically: true, encoding: .utf8)
        let mp4 = directory.appendingPathComponent("movtext.mp4").path
        let made = try await CommandRunner.run(try ProjectPaths.tool("ffmpeg", package: "ffmpeg"), [
            "-v", "error", "-f", "lavfi", "-i", "color=size=64x64:duration=3", "-i", srt, "-c:v", "libx264", "-c:s", "mov_text", "-y", mp4,
        ])
        #expect(made.succeeded, "\(made.stderr)")
        let movText = SubtitleTracks.sources(try await MediaProbe.probe(path: mp4), path: mp4).text
        #expect(movText.count == 1)
        let sources = movText + [SubtitleSource(path: ass, streamIndex: nil, language: "en", name: nil),
                                 SubtitleSource(path: vtt, streamIndex: nil, language: "de", name: nil)]
        let made2 = try await SubtitleTracks.make(sources, directory: directory.path, duration: 6, segmentSeconds: 6, timelineOffset: 0.2,
                                                  limits: MediaLimits())
        #expect(made2.map(\.cueCount) == [1, 1, 1])
        var cues: [[WebVTT.Cue]] = []
        for rendition in made2 {
            cues.append(WebVTT.cues(try String(contentsOfFile: directory.path + "/" + rendition.wholeFile, encoding: .utf8)))
        }
        #expect(cues.map { $0.map(\.start) } == [[0.5], [1.5], [3.0]])
        #expect(cues.map { $0.map(\.end) } == [[1.25], [2.75], [4.5]])
        #expect(cues.map { $0.first?.text.joined() } == ["From mov_text", "From an <i>ASS</i> file", "From a WebVTT file"])
    }

    @Test("WebVTT segmenting: a cue spanning a boundary is in both segments, the last short stretch joins the one before")
    func webvttSegments() {
        let cues = [WebVTT.Cue(start: 5, end: 7, settings: "", text: ["across"]), WebVTT.Cue(start: 13, end: 14, settings: "", text: ["late"])]
        let (segments, playlist) = WebVTT.segmented(cues, duration: 12.3, segmentSeconds: 6, timelineOffset: 0.2)
        #expect(segments.count == 2)
        #expect(segments[0].text.contains("across") && segments[1].text.contains("across"))
        #expect(segments.allSatisfy { $0.text.hasPrefix("WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:18000,LOCAL:00:00:00.000\n") })
        #expect(playlist.contains("#EXTINF:6.300,\nseg-00001.vtt") && playlist.contains("#EXT-X-TARGETDURATION:6"))
        #expect(WebVTT.cues(WebVTT.render(cues, timelineOffset: nil)) == cues)
    }
}

/// A split package (issue 13's parts and stitch) with everything of issue 16: H.264 and AV1 rungs,
/// two audio languages, subtitles and DASH. The parts are made as the part jobs make them and joined
/// by the stitcher; the queue side of split jobs is SplitTranscodeTests'.
@Suite("Split packages with codecs, languages, subtitles and DASH", .serialized)
struct SplitTracksPackagingTests {
    @Test("chunks: a last stretch under half a second joins the chunk before")
    func chunkTail() {
        #expect(SplitPlan.chunks(duration: 12.033, length: 6).map(\.end) == [6, nil])
        #expect(SplitPlan.chunks(duration: 13, length: 6).map(\.end) == [6, 12, nil])
        #expect(SplitPlan.chunks(duration: 12, length: 6).map(\.end) == [6, nil])
    }

    @Test("two chunks and the audio part, stitched: HLS passes the judge with every codec, language and subtitle; the DASH manifest has a period per chunk and plays in GStreamer")
    func stitchedTracks() async throws {
        let directory = try makeTestDirectory("split-tracks")
        defer { try? FileManager.default.removeItem(at: directory) }
        let root = directory.path
        let input = try ProjectPaths.fixture("tracks-12s.mkv")
        let info = try await MediaProbe.probe(path: input)
        let rungs = VideoLadder.rungs([VideoLadder.apple[0]], codecs: [.h264, .av1])
        let subtitles = SubtitleTracks.sources(info, path: input).text
            + [SubtitleSource(path: try ProjectPaths.fixture("subs-fr.srt"), streamIndex: nil, language: "fra", name: nil)]
        var base = HLSSettings()
        base.packaging = .encode
        base.timelineOffsetSeconds = 0.2
        base.audioStreams = try AudioTracks.streams(info, picks: nil)
        var results: [PartResult] = []
        for (asset, part) in [("0", HLSSettings.Part.videoRange(start: 0, end: 6)), ("1", .videoRange(start: 6, end: nil)), ("audio", .audio)] {
            var hls = base
            hls.part = part
            let folder = "parts/\(asset)/"
            let package = try await HLSPackager.package(input: input, outputDirectory: root + "/" + folder, rungs: part == .audio ? [] : rungs,
                                                        hls: hls, subtitles: part == .audio ? subtitles : [])
            let renditions = try TranscodePartJobHandler.renditions(of: package, directory: root + "/" + folder, folder: folder)
            let subtitleParts = try package.subtitles.map { track in
                PartSubtitle(rendition: track, folder: folder + track.folder + "/",
                             playlist: try String(contentsOfFile: root + "/" + folder + track.playlist, encoding: .utf8),
                             webvtt: try String(contentsOfFile: root + "/" + folder + track.wholeFile, encoding: .utf8))
            }
            let start: Double? = if case .videoRange(let start, _) = part { start } else { nil }
            let end: Double? = if case .videoRange(_, let end) = part { end ?? package.durationSeconds } else { nil }
            results.append(PartResult(asset: asset, start: start, end: end, renditions: renditions, stills: nil, encodeSeconds: 1, worker: "w",
                                      subtitles: subtitleParts.isEmpty ? nil : subtitleParts))
        }
        let stitched = try PackageStitcher.stitch(chunks: Array(results.prefix(2)), audio: results[2], timelineOffset: 0.2,
                                                  duration: info.durationSeconds, dash: true)
        for (path, text) in stitched.files {
            try FileManager.default.createDirectory(atPath: root + "/" + (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try text.write(toFile: root + "/" + path, atomically: true, encoding: .utf8)
        }
        let hlsVerdict = try await judgeHLS(root + "/hls/master.m3u8")
        #expect(hlsVerdict.errors.isEmpty, "\(hlsVerdict.errors)")
        #expect(Set((hlsVerdict.facts.variants ?? []).map { String($0.codecs.prefix(4)) }) == ["avc1", "av01"])
        let master = try String(contentsOfFile: root + "/hls/master.m3u8", encoding: .utf8)
        #expect(master.contains(#"LANGUAGE="fr",DEFAULT=NO"#) && master.contains(#"TYPE=SUBTITLES,GROUP-ID="subs",NAME="French""#), "\(master)")

        let dash = try await judgeDASH(root + "/hls/manifest.mpd")
        #expect(dash.errors.isEmpty, "\(dash.errors)")
        #expect(dash.facts.periods == 2)
        let text = (dash.facts.adaptation_sets ?? []).filter { $0.content_type == "text" }
        #expect(text.count == 4, "two subtitle tracks in each period")
        // Served from the version's root: the stitched manifests point into the parts' folders.
        for manifest in ["hls/manifest.mpd", "hls/master-av1.m3u8"] {
            let played = try await playInGStreamer(root: root, master: manifest, timeout: .seconds(120))
            #expect(played.ok, "\(manifest): \(played.report)")
        }
    }
}

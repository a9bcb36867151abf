import Foundation
import JobContract
import Testing
import TestSupport

/// The schemas of contracts/ as the worker uses them: embedded unchanged, loadable, strict about
/// what they may say, and agreeing with an independent validator (Python's `jsonschema`).
@Suite("Contract schemas")
struct ContractSchemaTests {
    @Test("the embedded schemas are the files of contracts/ (scripts/embed-contracts.py writes them)")
    func embeddedMatchFiles() throws {
        let contracts = ProjectPaths.root.appendingPathComponent("contracts")
        var onDisk: [String: String] = [:]
        let walker = FileManager.default.enumerator(atPath: contracts.path)
        while let relative = walker?.nextObject() as? String {
            guard relative.hasSuffix(".schema.json") else { continue }
            onDisk[relative] = try String(contentsOf: contracts.appendingPathComponent(relative), encoding: .utf8)
        }
        let embedded = Dictionary(uniqueKeysWithValues: EmbeddedSchemas.documents.map { ($0.path, $0.text + "\n") })
        #expect(Set(onDisk.keys) == Set(embedded.keys), "run scripts/embed-contracts.py")
        for (path, text) in onDisk { #expect(embedded[path] == text, "\(path) differs from its embedded copy: run scripts/embed-contracts.py") }
        // Every schema loads, every $ref leads somewhere.
        #expect(ContractSchemas.registry.schema(id: ContractSchemas.jobID) != nil)
        for type in JobType.allCases { #expect(ContractSchemas.registry.schema(id: ContractSchemas.optionsID(type)) != nil) }
    }

    @Test("a keyword the validator does not implement is refused when loading, never skipped")
    func unknownKeywordRefused() {
        let schema = #"{"$id":"https://x/s.json","type":"object","patternProperties":{"^a":{"type":"string"}}}"#
        #expect(throws: JSONSchemaRegistry.LoadError.self) { try JSONSchemaRegistry(documents: [schema]) }
        let dangling = #"{"$id":"https://x/s.json","$ref":"other.json"}"#
        #expect(throws: JSONSchemaRegistry.LoadError.self) { try JSONSchemaRegistry(documents: [dangling]) }
    }

    /// Envelopes with options of every type, good and bad: the worker's decoder and Python's
    /// jsonschema on contracts/job.schema.json must give the same verdict on each.
    static let corpus: [String] = {
        let io = #""input":{"url":"s3://raw/a.mp4"},"output":{"url":"s3://media/"}"#
        var items: [String] = []
        let transcode = [
            "{}", #"{"renditions":[1080,720,540,360,234]}"#, #"{"renditions":[]}"#, #"{"renditions":[721]}"#, #"{"renditions":[720,720]}"#,
            #"{"segment_format":"ts","segment_duration_s":4.5,"audio":"muxed","packaging":"copy","preset":"ultrafast","max_fps":24}"#,
            #"{"segment_duration_s":0.5}"#, #"{"segment_duration_s":61}"#, #"{"audio":"stereo"}"#, #"{"packaging":"remux"}"#,
            #"{"thumbnails":0,"storyboard":false,"mp4":[360]}"#, #"{"thumbnails":101}"#, #"{"thumbnails":1.5}"#, #"{"thumbnails":3.0}"#,
            #"{"storyboard":1}"#, #"{"mp4":[]}"#, #"{"max_fps":0}"#, #"{"renditons":[720]}"#, #"{"preset":"placebo"}"#,
        ]
        items += transcode.map { #"{"type":"transcode",\#(io),"options":\#($0)}"# }
        let thumbnails = [
            #"{"count":1}"#, #"{"count":0}"#, #"{"count":1001}"#, #"{"times_s":[0,1.5,30]}"#, #"{"times_s":[]}"#, #"{"times_s":[-1]}"#,
            #"{"max_width":8192,"max_height":0,"quality":2}"#, #"{"max_width":8193}"#, #"{"quality":1}"#, #"{"quality":32}"#, #"{"size":3}"#,
        ]
        items += thumbnails.map { #"{"type":"thumbnails",\#(io),"options":\#($0)}"# }
        let keyframes = [
            #"{"max_count":0,"min_interval_s":2.5,"scene_threshold":1}"#, #"{"max_count":-1}"#, #"{"min_interval_s":-0.1}"#,
            #"{"scene_threshold":1.1}"#, #"{"max_width":320}"#, #"{"count":3}"#,
        ]
        items += keyframes.map { #"{"type":"keyframes",\#(io),"options":\#($0)}"# }
        items += [#"{}"#, #"{"x":1}"#].map { #"{"type":"probe",\#(io),"options":\#($0)}"# }
        let noop = [#"{"duration_ms":0}"#, #"{"duration_ms":86400001}"#, #"{"fail_with":{"code":"DRILL","retryable":true}}"#,
                    #"{"fail_with":{"retryable":true}}"#, #"{"fail_with":{"code":"has space"}}"#, #"{"fail_with":{"code":"X","extra":1}}"#]
        items += noop.map { #"{"type":"noop","options":\#($0)}"# }
        let scene = #"{"visual":"s3://m/a.png","text":"Hello"}"#
        let compose = [
            #"{"scenes":[\#(scene)]}"#, #"{"scenes":[]}"#, #"{}"#, #"{"scenes":[{"visual":"s3://m/a.png"}]}"#,
            #"{"scenes":[{"visual":"s3://m/a.png","duration_s":0}]}"#, #"{"scenes":[{"visual":"s3://m/a.png","duration_s":2}]}"#,
            #"{"scenes":[{"visual":"https://x/a.png","duration_s":2}]}"#, #"{"scenes":[{"visual":"s3://m/a.png","audio":"s3://m/a.mp3"}]}"#,
            #"{"scenes":[{"visual":"s3://m/a.png","text":""}]}"#,
            #"{"scenes":[\#(scene)],"output":{"width":1920,"height":1080,"fps":60,"hls":true,"crf":20,"preset":"fast"}}"#,
            #"{"scenes":[\#(scene)],"output":{"width":1921}}"#, #"{"scenes":[\#(scene)],"output":{"width":8}}"#,
            #"{"scenes":[\#(scene)],"output":{"fps":121}}"#, #"{"scenes":[\#(scene)],"output":{"bitrate":1}}"#,
            #"{"scenes":[\#(scene)],"fit":"letterbox","ken_burns":{"zoom":0.3},"transition":1,"captions":{"size":0.1}}"#,
            #"{"scenes":[\#(scene)],"fit":"stretch"}"#, #"{"scenes":[\#(scene)],"ken_burns":1}"#, #"{"scenes":[\#(scene)],"ken_burns":{"zoom":0.6}}"#,
            #"{"scenes":[\#(scene)],"captions":{"font":"x"}}"#, #"{"scenes":[\#(scene)],"transition":6}"#,
            #"{"scenes":[\#(scene)],"background_music":{"url":"s3://m/bed.mp3","level_db":-30,"duck_db":-6}}"#,
            #"{"scenes":[\#(scene)],"background_music":{"level_db":-30}}"#, #"{"scenes":[\#(scene)],"background_music":{"url":"s3://m/b.mp3","level_db":3}}"#,
            #"{"scenes":[\#(scene)],"loudness":-16}"#, #"{"scenes":[\#(scene)],"loudness":0}"#,
            #"{"scenes":[\#(scene)],"voice":{"name":"en-us","rate_wpm":200,"pitch":10}}"#, #"{"scenes":[\#(scene)],"voice":{"name":"en us"}}"#,
            #"{"scenes":[\#(scene)],"voice":{"speed":1}}"#,
        ]
        items += compose.map { #"{"type":"compose","output":{"url":"s3://media/"},"options":\#($0)}"# }
        return items
    }()

    @Test("the decoder and Python's jsonschema agree on every envelope of the options corpus")
    func agreesWithPython() async throws {
        let python = ProjectPaths.venvBin.appendingPathComponent("python").path
        guard FileManager.default.isExecutableFile(atPath: python) else {
            Issue.record("no \(python): run scripts/install-deps.sh")
            return
        }
        let directory = try makeTestDirectory("contract-corpus")
        defer { try? FileManager.default.removeItem(at: directory) }
        let input = directory.appendingPathComponent("documents.jsonl")
        try Self.corpus.joined(separator: "\n").write(to: input, atomically: true, encoding: .utf8)
        let result = try await CommandRunner.run(
            "/bin/sh", ["-c", "\"$0\" \"$1\" \"$2\" < \"$3\"", python, ProjectPaths.scripts.appendingPathComponent("test/validate_json.py").path,
                        ProjectPaths.root.appendingPathComponent("contracts/job.schema.json").path, input.path])
        #expect(result.succeeded, "\(result.stderr)")
        let verdicts = result.stdout.split(separator: "\n").map(String.init)
        #expect(verdicts.count == Self.corpus.count)
        var refused = 0
        for (item, verdict) in zip(Self.corpus, verdicts) {
            let decision = JobDecoder().decide(Array(item.utf8))
            var accepted = false
            if case .jobs = decision { accepted = true } else { refused += 1 }
            #expect(accepted == (verdict == "ok"), "decoder \(accepted ? "accepts" : "refuses: \(decision)") but jsonschema says \(verdict): \(item)")
        }
        // The corpus really exercises both sides.
        #expect(refused > 30 && refused < Self.corpus.count - 15, "\(refused) of \(Self.corpus.count) refused")
    }
}

import Foundation
import Mixtera
import MixteraCore
import MixteraManifest
import MixteraReplay
import MixteraSpec
import MixteraTestSupport
import Testing

/// scan → plan → write → replay on the bundled fixtures, through the library.
@Suite(.serialized) struct EndToEndTests {
    static func datasetSpec() throws -> DatasetSpec {
        let path = TestSupport.fixture("specs/datasets.yaml")
        return try DatasetSpec.parse(text: String(decoding: FileSystem.readAll(path), as: UTF8.self), path: path)
    }

    static func buildSpec(_ edit: (String) -> String = { $0 }) throws -> BuildSpec {
        let path = TestSupport.fixture("specs/build.yaml")
        return try BuildSpec.parse(text: edit(String(decoding: FileSystem.readAll(path), as: UTF8.self)), path: path)
    }

    static func scanned(jobs: Int = 2) throws -> String {
        let dir = TestSupport.temporaryDirectory("e2e")
        _ = try Ingest.scan(spec: datasetSpec(), catalogPath: dir + "/c.sqlite", options: ScanOptions(jobs: jobs))
        return dir
    }

    /// Reference records of a fixture file: (text) per row, via the CLI decompressors and Foundation.
    static func referenceTexts(_ rel: String) throws -> [String] {
        let path = TestSupport.fixture("jsonl/corpus/" + rel)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        let tool =
            rel.hasSuffix(".zst")
            ? "zstd" : rel.hasSuffix(".gz") ? "gzip" : rel.hasSuffix(".xz") ? "xz" : rel.hasSuffix(".bz2") ? "bzip2" : "cat"
        p.arguments = tool == "cat" ? ["cat", path] : [tool, "-dc", path]
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        var data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        if data.starts(with: [0xEF, 0xBB, 0xBF]) { data = data.dropFirst(3) }
        return try data.split(separator: 0x0A).compactMap { line -> String? in
            let l = line.last == 0x0D ? line.dropLast() : line
            if l.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) { return nil }
            return (try JSONSerialization.jsonObject(with: Data(l)) as! [String: Any])["text"] as? String
        }
    }

    /// With a label table (format 1.2) the fixture's files are read through their checkpoints: plain files with a
    /// BOM, blank lines and CRLF, and zstd, gzip, xz and bzip2 streams.
    @Test(arguments: [LabelPolicy.never, .always])
    func buildsIdenticalBytesAndReplaysTheRightSamples(labels: LabelPolicy) throws {
        let dir = try Self.scanned()
        let spec = try Self.buildSpec()
        let report = try Build.run(
            catalogPath: dir + "/c.sqlite", spec: spec, out: dir + "/m1", options: BuildOptions(perStep: true, labels: labels))
        _ = try Build.run(catalogPath: dir + "/c.sqlite", spec: spec, out: dir + "/m2", options: BuildOptions(labels: labels))
        let a = TestSupport.directoryContents(dir + "/m1")
        #expect(
            a.keys.sorted()
                == ["header.json"] + (labels == .always ? ["labels.bin"] : [])
                + ["rank-00000.bin", "rank-00001.bin", "rank-00002.bin", "rank-00003.bin"])
        #expect(a == TestSupport.directoryContents(dir + "/m2"))
        #expect(report.formatVersion == (labels == .always ? "1.2" : "1.0"))
        #expect(report.steps == 12)
        var refs: [String: [String]] = [:]
        for step in 0..<2 {
            var perComponent: [String: Int] = [:]
            var slots = 0
            for rank in 0..<4 {
                let reader = try ReplayReader(manifestPath: dir + "/m1", rank: rank)
                try reader.forEachSample(steps: [step]) { s in
                    let f = reader.header.files[s.file]
                    if refs[f.path] == nil { refs[f.path] = try! Self.referenceTexts(f.path) }
                    var expected: [UInt8] = []
                    JSON.writeString(refs[f.path]![Int(s.row)].utf8, into: &expected)
                    #expect(s.json == expected, "step \(step) rank \(rank) \(f.path):\(s.row)")
                    perComponent[reader.header.components[s.component].name, default: 0] += 1
                    slots += 1
                }
            }
            #expect(slots == 40)
            let counts = report.perStep![step]
            #expect(perComponent == ["web": counts[0], "code": counts[1], "rest": counts[2]])
        }
    }

    @Test(arguments: [LabelPolicy.auto, .always])
    func catalogAndManifestAreIndependentOfJobs(labels: LabelPolicy) throws {
        let one = try Self.scanned(jobs: 1)
        let two = try Self.scanned(jobs: 2)
        let spec = try Self.buildSpec()
        _ = try Build.run(catalogPath: one + "/c.sqlite", spec: spec, out: one + "/m", options: BuildOptions(labels: labels))
        _ = try Build.run(catalogPath: two + "/c.sqlite", spec: spec, out: two + "/m", options: BuildOptions(labels: labels))
        #expect(TestSupport.directoryContents(one + "/m") == TestSupport.directoryContents(two + "/m"))
        let s1 = try CatalogInspect.stats(catalogPath: one + "/c.sqlite")
        let s2 = try CatalogInspect.stats(catalogPath: two + "/c.sqlite")
        #expect(s1["fingerprint"] == s2["fingerprint"])
        #expect(s1["datasets"] == s2["datasets"])
    }

    @Test(arguments: [LabelPolicy.never, .always])
    func rankSubsetsAreByteIdenticalToAFullBuild(labels: LabelPolicy) throws {
        let dir = try Self.scanned()
        let spec = try Self.buildSpec()
        _ = try Build.run(catalogPath: dir + "/c.sqlite", spec: spec, out: dir + "/full", options: BuildOptions(labels: labels))
        _ = try Build.run(
            catalogPath: dir + "/c.sqlite", spec: spec, out: dir + "/part", options: BuildOptions(ranks: 1...2, labels: labels))
        let full = TestSupport.directoryContents(dir + "/full")
        let part = TestSupport.directoryContents(dir + "/part")
        #expect(
            part.keys.sorted()
                == ["header.json"] + (labels == .always ? ["labels.bin"] : []) + ["rank-00001.bin", "rank-00002.bin"])
        for (k, v) in part { #expect(full[k] == v, "\(k)") }
    }

    @Test func elasticResplitKeepsEveryGlobalBatch() throws {
        let dir = try Self.scanned()
        let spec = try Self.buildSpec()
        var reference: [[String]] = []
        for (d, labels) in [(1, LabelPolicy.never), (2, .always), (4, .never), (4, .always), (8, .always)] {
            let out = dir + "/m\(d)\(labels)"
            _ = try Build.run(
                catalogPath: dir + "/c.sqlite", spec: spec, out: out, options: BuildOptions(dataParallel: d, labels: labels))
            var steps: [[String]] = Array(repeating: [], count: 12)
            for rank in 0..<d {
                let reader = try ReplayReader(manifestPath: out, rank: rank)
                try reader.forEachSample(steps: Array(0..<12)) { s in
                    steps[s.step].append("\(s.file):\(s.row)")
                }
            }
            let sorted = steps.map { $0.sorted() }
            if reference.isEmpty { reference = sorted } else { #expect(sorted == reference, "D = \(d), labels \(labels)") }
        }
    }

    @Test func rescanOfAnUnchangedTreeReadsNothing() throws {
        let dir = try Self.scanned()
        let again = try Ingest.scan(spec: Self.datasetSpec(), catalogPath: dir + "/c.sqlite")
        #expect(again.datasets[0].scanned == 0)
        #expect(again.datasets[0].unchanged == 6)
        #expect(again.datasets[0].samples == 1170)
    }

    @Test func replayRefusesAChangedDataFile() throws {
        let dir = TestSupport.temporaryDirectory("changed")
        try FileManager.default.copyItem(atPath: TestSupport.fixture("jsonl"), toPath: dir + "/jsonl")
        try FileManager.default.createDirectory(atPath: dir + "/specs", withIntermediateDirectories: true)
        let specText = try String(contentsOfFile: TestSupport.fixture("specs/datasets.yaml"), encoding: .utf8)
        let spec = try DatasetSpec.parse(text: specText, path: dir + "/specs/datasets.yaml")
        _ = try Ingest.scan(spec: spec, catalogPath: dir + "/c.sqlite")
        _ = try Build.run(catalogPath: dir + "/c.sqlite", spec: Self.buildSpec(), out: dir + "/m")
        // Same size, different bytes: the fast path notices the mtime change and rehashes.
        let target = dir + "/jsonl/corpus/web/part-000.jsonl"
        var bytes = try Data(contentsOf: URL(fileURLWithPath: target))
        bytes[10] = bytes[10] == UInt8(ascii: "a") ? UInt8(ascii: "b") : UInt8(ascii: "a")
        try bytes.write(to: URL(fileURLWithPath: target))
        let reader = try ReplayReader(manifestPath: dir + "/m", rank: 0)
        #expect {
            try reader.forEachSample(steps: Array(0..<12)) { _ in }
        } throws: { e in
            let e = e as! ReplayError
            return e.kind == "data-changed" && e.location?.path == target
                && e.message.hasPrefix("data file changed: fingerprint is")
        }
        // A moved tree replays with --root.
        try FileManager.default.moveItem(atPath: dir + "/jsonl", toPath: dir + "/moved")
        let moved = try ReplayReader(
            manifestPath: dir + "/m", rank: 1, roots: [(dir + "/jsonl/corpus", dir + "/moved/corpus")], verify: .none)
        var n = 0
        try moved.forEachSample(steps: [0]) { _ in n += 1 }
        #expect(n == 10)
    }
}

@Suite struct ContinuationTests {
    /// A manifest with a label table continues into one without (continuations write no label table): the kept steps
    /// hold the same samples, now with their own byte locators.
    @Test(arguments: [LabelPolicy.never, .always])
    func keepsEarlyStepsAndRepeatsNoSample(labels: LabelPolicy) throws {
        let dir = try EndToEndTests.scanned()
        let old = try EndToEndTests.buildSpec()
        _ = try Build.run(catalogPath: dir + "/c.sqlite", spec: old, out: dir + "/old", options: BuildOptions(labels: labels))
        let new = try EndToEndTests.buildSpec { text in
            text.replacingOccurrences(of: "steps: 12}", with: "steps: 10}")
                .replacingOccurrences(
                    of: "- {at: 8, weights: {web: 0.3, code: 0.2, rest: 0.5}, interpolate: linear}",
                    with: "- {at: 5, weights: {web: 0.2, code: 0.2, rest: 0.6}}"
                )
                .replacingOccurrences(of: "seed: 42", with: "seed: 43")
        }
        let report = try Build.run(
            catalogPath: dir + "/c.sqlite", spec: new, out: dir + "/new", options: BuildOptions(continueFrom: (dir + "/old", 5)))
        #expect(report.steps == 10)
        let a = try ManifestDirectory(path: dir + "/old")
        let b = try ManifestDirectory(path: dir + "/new")
        #expect(b.header.steps == 10)
        #expect(b.header.components.map(\.name) == ["web", "code", "rest", "web", "code", "rest"])
        #expect(b.header.continuedFrom?["at_step"] == .int(5))
        var early = Set<String>()
        var late: [String] = []
        for rank in 0..<4 {
            let ra = try a.rankFile(rank)
            let rb = try b.rankFile(rank)
            for s in 0..<5 {
                let kept = try ra.entries(step: s)
                if labels == .never {
                    #expect(try kept == rb.entries(step: s))
                } else {
                    #expect(
                        try kept.map { [$0.component, $0.file] + $0.rows.map(Int.init) }
                            == rb.entries(step: s).map { [$0.component, $0.file] + $0.rows.map(Int.init) })
                    #expect(try rb.entries(step: s).allSatisfy { $0.lead == 0 })
                }
                for e in try rb.entries(step: s) { for row in e.rows { early.insert("\(e.file):\(row)") } }
            }
            for s in 5..<10 {
                let entries = try rb.entries(step: s)
                #expect(entries.allSatisfy { $0.component >= 3 })
                for e in entries { for row in e.rows { late.append("\(e.file):\(row)") } }
            }
        }
        #expect(early.count == 5 * 40)
        #expect(Set(late).count == late.count)
        #expect(early.isDisjoint(with: late))
        // The new global batches follow the new weights exactly.
        #expect(b.header.mixtureLog.last?.counts == [0, 0, 0, 8, 8, 24])
        #expect(b.header.labels == nil && b.header.formatVersion == "1.0")
        // Replaying a kept step gives the same samples from both manifests.
        for rank in 0..<4 {
            var x: [String] = []
            var y: [String] = []
            try ReplayReader(manifestPath: dir + "/old", rank: rank).forEachSample(steps: [0, 4]) {
                x.append("\($0.row):" + String(decoding: $0.json, as: UTF8.self))
            }
            try ReplayReader(manifestPath: dir + "/new", rank: rank).forEachSample(steps: [0, 4]) {
                y.append("\($0.row):" + String(decoding: $0.json, as: UTF8.self))
            }
            #expect(x == y && x.count == 20)
        }
    }
}

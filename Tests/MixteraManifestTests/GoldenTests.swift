import Foundation
import MixteraCore
import MixteraManifest
import MixteraTestSupport
import Testing

/// The worked example of docs/manifest-format.md §8, byte for byte.
/// `MIXTERA_RECORD=1` re-records the golden files (and then fails, so a recording is never silent).
@Suite struct GoldenTests {
    static let golden = TestSupport.packageRoot + "/Tests/MixteraManifestTests/Golden/example"

    static func build() -> [String: [UInt8]] {
        let header = ManifestHeader(
            toolVersion: "0.1.0", specPath: "build.yaml", specText: "seed: 7\n", seed: 7,
            catalogFingerprint: "0123456789abcdef", globalBatch: 4, dataParallel: 2, steps: 3,
            datasets: [ManifestDataset(name: "web", root: "/data/web", format: "jsonl", textField: "text")],
            files: [
                ManifestFile(
                    dataset: 0, path: "a.jsonl", format: "jsonl", compression: "none", byteCount: 1000,
                    mtimeNanoseconds: 1_700_000_000_000_000_000, fingerprint: "00000000000000aa", sampleCount: 10),
                ManifestFile(
                    dataset: 0, path: "b.jsonl", format: "jsonl", compression: "none", byteCount: 500,
                    mtimeNanoseconds: 1_700_000_000_000_000_000, fingerprint: "00000000000000bb", sampleCount: 5),
            ],
            components: [
                ManifestComponent(name: "a", filter: "true", selected: 10, onExhausted: "stop"),
                ManifestComponent(name: "b", filter: "true", selected: 5, onExhausted: "stop"),
            ],
            mixtureLog: [MixtureLogEntry(fromStep: 0, toStep: 2, counts: [2, 2])])
        let headerBytes = header.encoded()
        let hash = XXH3.hash(headerBytes)
        var files = ["header.json": headerBytes]
        // Rank r, step s: component a rows 2s+r..., component b row s.
        for rank in 0..<2 {
            var w = RankFileWriter(rank: rank, dataParallel: 2, samplesPerStep: 2)
            for s in 0..<3 {
                w.appendStep([
                    ManifestEntry(
                        component: 0, file: 0, row: Int64(3 * s + rank), count: 1, locator: Int64(100 * (3 * s + rank))),
                    ManifestEntry(component: 1, file: 1, row: Int64(s), count: 1, locator: Int64(100 * s)),
                ])
            }
            files[ManifestHeader.rankFileName(rank)] = w.finish(headerHash: hash)
        }
        return files
    }

    static let goldenLabelled = TestSupport.packageRoot + "/Tests/MixteraManifestTests/Golden/example-1.2"

    /// §8.1: format 1.2. `a.jsonl` (10 records) is labelled a b a a b – a b a b (0 = none at row 5) with a
    /// checkpoint every 4 rows; `b.jsonl` (5 records) has no labels.
    static func buildLabelled() -> [String: [UInt8]] {
        var header = ManifestHeader(
            toolVersion: "0.1.0", specPath: "build.yaml", specText: "seed: 7\n", seed: 7,
            catalogFingerprint: "0123456789abcdef", globalBatch: 4, dataParallel: 2, steps: 2,
            datasets: [ManifestDataset(name: "web", root: "/data/web", format: "jsonl", textField: "text")],
            files: [
                ManifestFile(
                    dataset: 0, path: "a.jsonl", format: "jsonl", compression: "none", byteCount: 1000,
                    mtimeNanoseconds: 1_700_000_000_000_000_000, fingerprint: "00000000000000aa", sampleCount: 10),
                ManifestFile(
                    dataset: 0, path: "b.jsonl", format: "jsonl", compression: "none", byteCount: 500,
                    mtimeNanoseconds: 1_700_000_000_000_000_000, fingerprint: "00000000000000bb", sampleCount: 5),
            ],
            components: [
                ManifestComponent(name: "a", filter: "true", selected: 5, onExhausted: "stop"),
                ManifestComponent(name: "b", filter: "true", selected: 5, onExhausted: "stop"),
            ],
            mixtureLog: [MixtureLogEntry(fromStep: 0, toStep: 1, counts: [2, 2])])
        header.formatVersion = "1.2"
        header.labels = LabelTableFormat.fileName
        let headerBytes = header.encoded()
        let hash = XXH3.hash(headerBytes)
        let table = LabelTable(
            interval: 4, radix: 3, fileCount: 2,
            files: [(0, FileLabels(labels: [1, 2, 1, 1, 2, 0, 1, 2, 1, 2], checkpoints: [0, 400, 800], interval: 4))])
        var files = ["header.json": headerBytes, "labels.bin": LabelTable.encoder(table).bytes(headerHash: hash)]
        // Step 0: rank 0 takes members 0–1 of a (rows 0, 2); rank 1 member 2 of a (row 3) and member 0 of b (row 1).
        // Step 1: rank 0 takes members 1–2 of b (rows 4, 7); rank 1 member 3 of a (row 6) and row 0 of b.jsonl.
        var w0 = RankFileWriter(rank: 0, dataParallel: 2, samplesPerStep: 2, sparseEntries: true, labelEntries: true)
        w0.appendLabelEntry(component: 0, file: 0, member: 0, count: 2)
        w0.endStep()
        w0.appendLabelEntry(component: 1, file: 0, member: 1, count: 2)
        w0.endStep()
        var w1 = RankFileWriter(rank: 1, dataParallel: 2, samplesPerStep: 2, sparseEntries: true, labelEntries: true)
        w1.appendLabelEntry(component: 0, file: 0, member: 2, count: 1)
        w1.appendLabelEntry(component: 1, file: 0, member: 0, count: 1)
        w1.endStep()
        w1.appendLabelEntry(component: 0, file: 0, member: 3, count: 1)
        w1.appendEntry(component: 1, file: 1, row: 0, count: 1, locator: 0, skips: [], sparse: false)
        w1.endStep()
        files[ManifestHeader.rankFileName(0)] = w0.finish(headerHash: hash)
        files[ManifestHeader.rankFileName(1)] = w1.finish(headerHash: hash)
        return files
    }

    @Test func labelledExampleMatchesItsGoldenFiles() throws {
        let files = Self.buildLabelled()
        if ProcessInfo.processInfo.environment["MIXTERA_RECORD"] == "1" {
            try? FileManager.default.createDirectory(atPath: Self.goldenLabelled, withIntermediateDirectories: true)
            for (name, bytes) in files {
                FileManager.default.createFile(atPath: Self.goldenLabelled + "/" + name, contents: Data(bytes))
            }
            Issue.record("golden files re-recorded; unset MIXTERA_RECORD and rerun")
            return
        }
        for (name, bytes) in files.sorted(by: { $0.key < $1.key }) {
            let stored = try #require(
                FileManager.default.contents(atPath: Self.goldenLabelled + "/" + name), "missing golden \(name)")
            #expect([UInt8](stored) == bytes, "\(name) differs from its golden file")
        }
        let m = try ManifestDirectory(path: Self.goldenLabelled)
        #expect(
            try m.rankFile(0).entries(step: 0) == [
                ManifestEntry(component: 0, file: 0, row: 0, count: 2, locator: 0, skips: [1])
            ])
        #expect(
            try m.rankFile(0).entries(step: 1) == [
                ManifestEntry(component: 1, file: 0, row: 4, count: 2, locator: 400, skips: [2])
            ])
        #expect(
            try m.rankFile(1).entries(step: 1) == [
                ManifestEntry(component: 0, file: 0, row: 6, count: 1, locator: 400, lead: 2),
                ManifestEntry(component: 1, file: 1, row: 0, count: 1, locator: 0),
            ])
    }

    @Test func bytesMatchTheGoldenFiles() throws {
        let files = Self.build()
        if ProcessInfo.processInfo.environment["MIXTERA_RECORD"] == "1" {
            for (name, bytes) in files {
                FileManager.default.createFile(atPath: Self.golden + "/" + name, contents: Data(bytes))
            }
            Issue.record("golden files re-recorded; unset MIXTERA_RECORD and rerun")
            return
        }
        for (name, bytes) in files.sorted(by: { $0.key < $1.key }) {
            let stored = try #require(FileManager.default.contents(atPath: Self.golden + "/" + name), "missing golden \(name)")
            #expect([UInt8](stored) == bytes, "\(name) differs from its golden file")
        }
        // And the reader reads it back.
        let m = try ManifestDirectory(path: Self.golden)
        let r1 = try m.rankFile(1)
        #expect(
            try r1.entries(step: 2) == [
                ManifestEntry(component: 0, file: 0, row: 7, count: 1, locator: 700),
                ManifestEntry(component: 1, file: 1, row: 2, count: 1, locator: 200),
            ])
    }
}

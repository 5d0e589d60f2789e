import Foundation
import MixteraCore
import MixteraManifest
import MixteraTestSupport
import Testing

@Suite struct RankFileTests {
    func randomSteps(_ steps: Int, b: Int, seed: UInt64) -> [[ManifestEntry]] {
        var rng = SplitMix64(seed: seed)
        return (0..<steps).map { _ in
            var left = b
            var out: [ManifestEntry] = []
            while left > 0 {
                let c = min(left, 1 + Int(rng.nextBelow(5)))
                out.append(
                    ManifestEntry(
                        component: Int(rng.nextBelow(3)), file: Int(rng.nextBelow(40)), row: Int64(rng.nextBelow(1 << 30)),
                        count: c, locator: Int64(rng.nextBelow(1 << 40))))
                left -= c
            }
            return out
        }
    }

    func write(_ steps: [[ManifestEntry]], b: Int, to path: String) -> [UInt8] {
        var w = RankFileWriter(rank: 1, dataParallel: 4, samplesPerStep: b)
        for s in steps { w.appendStep(s) }
        let bytes = w.finish(headerHash: 0xABCD)
        FileManager.default.createFile(atPath: path, contents: Data(bytes))
        return bytes
    }

    @Test(arguments: [(1, 1), (7, 3), (600, 16), (3000, 1)])
    func writeThenReadIsTheIdentity(_ steps: Int, _ b: Int) throws {
        let dir = TestSupport.temporaryDirectory("rank")
        let data = randomSteps(steps, b: b, seed: TestSupport.seed &+ UInt64(steps))
        _ = write(data, b: b, to: dir + "/r.bin")
        let r = try RankFileReader(path: dir + "/r.bin")
        #expect(r.stepCount == steps)
        #expect(r.samplesPerStep == b)
        #expect(r.headerHash == 0xABCD)
        // Random access in any order.
        var rng = SplitMix64(seed: 3)
        for _ in 0..<min(steps, 200) {
            let s = Int(rng.nextBelow(UInt64(steps)))
            #expect(try r.entries(step: s) == data[s])
        }
        #expect(throws: ManifestError.self) { try r.entries(step: steps) }
    }

    @Test func sparseEntriesRoundTrip() throws {
        let dir = TestSupport.temporaryDirectory("sparse")
        var rng = SplitMix64(seed: TestSupport.seed)
        var steps: [[ManifestEntry]] = []
        for _ in 0..<50 {
            var left = 8
            var out: [ManifestEntry] = []
            var row: Int64 = Int64(rng.nextBelow(100))
            while left > 0 {
                let c = min(left, 1 + Int(rng.nextBelow(4)))
                let skips = c > 1 && rng.nextBelow(2) == 0 ? (1..<c).map { _ in UInt32(rng.nextBelow(5)) } : []
                let e = ManifestEntry(
                    component: Int(rng.nextBelow(2)), file: Int(rng.nextBelow(3)), row: row, count: c,
                    locator: row * 100, skips: skips.contains { $0 > 0 } ? skips : [])
                out.append(e)
                row = e.rowEnd + Int64(rng.nextBelow(3))
                left -= c
            }
            steps.append(out)
        }
        var w = RankFileWriter(rank: 0, dataParallel: 1, samplesPerStep: 8, sparseEntries: true)
        for s in steps { w.appendStep(s) }
        let bytes = w.finish(headerHash: 7)
        #expect(bytes[10] == 1 && bytes[12] == 1)  // minor 1, flag bit 0
        FileManager.default.createFile(atPath: dir + "/r.bin", contents: Data(bytes))
        let r = try RankFileReader(path: dir + "/r.bin")
        #expect(r.sparseEntries)
        for (i, s) in steps.enumerated() { #expect(try r.entries(step: i) == s) }
        let e = ManifestEntry(component: 0, file: 0, row: 10, count: 3, locator: 0, skips: [2, 0])
        #expect(e.rows == [10, 13, 14])
        #expect(e.span == 5 && e.rowEnd == 15)
    }

    @Test func corruptionIsDetected() throws {
        let dir = TestSupport.temporaryDirectory("corrupt")
        let bytes = write(randomSteps(300, b: 8, seed: 9), b: 8, to: dir + "/good.bin")
        func expectKind(_ mutated: [UInt8], _ kind: String, allSteps: Bool = true) {
            let p = dir + "/bad.bin"
            FileManager.default.createFile(atPath: p, contents: Data(mutated))
            do {
                let r = try RankFileReader(path: p)
                if allSteps { for s in 0..<r.stepCount { _ = try r.entries(step: s) } }
                Issue.record("expected \(kind)")
            } catch {
                #expect(error.kind == kind)
                #expect(error.location?.path == p)
            }
        }
        var m = bytes
        m[0] = UInt8(ascii: "X")
        expectKind(m, "bad-magic")
        m = bytes
        m[8] = 2
        expectKind(m, "unsupported-version")
        m = bytes
        m[20] ^= 1
        expectKind(m, "checksum-mismatch")
        expectKind(Array(bytes.dropLast(5)), "truncated")
        // Every single bit flip inside the blocks or table is caught.
        var rng = SplitMix64(seed: TestSupport.seed)
        for _ in 0..<40 {
            m = bytes
            let at = 64 + Int(rng.nextBelow(UInt64(bytes.count - 64)))
            m[at] ^= UInt8(1 << rng.nextBelow(8))
            let p = dir + "/flip.bin"
            FileManager.default.createFile(atPath: p, contents: Data(m))
            do {
                let r = try RankFileReader(path: p)
                for s in 0..<r.stepCount { _ = try r.entries(step: s) }
                Issue.record("bit flip at \(at) not detected")
            } catch {
                #expect(["checksum-mismatch", "truncated", "corrupt"].contains(error.kind))
            }
        }
    }
}

/// The streaming writer (blocks written to disk as they fill, optionally on a background thread) must
/// produce the in-memory writer's bytes.
@Suite struct StreamingRankFileTests {
    @Test(arguments: [(300, 8, false), (37, 100, true), (1, 16384, false), (129, 128, true)])
    func streamingWriterMatchesInMemoryWriter(steps: Int, b: Int, sparse: Bool) throws {
        let data = RankFileTests().randomSteps(steps, b: b, seed: TestSupport.seed &+ UInt64(steps))
        var mem = RankFileWriter(rank: 1, dataParallel: 4, samplesPerStep: b, sparseEntries: sparse)
        for s in data { mem.appendStep(s) }
        let expected = mem.finish(headerHash: 0xABCD)
        let dir = TestSupport.temporaryDirectory("stream")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for (k, pipeline) in [nil, BlockPipeline()].enumerated() {
            for flushEarly in [false, true] {
                let out = dir + "/m\(k)\(flushEarly)"
                let mw = try ManifestWriter(destination: out)
                var w = try mw.rankFileWriter(
                    rank: 1, dataParallel: 4, samplesPerStep: b, sparseEntries: sparse, pipeline: pipeline)
                for s in data { w.appendStep(s) }
                if flushEarly { w.flushLastBlock() }
                let size = try w.finishFile(headerHash: 0xABCD)
                try mw.write(name: "header.json", bytes: Array("{}".utf8))
                try mw.commit()
                let got = try FileSystem.readAll(out + "/" + ManifestHeader.rankFileName(1))
                #expect(got == expected, "pipeline \(k), flushEarly \(flushEarly)")
                #expect(size == Int64(expected.count))
            }
        }
    }
}

@Suite struct ManifestHeaderTests {
    static let header = ManifestHeader(
        toolVersion: "0.1.0", specPath: "build.yaml", specText: "seed: 1\n", seed: 1, catalogFingerprint: "00000000000000ff",
        globalBatch: 8, dataParallel: 2, steps: 3,
        datasets: [ManifestDataset(name: "web", root: "/data/web", format: "jsonl", textField: "text")],
        files: [
            ManifestFile(
                dataset: 0, path: "a.jsonl.zst", format: "jsonl", compression: "zstd", byteCount: 10, mtimeNanoseconds: 5,
                fingerprint: "0123456789abcdef", sampleCount: 4,
                frames: [
                    ZstdFrameRef(compressedOffset: 0, decompressedOffset: 0),
                    ZstdFrameRef(compressedOffset: 7, decompressedOffset: 99),
                ])
        ],
        components: [ManifestComponent(name: "web", filter: "true", selected: 4, onExhausted: "repeat")],
        mixtureLog: [MixtureLogEntry(fromStep: 0, toStep: 2, counts: [8])])

    @Test func encodesFormatVersionFirstAndRoundTrips() throws {
        let bytes = Self.header.encoded()
        let text = String(decoding: bytes, as: UTF8.self)
        #expect(text.hasPrefix("{\n  \"format_version\": \"1.0\",\n"))
        #expect(try ManifestHeader.decode(bytes, path: "h.json") == Self.header)
    }

    /// A Parquet file's sync points round-trip as `parquet_sync` triples; malformed ones are a bad header.
    @Test func parquetSyncPointsRoundTripAndAreChecked() throws {
        var h = Self.header
        h.datasets.append(ManifestDataset(name: "pq", root: "/data/pq", format: "parquet", textField: "text"))
        h.files.append(
            ManifestFile(
                dataset: 1, path: "p.parquet", format: "parquet", compression: "none", byteCount: 900_000,
                mtimeNanoseconds: 5, fingerprint: "pqf:0123456789abcdef", sampleCount: 700,
                parquetSync: [
                    ParquetSyncPoint(row: 0, offset: 120, value: 6), ParquetSyncPoint(row: 41, offset: 30_500, value: 65_601),
                ]))
        let text = String(decoding: h.encoded(), as: UTF8.self)
        #expect(text.contains("\"parquet_sync\": [\n"))
        #expect(try ManifestHeader.decode(h.encoded(), path: "h.json") == h)
        for bad in ["[0, 120]", "[0, -1, 6]", "[\"0\", 120, 6]"] {
            let edited = text.replacingOccurrences(
                of: #"\[\s*0,\s*120,\s*6\s*\]"#, with: bad, options: .regularExpression)
            #expect(edited != text)
            #expect {
                try ManifestHeader.decode(Array(edited.utf8), path: "h.json")
            } throws: { e in
                (e as! ManifestError).kind == "bad-header" && "\(e)".contains("parquet_sync")
            }
        }
    }

    @Test func rejectsAnUnknownMajorVersion() {
        var text = String(decoding: Self.header.encoded(), as: UTF8.self)
        text = text.replacingOccurrences(of: "\"1.0\"", with: "\"2.0\"")
        #expect {
            try ManifestHeader.decode(Array(text.utf8), path: "h.json")
        } throws: { e in
            (e as! ManifestError).kind == "unsupported-version"
        }
    }
}

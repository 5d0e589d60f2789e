import Foundation
import MixteraCore
import MixteraManifest
import MixteraTestSupport
import Testing

/// Format 1.2: `labels.bin` and label entries in column blocks (docs/manifest-format.md §3.1, §3.3).
@Suite struct LabelTableTests {
    /// Random labels below `radix`, with runs (sorted layouts) or independent draws (mixed layouts).
    static func randomLabels(_ n: Int, radix: Int, runs: Bool, rng: inout SplitMix64) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(n)
        while out.count < n {
            let v = UInt8(rng.nextBelow(UInt64(radix)))
            let len = runs ? 1 + Int(rng.nextBelow(200)) : 1
            for _ in 0..<min(len, n - out.count) { out.append(v) }
        }
        return out
    }

    static func checkpoints(rows: Int, interval g: Int, rng: inout SplitMix64) -> [Int64] {
        var at: Int64 = Int64(rng.nextBelow(4))
        return stride(from: 0, to: rows, by: g).map { _ in
            defer { at += Int64(rng.nextBelow(100_000)) }
            return at
        }
    }

    /// A header whose file table has `rows.count` JSONL files (and one Parquet file after them).
    static func header(rows: [Int], components: Int) -> ManifestHeader {
        var h = ManifestHeaderTests.header
        h.datasets = [ManifestDataset(name: "d", root: "/d", format: "jsonl", textField: nil)]
        h.files = rows.enumerated().map { i, n in
            ManifestFile(
                dataset: 0, path: "f\(i).jsonl", format: "jsonl", compression: "none", byteCount: 1,
                mtimeNanoseconds: 0, fingerprint: "0000000000000000", sampleCount: Int64(n))
        }
        h.files.append(
            ManifestFile(
                dataset: 0, path: "p.parquet", format: "parquet", compression: "none", byteCount: 1, mtimeNanoseconds: 0,
                fingerprint: "pqf:0000000000000000", sampleCount: 1000))
        h.components = (0..<components).map {
            ManifestComponent(name: "c\($0)", filter: "true", selected: 1, onExhausted: "stop")
        }
        h.labels = LabelTableFormat.fileName
        h.formatVersion = "1.2"
        return h
    }

    @Test(arguments: [(2, false), (3, true), (6, false), (17, false), (255, true)])
    func rankSelectAndResolveAgreeWithBruteForce(radix: Int, runs: Bool) {
        var rng = SplitMix64(seed: TestSupport.seed &+ UInt64(radix))
        for n in [0, 1, 63, 64, 65, 511, 512, 513, 3000] {
            let labels = Self.randomLabels(n, radix: radix, runs: runs, rng: &rng)
            let fl = FileLabels(labels: labels, checkpoints: [], interval: 64)
            for label in Set(labels + [UInt8(radix - 1), 0]) {
                let rows = labels.indices.filter { labels[$0] == label }
                #expect(fl.total(label) == rows.count)
                for (m, r) in rows.enumerated() where m % 7 == 0 || m == rows.count - 1 {
                    #expect(fl.select(label, m) == r)
                    #expect(fl.rank(label, before: r) == m)
                }
                #expect(fl.select(label, rows.count) == nil)
                // Entries: their rows are consecutive members; skips are the records between them.
                for _ in 0..<10 where !rows.isEmpty {
                    let m = Int(rng.nextBelow(UInt64(rows.count)))
                    let count = 1 + Int(rng.nextBelow(UInt64(rows.count - m)))
                    let got = fl.resolve(label, member: m, count: count)
                    let want = Array(rows[m..<(m + count)])
                    let entry = ManifestEntry(
                        component: 0, file: 0, row: Int64(got?.row ?? -1), count: count, locator: 0, skips: got?.skips ?? [])
                    #expect(entry.rows == want.map(Int64.init))
                    #expect(fl.resolve(label, member: m, count: rows.count - m + 1) == nil)
                }
            }
        }
    }

    @Test(arguments: [2, 3, 5, 6, 7, 16, 17, 255])
    func labelsFileRoundTrips(radix: Int) throws {
        var rng = SplitMix64(seed: TestSupport.seed &+ 100 &+ UInt64(radix))
        let rows = [0, 1, 64, 1000, 4097]
        let h = Self.header(rows: rows, components: radix - 1)
        var files: [(file: Int, labels: FileLabels)] = []
        for (i, n) in rows.enumerated() where i != 2 {
            files.append(
                (
                    i,
                    FileLabels(
                        labels: Self.randomLabels(n, radix: radix, runs: i == 3, rng: &rng),
                        checkpoints: Self.checkpoints(rows: n, interval: 64, rng: &rng), interval: 64)
                ))
        }
        let table = LabelTable(interval: 64, radix: radix, fileCount: h.files.count, files: files)
        let encoder = LabelTable.encoder(table)
        let bytes = encoder.bytes(headerHash: 42)
        #expect(bytes.count == encoder.byteCount)
        let back = try LabelTable(bytes: bytes, path: "labels.bin", header: h, headerHash: 42)
        #expect(back.labelledFiles == [0, 1, 3, 4])
        #expect(back.radix == radix && back.interval == 64)
        for (f, l) in files {
            #expect(try back.labels(file: f)?.labels == l.labels)
            #expect(try back.labels(file: f)?.checkpoints == l.checkpoints)
        }
        #expect(try back.labels(file: 2) == nil)
        #expect(LabelTableFormat.perByte(radix: radix) == [2: 8, 3: 5, 5: 3, 6: 3, 7: 2, 16: 2, 17: 1, 255: 1][radix])
    }

    /// A valid labels file over 3 JSONL files, and its header.
    static func sample() -> (bytes: [UInt8], header: ManifestHeader) {
        var rng = SplitMix64(seed: 5)
        let rows = [300, 10, 130]
        let h = header(rows: rows, components: 3)
        let files = rows.enumerated().map { i, n in
            (
                i,
                FileLabels(
                    labels: randomLabels(n, radix: 4, runs: false, rng: &rng),
                    checkpoints: checkpoints(rows: n, interval: 64, rng: &rng), interval: 64)
            )
        }
        let t = LabelTable(interval: 64, radix: 4, fileCount: h.files.count, files: files)
        return (LabelTable.encoder(t).bytes(headerHash: 9), h)
    }

    static func u32(_ v: UInt32, into b: inout [UInt8], at o: Int) {
        for i in 0..<4 { b[o + i] = UInt8(truncatingIfNeeded: v >> (8 * UInt32(i))) }
    }

    /// Rewrites the fixed header's checksum (bytes 40..<48) and the directory's, so that a field edit is
    /// seen by the check that field is for, not by a checksum.
    static func resealed(_ b: [UInt8]) -> [UInt8] {
        var b = b
        let h = XXH3.hash(Array(b[0..<40]))
        for i in 0..<8 { b[40 + i] = UInt8(truncatingIfNeeded: h >> (8 * UInt64(i))) }
        let n = Int(b[20]) | Int(b[21]) << 8
        let dirEnd = 48 + 32 * n
        let d = XXH3.hash(Array(b[48..<dirEnd]))
        for i in 0..<8 { b[dirEnd + i] = UInt8(truncatingIfNeeded: d >> (8 * UInt64(i))) }
        return b
    }

    @Test func everyRejectionHasItsKindAndOffset() throws {
        let (good, h) = Self.sample()
        _ = try LabelTable(bytes: good, path: "l", header: h, headerHash: 9)
        func expectKind(
            _ b: [UInt8], _ kind: String, at offset: Int64? = nil, header: ManifestHeader? = nil, hash: UInt64 = 9,
            sourceLocation: SourceLocation = #_sourceLocation
        ) {
            do {
                try LabelTable(bytes: b, path: "l", header: header ?? h, headerHash: hash).verifyAll()
                Issue.record("expected \(kind)", sourceLocation: sourceLocation)
            } catch {
                #expect(error.kind == kind, "\(error.message)", sourceLocation: sourceLocation)
                #expect(error.location?.path == "l", sourceLocation: sourceLocation)
                if let offset { #expect(error.location?.byteOffset == offset, sourceLocation: sourceLocation) }
            }
        }
        var b = good
        b[0] = UInt8(ascii: "X")
        expectKind(b, "bad-magic", at: 0)
        b = good
        b[8] = 2
        expectKind(Self.resealed(b), "unsupported-version", at: 8)
        b = good
        b[17] ^= 1
        expectKind(b, "checksum-mismatch", at: 40)
        b = good
        b[12] = 1
        expectKind(Self.resealed(b), "unsupported-flags", at: 12)
        b = good
        b[28] = 1
        expectKind(Self.resealed(b), "unsupported-flags", at: 12)
        for g: UInt32 in [0, 65_537] {
            b = good
            Self.u32(g, into: &b, at: 16)
            expectKind(Self.resealed(b), "corrupt", at: 16)
        }
        for n: UInt32 in [1, 257] {
            b = good
            Self.u32(n, into: &b, at: 24)
            expectKind(Self.resealed(b), "corrupt", at: 24)
        }
        expectKind(good, "header-mismatch", at: 32, hash: 10)
        expectKind(Array(good[0..<30]), "truncated")
        expectKind(Array(good[0..<100]), "truncated")
        // Directory: checksum, order, range and format of files.
        b = good
        b[48 + 32 + 4] ^= 1
        expectKind(b, "checksum-mismatch", at: 48 + 96)
        b = good
        Self.u32(0, into: &b, at: 48 + 32)
        expectKind(Self.resealed(b), "corrupt", at: 48 + 32)
        b = good
        Self.u32(3, into: &b, at: 48 + 64)  // the Parquet file
        expectKind(Self.resealed(b), "corrupt", at: 48 + 64)
        b = good
        Self.u32(9, into: &b, at: 48 + 64)
        expectKind(Self.resealed(b), "corrupt", at: 48 + 64)
        // Frames: where they are, their checksum, trailing bytes.
        b = good
        b[48 + 8] &+= 1
        expectKind(Self.resealed(b), "corrupt", at: 48 + 8)
        b = good
        b[b.count - 3] ^= 0x40
        expectKind(b, "checksum-mismatch")
        expectKind(good + [0], "corrupt", at: Int64(good.count))
        b = good
        b[48 + 16] &+= 1  // raw size
        expectKind(Self.resealed(b), "corrupt")
        // Raw contents (written by hand from the spec): a packed byte at or above N^p; a raw section that is not
        // exactly the packed labels plus the checkpoint varints.
        let labels0: [UInt8] = [1, 2, 3, 0, 1]  // radix 4 packs 4 labels a byte: [1 + 2·4 + 3·16, 1]
        let rows = [5, 10, 130]
        let h2 = Self.header(rows: rows, components: 3)
        let good2 = Self.handWritten(frames: [
            (0, [57, 1, 0]),
            (
                2,
                [
                    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7, 9, 0x80,
                    1,
                ]
            ),
        ])
        let t = try LabelTable(bytes: good2, path: "l", header: h2, headerHash: 9)
        #expect(try t.labels(file: 0).map { Array($0.labels) } == labels0 && t.labels(file: 0)?.checkpoints == [0])
        #expect(try t.labels(file: 2)?.checkpoints == [7, 16, 144])
        #expect(t.labelledFiles == [0, 2])
        // Radix 3 packs 5 labels a byte, so 243 ... 255 are not packed labels.
        #expect(
            try LabelTable(bytes: Self.handWritten(frames: [(0, [242, 0])], radix: 3), path: "l", header: h2, headerHash: 9)
                .labels(file: 0)?.labels == [2, 2, 2, 2, 2])
        expectKind(Self.handWritten(frames: [(0, [243, 0])], radix: 3), "corrupt", header: h2)
        expectKind(Self.handWritten(frames: [(0, [57, 1, 0, 0])]), "corrupt", header: h2)
        expectKind(Self.handWritten(frames: [(0, [57, 1, 0x80])]), "corrupt", header: h2)
        expectKind(Self.handWritten(frames: [(0, [57, 1])]), "corrupt", header: h2)
        expectKind(Self.handWritten(frames: [(0, [57, 1, 0])], headerHash: 8), "header-mismatch", at: 32, header: h2)
    }

    /// Frames are checked when their file is first asked for: a damaged frame fails its file only, and `verifyAll`.
    @Test func damagedFrameFailsOnlyItsFile() throws {
        var (b, h) = Self.sample()
        b[b.count - 3] ^= 0x40  // inside the last frame (file 2)
        let t = try LabelTable(bytes: b, path: "l", header: h, headerHash: 9)
        #expect(try t.labels(file: 0)?.labels.count == 300)
        #expect(try t.labels(file: 1)?.labels.count == 10)
        #expect(throws: ManifestError.self) { try t.labels(file: 2) }
        #expect(throws: ManifestError.self) { try t.verifyAll() }
        #expect(t.labelledFiles == [0, 1, 2])
    }

    /// `labels.bin` written from docs/manifest-format.md §3.3 alone (g = 64), from raw frames.
    static func handWritten(frames: [(file: Int, raw: [UInt8])], radix: UInt64 = 4, headerHash: UInt64 = 9) -> [UInt8] {
        func le(_ v: UInt64, _ n: Int) -> [UInt8] { (0..<n).map { UInt8(truncatingIfNeeded: v >> (8 * UInt64($0))) } }
        var out = Array("MXTRLABL".utf8) + le(1, 2) + le(0, 2) + le(0, 4) + le(64, 4) + le(UInt64(frames.count), 4)
        out += le(radix, 4) + le(0, 4) + le(headerHash, 8)
        out += le(XXH3.hash(out), 8)
        let compressed = frames.map { Zstd.compress($0.raw) }
        var offset = 48 + 32 * frames.count + 8
        var dir: [UInt8] = []
        for (k, f) in frames.enumerated() {
            dir += le(UInt64(f.file), 4) + le(UInt64(compressed[k].count), 4) + le(UInt64(offset), 8)
            dir += le(UInt64(f.raw.count), 8) + le(XXH3.hash(compressed[k]), 8)
            offset += compressed[k].count
        }
        out += dir + le(XXH3.hash(dir), 8)
        for c in compressed { out += c }
        return out
    }
}

/// Rank files with label entries: column blocks mixing label entries and 1.1 entries.
@Suite struct LabelEntryTests {
    struct Fixture {
        var table: LabelTable
        var header: ManifestHeader
        /// Per step: what to append (label entries as (c, f, member, count), others as entries) and what reads back.
        var steps: [[(label: (c: Int, f: Int, m: Int, n: Int)?, entry: ManifestEntry)]]
    }

    static func fixture(steps: Int, b: Int, seed: UInt64) -> Fixture {
        var rng = SplitMix64(seed: seed)
        let rows = [700, 90, 400]
        var h = LabelTableTests.header(rows: rows, components: 3)
        h.files[2].path = "unlabelled.jsonl"
        let files = [0, 1].map { i in
            (
                i,
                FileLabels(
                    labels: LabelTableTests.randomLabels(rows[i], radix: 4, runs: i == 1, rng: &rng),
                    checkpoints: LabelTableTests.checkpoints(rows: rows[i], interval: 64, rng: &rng), interval: 64)
            )
        }
        let table = LabelTable(interval: 64, radix: 4, fileCount: h.files.count, files: files)
        var out: [[(label: (c: Int, f: Int, m: Int, n: Int)?, entry: ManifestEntry)]] = []
        for _ in 0..<steps {
            var left = b
            var step: [(label: (c: Int, f: Int, m: Int, n: Int)?, entry: ManifestEntry)] = []
            while left > 0 {
                let kind = rng.nextBelow(3)
                if kind < 2 {
                    let f = Int(rng.nextBelow(2))
                    let c = Int(rng.nextBelow(3))
                    let fl = try! table.labels(file: f)!
                    let total = fl.total(UInt8(c + 1))
                    guard total > 0 else { continue }
                    let m = Int(rng.nextBelow(UInt64(total)))
                    let n = min(left, 1 + Int(rng.nextBelow(UInt64(min(total - m, 20)))))
                    let rows = fl.labels.indices.filter { fl.labels[$0] == UInt8(c + 1) }[m..<(m + n)]
                    var skips = zip(rows.dropFirst(), rows).map { UInt32($0 - $1 - 1) }
                    if !skips.contains(where: { $0 > 0 }) { skips = [] }
                    let first = rows.first!
                    step.append(
                        (
                            (c, f, m, n),
                            ManifestEntry(
                                component: c, file: f, row: Int64(first), count: n, locator: fl.checkpoints[first / 64],
                                skips: skips, lead: first % 64)
                        ))
                    left -= n
                } else {
                    let f = 2 + Int(rng.nextBelow(2))
                    let n = min(left, 1 + Int(rng.nextBelow(6)))
                    let skips = f == 2 && n > 1 && rng.nextBelow(2) == 0 ? (1..<n).map { _ in UInt32(1 + rng.nextBelow(3)) } : []
                    let row = Int64(rng.nextBelow(300))
                    step.append(
                        (
                            nil,
                            ManifestEntry(
                                component: Int(rng.nextBelow(3)), file: f, row: row, count: n, locator: row * 77, skips: skips)
                        ))
                    left -= n
                }
            }
            out.append(step)
        }
        return Fixture(table: table, header: h, steps: out)
    }

    static func append(_ fx: Fixture, to w: inout RankFileWriter) {
        for step in fx.steps {
            for (label, e) in step {
                if let l = label {
                    w.appendLabelEntry(component: l.c, file: l.f, member: l.m, count: l.n)
                } else {
                    w.appendEntry(
                        component: e.component, file: e.file, row: e.row, count: e.count, locator: e.locator, skips: e.skips,
                        sparse: e.isSparse)
                }
            }
            w.endStep()
        }
    }

    @Test(arguments: [(1, 1), (40, 16), (300, 8), (2, 20_000)])
    func labelEntriesRoundTripThroughColumnBlocks(steps: Int, b: Int) throws {
        let fx = Self.fixture(steps: steps, b: b, seed: TestSupport.seed &+ UInt64(steps))
        var w = RankFileWriter(rank: 0, dataParallel: 1, samplesPerStep: b, sparseEntries: true, labelEntries: true)
        Self.append(fx, to: &w)
        let bytes = w.finish(headerHash: 7)
        #expect(bytes[10] == 2 && bytes[12] == 3)  // minor 2, flag bits 0 and 1
        let dir = TestSupport.temporaryDirectory("labels")
        FileManager.default.createFile(atPath: dir + "/r.bin", contents: Data(bytes))
        let r = try RankFileReader(path: dir + "/r.bin")
        #expect(r.labelEntries && r.sparseEntries)
        #expect {
            try r.entries(step: 0)
        } throws: { e in
            (e as! ManifestError).kind == "missing-labels"
        }
        r.labels = fx.table
        var rng = SplitMix64(seed: 11)
        for _ in 0..<min(steps, 100) {
            let s = Int(rng.nextBelow(UInt64(steps)))
            #expect(try r.entries(step: s) == fx.steps[s].map(\.entry))
        }
        // Streamed blocks are the same bytes.
        let mw = try ManifestWriter(destination: dir + "/m")
        var sw = try mw.rankFileWriter(
            rank: 0, dataParallel: 1, samplesPerStep: b, sparseEntries: true, labelEntries: true, pipeline: BlockPipeline())
        Self.append(fx, to: &sw)
        _ = try sw.finishFile(headerHash: 7)
        try mw.write(name: "header.json", bytes: Array("{}".utf8))
        try mw.commit()
        #expect(try FileSystem.readAll(dir + "/m/" + ManifestHeader.rankFileName(0)) == bytes)
    }

    @Test func damageIsDetected() throws {
        let fx = Self.fixture(steps: 200, b: 8, seed: 3)
        var w = RankFileWriter(rank: 0, dataParallel: 1, samplesPerStep: 8, sparseEntries: true, labelEntries: true)
        Self.append(fx, to: &w)
        let bytes = w.finish(headerHash: 7)
        let dir = TestSupport.temporaryDirectory("labels-damage")
        func read(_ b: [UInt8], labels: LabelTable? = nil) throws(ManifestError) {
            let p = dir + "/r.bin"
            FileManager.default.createFile(atPath: p, contents: Data(b))
            let r = try RankFileReader(path: p)
            r.labels = labels ?? fx.table
            for s in 0..<r.stepCount { _ = try r.entries(step: s) }
        }
        try read(bytes)
        // Flag bit 1 without bit 0.
        var m = bytes
        m[12] = 2
        let h = XXH3.hash(Array(m[0..<56]))
        for i in 0..<8 { m[56 + i] = UInt8(truncatingIfNeeded: h >> (8 * UInt64(i))) }
        #expect(throws: ManifestError.self) { try read(m) }
        do { try read(m) } catch { #expect(error.kind == "unsupported-flags" && error.location?.byteOffset == 12) }
        // A label table with fewer labelled rows than the entries name.
        let sparse = LabelTable(
            interval: 64, radix: 4, fileCount: fx.header.files.count,
            files: [
                (
                    0,
                    FileLabels(
                        labels: [UInt8](repeating: 0, count: 700), checkpoints: [Int64](repeating: 0, count: 11), interval: 64)
                ), (1, try! fx.table.labels(file: 1)!),
            ])
        do {
            try read(bytes, labels: sparse)
            Issue.record("expected corrupt")
        } catch {
            #expect(error.kind == "corrupt" && error.message.contains("label entry"))
        }
        // Bit flips anywhere after the fixed header.
        var rng = SplitMix64(seed: TestSupport.seed)
        for _ in 0..<40 {
            m = bytes
            let at = 64 + Int(rng.nextBelow(UInt64(bytes.count - 64)))
            m[at] ^= UInt8(1 << rng.nextBelow(8))
            do {
                try read(m)
                Issue.record("bit flip at \(at) not detected")
            } catch {
                #expect(["checksum-mismatch", "truncated", "corrupt"].contains(error.kind))
            }
        }
    }
}

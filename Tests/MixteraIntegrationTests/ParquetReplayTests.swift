import Foundation
import MixteraCore
import MixteraFormats
import MixteraManifest
import MixteraParquet
import MixteraTestSupport
import Testing

@testable import MixteraReplay

/// Parquet replay of the `text` column three ways: sparse reads of snappy PLAIN pages, whole decoded pages, and
/// the general reader (and `forEachSample` against `samples`); every fixture with a flat `text` column, runs of 1, 2, 3 and 7 rows over every row.
@Suite struct ParquetReplayTests {
    static let files: [String] = {
        let dir = TestSupport.fixture("parquet")
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
        return names.filter { $0.hasSuffix(".parquet") }.sorted()
    }()

    @Test(arguments: files)
    func sparseWholeAndGeneralReadsAgree(_ name: String) throws {
        let path = TestSupport.fixture("parquet/" + name)
        let file = try ParquetFile(path: path, mode: .pread)
        guard let column = try? file.column("text"), ParquetFile.isFlatByteArray(column) else { return }
        let rows = file.rowCount
        var sparse = ParquetReplayCache(sparse: true)
        // `forEachSample` (the replay path: runs of the page the last entry read skip the lookups) on its own cache.
        var streamed = ParquetReplayCache(sparse: true)
        // Pages of the next run indexed on the prefetcher's thread before they are read.
        var prefetched = ParquetReplayCache(sparse: true)
        var unprefetched = ParquetReplayCache(sparse: true, prefetch: false)
        // A small budget: pages and indexes are evicted and read again.
        var whole = ParquetReplayCache(budget: 4096, sparse: false)
        // Pages read from the sync points a scan records; and from sync points that do not match the bytes (each
        // prefix offset one off), which the cache notices and indexes those pages instead.
        var points: [ParquetSyncPoint] = []
        for g in file.rowGroups.indices where file.rowGroups[g].rowCount > 0 {
            _ = try file.byteArrayRowLengths(column, rowGroup: g, syncPoints: &points)
        }
        var synced = ParquetReplayCache(sparse: true, syncPoints: [points])
        var misaligned = ParquetReplayCache(
            sparse: true, syncPoints: [points.map { ParquetSyncPoint(row: $0.row, offset: $0.offset, value: $0.value + 1) }])
        var runs: [(Int64, Int)] = []
        for run in [1, 2, 3, 7] {
            var first: Int64 = 0
            while first < rows {
                let count = Int(min(Int64(run), rows - first))
                let a = try sparse.samples(file: 0, path: path, textField: "text", firstRow: first, count: count)
                let b = try whole.samples(file: 0, path: path, textField: "text", firstRow: first, count: count)
                // The general reader, one row group at a time.
                var c: [[UInt8]] = []
                for g in file.rowGroups {
                    let lo = max(first, g.firstRowIndex)
                    let hi = min(first + Int64(count), g.firstRowIndex + g.rowCount)
                    if lo < hi { c += try ParquetReplayCache.decode(file, lo..<hi, textField: "text") }
                }
                let next = first + Int64(count)
                if next < rows {
                    prefetched.prefetch(
                        file: 0, path: path, textField: "text", firstRow: next, count: Int(min(Int64(run), rows - next)),
                        step: Int(next), current: Int(first))
                }
                let e = try prefetched.samples(file: 0, path: path, textField: "text", firstRow: first, count: count)
                let f = try unprefetched.samples(file: 0, path: path, textField: "text", firstRow: first, count: count)
                #expect(a == e, "\(name) rows \(first)+\(count): prefetched vs not")
                #expect(a == f, "\(name) rows \(first)+\(count): without a prefetcher")
                var d: [[UInt8]] = []
                try streamed.forEachSample(file: 0, path: path, textField: "text", firstRow: first, count: count) {
                    d.append($0)
                }
                #expect(a == d, "\(name) rows \(first)+\(count): forEachSample vs samples")
                #expect(a == b, "\(name) rows \(first)+\(count): sparse vs whole pages")
                #expect(a == c, "\(name) rows \(first)+\(count): sparse vs general reader")
                let g = try synced.samples(file: 0, path: path, textField: "text", firstRow: first, count: count)
                #expect(a == g, "\(name) rows \(first)+\(count): synced vs sparse")
                var h: [[UInt8]] = []
                try misaligned.forEachSample(file: 0, path: path, textField: "text", firstRow: first, count: count) {
                    h.append($0)
                }
                #expect(a == h, "\(name) rows \(first)+\(count): misaligned sync points vs sparse")
                runs.append((first, count))
                first += Int64(count)
            }
        }
        if name == "synced_text.parquet" {
            #expect(synced.syncedReads > 0 && synced.syncMismatches == 0)
            #expect(misaligned.syncMismatches > 0)
        }
        // Synced reads in reverse: the window's cursor is behind the rows, so reads restart or jump.
        var reverse = ParquetReplayCache(sparse: true, syncPoints: [points])
        for (first, count) in runs.reversed() {
            var got: [[UInt8]] = []
            try reverse.forEachSample(file: 0, path: path, textField: "text", firstRow: first, count: count) {
                got.append($0)
            }
            let want = try whole.samples(file: 0, path: path, textField: "text", firstRow: first, count: count)
            #expect(got == want, "\(name) rows \(first)+\(count): synced in reverse vs whole pages")
        }
    }
}

/// The prefetcher hands over what its thread built, waits for work in progress, and drops what is not taken.
@Suite struct ParquetPrefetcherTests {
    @Test func buildsTakesAndDrops() throws {
        let path = TestSupport.fixture("parquet/snappy_text.parquet")
        let file = try ParquetFile(path: path, mode: .map)
        let column = try file.column("text")
        let pages = (file.pageRowStarts(column, rowGroup: 0) ?? []).indices
        let k = try #require(pages.first { (try? file.sparseByteArrayPage(column, rowGroup: 0, page: $0)) != nil })
        let expected = try #require(try file.sparseByteArrayPage(column, rowGroup: 0, page: k))
        let prefetcher = ParquetPrefetcher()
        let key = PageKey(file: 0, rowGroup: 0, page: k)
        prefetcher.submit(key, step: 0, current: 0) { window in
            usleep(20_000)  // still being built when taken: `take` waits
            return try? file.sparseByteArrayPage(column, rowGroup: 0, page: k, scratch: window)
        }
        let got = try #require(prefetcher.take(key))
        #expect(got.firstRow == expected.firstRow && got.rowCount == expected.rowCount)
        func rows(_ p: ParquetSparseByteArrayPage) throws -> [[UInt8]?] {
            var out: [[UInt8]?] = []
            try file.withSparseRows(column, rowGroup: 0, page: p, rows: 0..<p.rowCount, window: ParquetSparseWindow()) {
                out.append($1.map { Array($0) })
            }
            return out
        }
        #expect(try rows(got) == rows(expected))
        #expect(prefetcher.take(key) == nil)  // taken once
        #expect(prefetcher.take(PageKey(file: 1, rowGroup: 0, page: 0)) == nil)  // never submitted
        // Slots of steps the reader has passed are dropped once more than 64 wait.
        for k in 0..<70 { prefetcher.submit(PageKey(file: 2, rowGroup: 0, page: k), step: 0, current: 0) { _ in nil } }
        prefetcher.submit(PageKey(file: 3, rowGroup: 0, page: 0), step: 10, current: 8) { _ in nil }
        #expect(prefetcher.take(PageKey(file: 2, rowGroup: 0, page: 0)) == nil)
        #expect(prefetcher.pendingCount == 1)
    }
}

/// The step reader returns each step's samples as a cache on this thread reads them, whichever thread read the step
/// (its queue, or the caller: a step not yet started, or a later one taken while waiting), and stops a step at the
/// entry that fails, keeping the samples before it.
@Suite struct StepReaderTests {
    @Test func readsStepsAndStopsAtAFailingEntry() throws {
        let path = TestSupport.fixture("parquet/synced_text.parquet")
        let file = try ParquetFile(path: path, mode: .map)
        var points: [ParquetSyncPoint] = []
        for g in file.rowGroups.indices {
            _ = try file.byteArrayRowLengths(try file.column("text"), rowGroup: g, syncPoints: &points)
        }
        let store = ParquetReplayStore(budget: 1 << 20, syncPoints: [points], prefetcher: true)
        let reader = StepReader(store: store)
        var mine = StepContext(parquet: ParquetReplayCache(store: store))
        func job(_ first: Int64, _ count: Int) -> StepReader.Job {
            .parquet(file: 0, path: path, textField: "text", firstRow: first, count: count)
        }
        // Twelve steps of three runs each, all over the file; step 7 has a run past its end.
        var steps: [[(Int64, Int)]] = []
        for k in 0..<12 {
            steps.append([(Int64(k * 29 % 300), 5), (Int64(359 - k * 13), 1), (Int64(k * 7), 3)])
        }
        steps[7][1] = (file.rowCount, 2)
        for (k, runs) in steps.enumerated() { reader.submit(step: k, runs.map { job($0.0, $0.1) }) }
        #expect(reader.isSubmitted(0) && reader.isSubmitted(11) && !reader.isSubmitted(12))
        var direct = ParquetReplayCache(sparse: false)
        // The last step first (most likely not started yet: read here), then the others in order.
        for k in [11] + Array(0..<11) {
            let s = try #require(reader.take(step: k, stealingWith: &mine))
            for (p, (first, count)) in steps[k].enumerated() {
                let (range, failed) = s.samples(entry: p)
                if k == 7 && p >= 1 {
                    #expect(range.isEmpty && failed == (p == 1), "step 7 stops at its second entry")
                    continue
                }
                #expect(!failed && range.count == count)
                let want = try direct.samples(file: 0, path: path, textField: "text", firstRow: first, count: count)
                #expect(range.map { Array(s.json($0)) } == want, "step \(k) entry \(p)")
            }
            #expect((s.error?.kind == "corrupt") == (k == 7))
        }
        #expect(reader.take(step: 3, stealingWith: &mine) == nil && reader.take(step: 12, stealingWith: &mine) == nil)
    }
}

/// JSONL jobs: the step reader reads mapped plain files' entries (plain, sparse and label entries) as this thread
/// would, and stops a step at a record that fails, keeping the samples before it.
@Suite struct JSONLStepReaderTests {
    @Test func readsJSONLEntriesAndStopsAtABadRecord() throws {
        let dir = TestSupport.temporaryDirectory("jsonl-steps")
        var text = ""
        for i in 0..<300 {
            text += i == 250 ? "{\"text\": broken}\n" : "{\"text\":\"row \(i)\"}\n"
            if i % 7 == 0 { text += "  \n" }  // blank lines are not records
        }
        TestSupport.write(text, to: dir + "/a.jsonl")
        let reader = try JSONLRecordReader(path: dir + "/a.jsonl", compression: .none)
        #expect(reader.isMapped)
        // Row offsets and labels: every third row is component 0 (label 1), checkpoints every 8 rows.
        var offsets: [Int64] = []
        var at: Int64 = 0
        for line in text.split(separator: "\n", omittingEmptySubsequences: false).dropLast() {
            if !line.allSatisfy({ $0 == " " }) { offsets.append(at) }
            at += Int64(line.utf8.count) + 1
        }
        let labels = FileLabels(
            labels: (0..<300).map { $0 % 3 == 0 ? 1 : 2 }, checkpoints: stride(from: 0, to: 300, by: 8).map { offsets[$0] },
            interval: 8)
        func label(_ member: Int, _ count: Int) -> ManifestEntry {
            let r = labels.resolve(1, member: member, count: count)!
            let (locator, lead) = labels.start(row: r.row)
            return ManifestEntry(
                component: 0, file: 0, row: Int64(r.row), count: count, locator: locator, skips: r.skips, lead: lead)
        }
        // label(2, 3) starts at row 6, 6 of 8 rows past its checkpoint: read back from row 8, over a blank line.
        let steps: [[ManifestEntry]] = [
            [ManifestEntry(component: 0, file: 0, row: 5, count: 4, locator: offsets[5]), label(3, 5), label(2, 3)],
            [label(20, 7), ManifestEntry(component: 0, file: 0, row: 40, count: 3, locator: offsets[40], skips: [2, 0])],
            [label(80, 4), ManifestEntry(component: 0, file: 0, row: 248, count: 5, locator: offsets[248]), label(0, 1)],
        ]
        let expected: [[[String]]] = steps.map { s in
            s.map { e in e.rows.map { #""row \#($0)""# } }
        }
        let store = ParquetReplayStore(budget: 1 << 20, syncPoints: [[]], prefetcher: false)
        let stepReader = StepReader(store: store)
        for (k, s) in steps.enumerated() {
            stepReader.submit(
                step: k, s.map { .jsonl(entry: $0, reader: reader, textField: "text", labels: labels) })
        }
        var mine = StepContext(parquet: ParquetReplayCache(store: store))
        for k in [2, 0, 1] {
            let got = try #require(stepReader.take(step: k, stealingWith: &mine))
            for p in steps[k].indices {
                let (range, failed) = got.samples(entry: p)
                let json = range.map { String(decoding: got.json($0), as: UTF8.self) }
                if k == 2 && p == 1 {
                    #expect(json == [#""row 248""#, #""row 249""#] && failed, "stops at row 250")
                } else if k == 2 && p == 2 {
                    #expect(json.isEmpty && !failed)
                } else {
                    #expect(json == expected[k][p] && !failed, "step \(k) entry \(p)")
                }
            }
            #expect((got.error?.kind == "invalid-json") == (k == 2))
        }
    }
}

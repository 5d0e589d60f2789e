import Foundation
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
        // A small budget: pages and indexes are evicted and read again.
        var whole = ParquetReplayCache(budget: 4096, sparse: false)
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
                var d: [[UInt8]] = []
                try streamed.forEachSample(file: 0, path: path, textField: "text", firstRow: first, count: count) {
                    d.append($0)
                }
                #expect(a == d, "\(name) rows \(first)+\(count): forEachSample vs samples")
                #expect(a == b, "\(name) rows \(first)+\(count): sparse vs whole pages")
                #expect(a == c, "\(name) rows \(first)+\(count): sparse vs general reader")
                first += Int64(count)
            }
        }
    }
}

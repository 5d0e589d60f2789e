import Foundation
import MixteraCore
import Testing

@testable import MixteraParquet

/// Sync points (recorded while a scan reads text lengths) and the synced reads replay makes from them, against
/// whole-page decoding.
@Suite struct SyncedPageTests {
    /// The sync points of every row group of `column`, as a scan records them.
    static func syncPoints(_ file: ParquetFile, _ column: ParquetColumnDescriptor) throws -> [ParquetSyncPoint] {
        var points: [ParquetSyncPoint] = []
        for g in file.rowGroups.indices where file.rowGroups[g].rowCount > 0 {
            let plain = try file.byteArrayRowLengths(column, rowGroup: g)
            let withSync = try file.byteArrayRowLengths(column, rowGroup: g, syncPoints: &points)
            #expect(plain == withSync, "recording sync points changes no length")
        }
        return points
    }

    /// Every page with sync points, read from them: each row alone forwards and backwards (the window's cursor
    /// continues, jumps to a decoded sync point, or restarts), runs of three rows, and the whole page, with one
    /// window throughout; the rows equal the page decoded whole.
    @Test(arguments: Fixtures.list("fixtures/parquet", suffix: ".parquet"))
    func syncedRowsMatchWholePages(_ name: String) throws {
        let file = try ParquetFile(path: Fixtures.good(name), mode: .map)
        let window = ParquetSparseWindow()
        for column in file.schema.columns where ParquetFile.isFlatByteArray(column) {
            let points = try Self.syncPoints(file, column)
            let rows = points.map(\.row).filter { $0 >= 0 }
            #expect(rows == rows.sorted(), "data pages' sync points are in row order")
            for g in file.rowGroups.indices where file.rowGroups[g].rowCount > 0 {
                guard let starts = file.pageRowStarts(column, rowGroup: g),
                    let dictionary = try file.byteArrayDictionary(column, rowGroup: g)
                else { continue }
                for k in starts.indices {
                    guard
                        let synced = try file.syncedByteArrayPage(
                            column, rowGroup: g, page: k, syncPoints: points[...])
                    else { continue }
                    let whole = try file.byteArrayPage(column, rowGroup: g, page: k, dictionary: dictionary)
                    #expect(synced.firstRow == whole.firstRow && synced.rowCount == whole.rowCount)
                    let expected = (0..<whole.rowCount).map { r in whole.withValue(r) { Array($0) } }
                    let n = synced.rowCount
                    var ranges = (0..<n).map { $0..<$0 + 1 }
                    ranges += (0..<n).reversed().map { $0..<$0 + 1 }
                    ranges += stride(from: 0, to: n, by: 2).map { $0..<min(n, $0 + 3) }
                    ranges.append(0..<n)
                    for range in ranges {
                        var rows: [Int] = []
                        var got: [[UInt8]?] = []
                        let ok = file.withSyncedRows(synced, rows: range, window: window) { r, v in
                            rows.append(r)
                            got.append(Array(v))
                        }
                        #expect(ok, "\(name) \(column.dottedPath) group \(g) page \(k) rows \(range)")
                        #expect(rows == Array(range))
                        #expect(got == Array(expected[range]), "\(name) \(column.dottedPath) \(g) page \(k) rows \(range)")
                    }
                }
            }
        }
    }

    /// Dictionary pages read from their sync points (rows −(i + 1) for value i): each value alone forwards and
    /// backwards, runs of three, and all values, against the dictionary decoded whole; and a dictionary-encoded
    /// page's per-row indices against its rows decoded whole.
    @Test(arguments: Fixtures.list("fixtures/parquet", suffix: ".parquet"))
    func syncedDictionariesMatchDecodedOnes(_ name: String) throws {
        let file = try ParquetFile(path: Fixtures.good(name), mode: .map)
        let window = ParquetSparseWindow()
        for column in file.schema.columns where ParquetFile.isFlatByteArray(column) {
            let points = try Self.syncPoints(file, column)
            for g in file.rowGroups.indices where file.rowGroups[g].rowCount > 0 {
                guard let decoded = try file.byteArrayDictionary(column, rowGroup: g),
                    let synced = try file.syncedDictionaryPage(column, rowGroup: g, syncPoints: points)
                else { continue }
                #expect(synced.rowCount == decoded.count)
                let expected = (0..<decoded.count).map { i in decoded.withValue(i) { Array($0) } }
                let n = synced.rowCount
                var ranges = (0..<n).map { $0..<$0 + 1 } + (0..<n).reversed().map { $0..<$0 + 1 }
                ranges += stride(from: 0, to: n, by: 2).map { $0..<min(n, $0 + 3) } + [0..<n]
                for range in ranges {
                    var got: [[UInt8]] = []
                    let ok = file.withSyncedRows(synced, rows: range, window: window) { _, v in got.append(Array(v)) }
                    #expect(ok && got == Array(expected[range]), "\(name) \(column.dottedPath) group \(g) values \(range)")
                }
                for k in (file.pageRowStarts(column, rowGroup: g) ?? []).indices {
                    guard let indices = try file.dictionaryIndices(column, rowGroup: g, page: k, count: n) else { continue }
                    let whole = try file.byteArrayPage(column, rowGroup: g, page: k, dictionary: decoded)
                    #expect(indices.count == whole.rowCount)
                    for (r, i) in indices.enumerated() {
                        #expect(whole.withValue(r) { Array($0) } == (i < 0 ? nil : expected[Int(i)]))
                    }
                }
            }
        }
    }

    /// The fixture with long texts has pages of several fragments, some without a row starting in them: sync points
    /// skip those, and every page of its text column is readable from them.
    @Test func multiFragmentPagesHaveSyncPoints() throws {
        let file = try ParquetFile(path: Fixtures.good("synced_text.parquet"), mode: .map)
        let column = try file.column("text")
        let points = try Self.syncPoints(file, column)
        var pages = 0
        var most = 0
        for g in file.rowGroups.indices {
            for k in (file.pageRowStarts(column, rowGroup: g) ?? []).indices {
                guard let sparse = try file.sparseByteArrayPage(column, rowGroup: g, page: k) else { continue }
                let synced = try #require(
                    try file.syncedByteArrayPage(column, rowGroup: g, page: k, syncPoints: points[...]))
                pages += 1
                most = max(most, synced.syncRows.count)
                // One per fragment a row's prefix starts in, at most one per fragment.
                let fragments = Set((0..<sparse.rowCount).map { (Int(sparse.starts[$0]) - 4) >> 16 })
                #expect(synced.syncRows.count == fragments.count)
                #expect(synced.syncRows.count <= sparse.fragmentStarts.count)
            }
        }
        #expect(pages >= 4)
        #expect(most >= 2)
        // Its dictionary pages (one per row group) have sync points of their own.
        for g in file.rowGroups.indices {
            let d = try #require(try file.syncedDictionaryPage(column, rowGroup: g, syncPoints: points))
            #expect(d.syncRows.first == 0)
        }
    }

    /// Sync points that do not fit the page are refused before any read: outside the page's rows, a prefix past
    /// the page's end, a fragment offset outside the body, out of order, or none at the page's first row.
    @Test func misfitSyncPointsAreRefused() throws {
        let file = try ParquetFile(path: Fixtures.good("synced_text.parquet"), mode: .map)
        let column = try file.column("text")
        let points = try Self.syncPoints(file, column)
        let g = 0
        let k = try #require(
            (file.pageRowStarts(column, rowGroup: g) ?? []).indices.first {
                ((try? file.syncedByteArrayPage(column, rowGroup: g, page: $0, syncPoints: points[...]))??.syncRows.count
                    ?? 0) >= 2
            })
        let page = try #require(try file.syncedByteArrayPage(column, rowGroup: g, page: k, syncPoints: points[...]))
        let mine = points.filter { $0.row >= page.firstRow && $0.row < page.firstRow + Int64(page.rowCount) }
        func refused(_ edit: (inout [ParquetSyncPoint]) -> Void) throws -> Bool {
            var p = mine
            edit(&p)
            return try file.syncedByteArrayPage(column, rowGroup: g, page: k, syncPoints: p[...]) == nil
        }
        #expect(try !refused { _ in })
        #expect(try refused { $0[1].value = Int64(page.outLength) })
        #expect(try refused { $0[1].offset = page.bodyOffset + Int64(page.bodyCount) })
        #expect(try refused { $0[1].offset = page.bodyOffset - 1 })
        #expect(try refused { $0.swapAt(0, 1) })
        #expect(try refused { $0.removeFirst() })
        #expect(try refused { $0[1].value = $0[0].value })
    }

    /// Sync points that fit the page but not its bytes (a prefix offset off by one, a fragment offset inside an
    /// element) make the read report false without passing any row on; it never reads outside the page.
    @Test func wrongSyncPointsFailTheRead() throws {
        let file = try ParquetFile(path: Fixtures.good("synced_text.parquet"), mode: .map)
        let column = try file.column("text")
        let points = try Self.syncPoints(file, column)
        let window = ParquetSparseWindow()
        var checked = 0
        for g in file.rowGroups.indices {
            for k in (file.pageRowStarts(column, rowGroup: g) ?? []).indices {
                guard let good = try file.syncedByteArrayPage(column, rowGroup: g, page: k, syncPoints: points[...])
                else { continue }
                let mine = points.filter { $0.row >= good.firstRow && $0.row < good.firstRow + Int64(good.rowCount) }
                var shifted = mine
                shifted[0].value += 1
                guard let bad = try file.syncedByteArrayPage(column, rowGroup: g, page: k, syncPoints: shifted[...])
                else { continue }
                var passed = 0
                let ok = file.withSyncedRows(bad, rows: 0..<good.rowCount, window: window) { _, _ in passed += 1 }
                #expect(!ok && passed == 0, "group \(g) page \(k): a misaligned prefix is caught")
                checked += 1
                // Any fragment offset: the read succeeds with the page's rows or fails; it does not crash.
                for delta in [1, 2, 3, 5] {
                    var moved = mine
                    moved[0].offset += Int64(delta)
                    guard let p = try file.syncedByteArrayPage(column, rowGroup: g, page: k, syncPoints: moved[...])
                    else { continue }
                    _ = file.withSyncedRows(p, rows: 0..<min(3, p.rowCount), window: window) { _, _ in }
                }
            }
        }
        #expect(checked >= 4)
    }
}

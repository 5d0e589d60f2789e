import Foundation
import MixteraCore
import Testing

@testable import MixteraParquet

@Suite struct ParquetFileTests {
    static let goodFiles = Fixtures.list("fixtures/parquet", suffix: ".parquet")

    @Test func fixturesExist() {
        #expect(Self.goodFiles.count >= 25)
    }

    @Test(arguments: goodFiles)
    func everyRowMatchesExpectedJSON(_ name: String) throws {
        let file = try ParquetFile(path: Fixtures.good(name))
        let expected = Fixtures.expectedLines(name)
        #expect(Int64(expected.count) == file.rowCount)
        let rows = try file.readRowsAsJSON(0..<file.rowCount)
        #expect(rows.count == expected.count)
        for (i, (got, want)) in zip(rows, expected).enumerated() {
            let g = Fixtures.parse(got)
            let w = Fixtures.parse(want)
            #expect(g != nil, "row \(i) is not valid JSON: \(got)")
            #expect(g == w, "\(name) row \(i):\n got \(got)\nwant \(want)")
            if g != w { break }
        }
    }

    @Test(arguments: ["paged_index.parquet", "plain_pages.parquet", "basic_zstd_v2.parquet", "nested.parquet"])
    func rowRangesMatchWholeFile(_ name: String) throws {
        let file = try ParquetFile(path: Fixtures.good(name))
        let expected = Fixtures.expectedLines(name)
        let n = file.rowCount
        let ranges: [Range<Int64>] = [0..<1, 1..<4, (n / 3)..<(n / 2), (n - 2)..<n, 0..<0, 5..<min(n, 130)]
        for r in ranges where r.upperBound <= n {
            let rows = try file.readRowsAsJSON(r)
            #expect(rows.count == r.count)
            for (k, row) in rows.enumerated() {
                #expect(Fixtures.parse(row) == Fixtures.parse(expected[Int(r.lowerBound) + k]), "\(name) \(r) row \(k)")
            }
        }
    }

    @Test func footerAndSchema() throws {
        let file = try ParquetFile(path: Fixtures.good("basic_snappy_v1.parquet"))
        #expect(file.rowCount == 20)
        #expect(file.rowGroups.map(\.rowCount) == [8, 8, 4])
        #expect(file.rowGroups.map(\.firstRowIndex) == [0, 8, 16])
        let paths = file.schema.columns.map(\.dottedPath)
        #expect(
            paths == [
                "id", "text", "score", "flag", "small", "meta.language", "meta.source", "meta.quality",
                "tags.list.element",
            ])
        let lang = try file.column("meta.language")
        #expect(lang.physicalType == .byteArray)
        #expect(lang.logicalType == .string)
        #expect(lang.maxDefinitionLevel == 2)
        #expect(lang.maxRepetitionLevel == 0)
        let tag = try file.column("tags.list.element")
        #expect(tag.maxDefinitionLevel == 3)
        #expect(tag.maxRepetitionLevel == 1)
        #expect(file.schema.nodes[try file.node("tags")].logicalType == .list)
        #expect(file.rowGroups[0].columns[1].compression == .snappy)
        let quality = try file.column("meta.quality")
        #expect(quality.logicalType == .integer(bitWidth: 16, isSigned: true))
    }

    @Test func projectedValuesMatchExpected() throws {
        let name = "basic_gzip_v1.parquet"
        let file = try ParquetFile(path: Fixtures.good(name))
        let values = try file.readValues(["meta.language", "tags", "meta", "tags.list.element"])
        let expected = Fixtures.expectedLines(name).map { Fixtures.parse($0) as? [String: Any] }
        for r in 0..<Int(file.rowCount) {
            let row = expected[r] ?? [:]
            let meta = row["meta"] as? [String: Any]
            let lang = Fixtures.parse(ParquetJSON.render(values[0][r]))
            #expect(lang == (meta?["language"] as? NSObject ?? NSNull()), "row \(r)")
            #expect(Fixtures.parse(ParquetJSON.render(values[1][r])) == (row["tags"] as? NSObject ?? NSNull()))
            #expect(Fixtures.parse(ParquetJSON.render(values[2][r])) == (row["meta"] as? NSObject ?? NSNull()))
        }
        // A leaf below a repeated ancestor yields, per row, the list of its values.
        #expect(values[3][2] == .list([.string("t0"), .string("t1")]))
    }

    @Test func typedColumnAndByteCounts() throws {
        let name = "dict_fallback.parquet"
        let file = try ParquetFile(path: Fixtures.good(name))
        let text = try file.readColumn(try file.column("text"))
        #expect(text.rowCount == 300)
        let counts = try #require(text.byteCountsPerRow())
        let expected = Fixtures.expectedLines(name).map { Fixtures.parse($0) as? [String: Any] }
        for r in 0..<300 {
            let want = (expected[r]?["text"] as? String).map { $0.utf8.count }
            #expect(counts[r] == want, "row \(r)")
        }
        let ids = try file.readColumn(try file.column("id"), rowGroup: 0)
        guard case .int64(let v) = ids.values else {
            Issue.record("id is not int64")
            return
        }
        #expect(v == Array(0..<Int64(v.count)))
        // Dictionary fallback: the chunk mixes dictionary and plain pages.
        let tags = try file.readColumn(try file.column("tags.list.element"))
        #expect(tags.rowCount == 300)
    }

    @Test func emptyFileHasNoRows() throws {
        let file = try ParquetFile(path: Fixtures.good("empty.parquet"))
        #expect(file.rowCount == 0)
        #expect(try file.readRowsAsJSON(0..<0).isEmpty)
    }

    @Test func rowRangeOutOfBoundsThrows() throws {
        let file = try ParquetFile(path: Fixtures.good("basic_none_v1.parquet"))
        let error = #expect(throws: ParquetError.self) { try file.readRows(15..<21) }
        #expect(error?.code == .rowOutOfRange)
        let missing = #expect(throws: ParquetError.self) { try file.readValues(["meta.nope"]) }
        #expect(missing?.code == .noSuchColumn)
        #expect(missing?.message.hasPrefix("column \"meta.nope\" does not exist") == true)
    }
}

@Suite struct PageIndexTests {
    @Test func offsetIndexSkipsEarlierPages() throws {
        let file = try ParquetFile(path: Fixtures.good("paged_index.parquet"))
        let text = try file.column("text")
        let reader = file.chunkReader(text, rowGroup: 0)
        let locations = try #require(try reader.offsetIndex())
        #expect(locations.count >= 2)
        let late = locations[locations.count - 1].firstRowIndex
        let chunk = try reader.read(rows: late..<(late + 1))
        #expect(chunk.firstRow == late)
        #expect(Int64(chunk.rowCount) == file.rowGroups[0].rowCount - late)
    }
}

import Foundation
import MixteraCore
import MixteraFormats
import MixteraParquet
import MixteraSpec
import MixteraTestSupport
import Testing

/// `ParquetScanner` against the rows pyarrow wrote (`fixtures/parquet/*.expected.jsonl`).
@Suite struct ParquetScannerTests {
    static func dataset(_ body: String, root: String = TestSupport.fixture("parquet")) -> DatasetDecl {
        let spec = "datasets:\n  - name: t\n    root: \(root)\n    format: parquet\n" + body
        return try! DatasetSpec.parse(text: spec, path: "/x.yaml").datasets[0]
    }

    static func expected(_ name: String) throws -> [[String: Any]] {
        let data = try Data(contentsOf: URL(fileURLWithPath: TestSupport.fixture("parquet/\(name).expected.jsonl")))
        return try data.split(separator: 0x0A).map { try JSONSerialization.jsonObject(with: Data($0)) as! [String: Any] }
    }

    static func scan(_ d: DatasetDecl, _ file: String, path: String? = nil) throws -> FileScanResult {
        let scanner = try ParquetScanner(dataset: d, relativePath: file)
        let p = path ?? d.root + "/" + file
        return try scanner.scan(path: p, displayPath: p)
    }

    /// Categorical value of property `i` (in categorical order) of sample `s`.
    static func cat(_ r: FileScanResult, _ s: Int, _ i: Int) -> PropertyValue { r.keyTable[Int(r.sampleKeys[s])][i] }

    static let basicProperties = """
            properties:
              language: {path: meta.language}
              source:   {path: meta.source, type: string, default: unknown}
              tags:     {path: tags, type: list<string>}
              flag:     {path: flag, type: bool, nullable: true}
              id:       {path: id, type: int}
              quality:  {path: meta.quality, type: int, default: -1}
              score:    {path: score, type: float}
              kind:     {from_path: "basic_{kind}.parquet"}

        """

    @Test(arguments: ["basic_none_v1", "basic_snappy_v2", "basic_zstd_v1", "paged_index", "plain_pages"])
    func propertiesMatchTheRowsPyarrowWrote(_ name: String) throws {
        let d = Self.dataset(Self.basicProperties)
        let r = try Self.scan(d, name + ".parquet")
        let rows = try Self.expected(name)
        #expect(r.sampleCount == rows.count)
        #expect(r.locatorKind == .parquetRows)
        #expect(r.byteOffsets == (0..<Int64(rows.count)).map { $0 })
        #expect(r.byteLengths.allSatisfy { $0 == 0 } && r.textBytes.allSatisfy { $0 == 0 })
        for (i, row) in rows.enumerated() {
            let meta = row["meta"] as? [String: Any]
            #expect(Self.cat(r, i, 0) == ((meta?["language"] as? String).map { .string($0) } ?? .null), "row \(i)")
            #expect(Self.cat(r, i, 1) == .string(meta?["source"] as? String ?? "unknown"), "row \(i)")
            let tags = (row["tags"] as? [Any]).map { PropertyValue.stringList($0.compactMap { $0 as? String }) } ?? .null
            #expect(Self.cat(r, i, 2) == tags, "row \(i)")
            #expect(Self.cat(r, i, 3) == ((row["flag"] as? Bool).map { .bool($0) } ?? .null), "row \(i)")
            let kind: PropertyValue = name.hasPrefix("basic_") ? .string(String(name.dropFirst(6))) : .null
            #expect(Self.cat(r, i, 4) == kind)
            #expect(r.numericColumns[0].value(at: i) == .int(Int64(row["id"] as! Int)))
            #expect(r.numericColumns[1].value(at: i) == .int(Int64(meta?["quality"] as? Int ?? -1)), "row \(i)")
            // NaN is null in the JSON mapping; null scores stay null (no default).
            let score = (row["score"] as? Double).map { PropertyValue.float($0) } ?? .null
            #expect(r.numericColumns[2].value(at: i) == score, "row \(i)")
        }
    }

    @Test func textBytesComeFromTheTextColumnAndNullTextsAreSkipped() throws {
        let d = Self.dataset("    text: text\n    tokens: id\n    on_error: skip\n")
        let r = try Self.scan(d, "basic_gzip_v2.parquet")
        let rows = try Self.expected("basic_gzip_v2")
        let kept = rows.indices.filter { rows[$0]["text"] is String }
        #expect(r.sampleCount == kept.count)
        #expect(r.skippedRecords == rows.count - kept.count)
        #expect(r.byteOffsets == kept.map { Int64($0) })
        #expect(r.textBytes == kept.map { Int64((rows[$0]["text"] as! String).utf8.count) })
        #expect(r.tokens == kept.map { Int64($0) })
        let p = try #require(r.problems.first)
        #expect(p.code == .typeMismatch)
        #expect(p.message == "text column \"text\" is null at row 3")
        #expect(p.location?.rowGroup == 0 && p.location?.columnName == "text")
    }

    @Test func nullTextFailsWithItsLocation() throws {
        let d = Self.dataset("    text: text\n")
        let path = TestSupport.fixture("parquet/basic_none_v1.parquet")
        #expect {
            try Self.scan(d, "basic_none_v1.parquet")
        } throws: { e in
            let e = e as! FormatError
            return e.code == .typeMismatch && e.location == DataLocation(path: path, rowGroup: 0, columnName: "text")
                && e.message.contains("row 3")
        }
    }

    @Test func missingColumnNamesItAndListsTheColumns() throws {
        let d = Self.dataset("    properties:\n      lang: {path: meta.lang}\n")
        #expect {
            try Self.scan(d, "basic_none_v1.parquet")
        } throws: { e in
            let e = e as! FormatError
            return e.code == .missingField
                && e.message.hasPrefix("property \"lang\" column \"meta.lang\" does not exist; columns are: id, text, score")
                && e.message.contains("meta.language")
        }
        // With a default, a missing column gives every row the default.
        let withDefault = Self.dataset("    properties:\n      lang: {path: meta.lang, default: xx}\n")
        let r = try Self.scan(withDefault, "basic_none_v1.parquet")
        #expect(r.sampleCount == 20 && r.keyTable == [[.string("xx")]])
        let noText = Self.dataset("    text: body\n")
        #expect(throws: FormatError.self) { try Self.scan(noText, "basic_none_v1.parquet") }
    }

    @Test func typeMismatchNamesFileColumnAndRowGroup() throws {
        let path = TestSupport.fixture("parquet/basic_none_v1.parquet")
        for (decl, column) in [
            ("n: {path: meta.language, type: int}", "meta.language"), ("s: {path: id, type: string}", "id"),
            ("f: {path: flag, type: float}", "flag"), ("l: {path: meta.source, type: list<string>}", "meta.source"),
        ] {
            let d = Self.dataset("    properties:\n      \(decl)\n")
            #expect(
                performing: { try Self.scan(d, "basic_none_v1.parquet") },
                throws: { e in
                    let e = e as! FormatError
                    return e.code == .typeMismatch && e.location?.path == path && e.location?.rowGroup == 0
                        && e.location?.columnName == column && e.message.contains("in column \"\(column)\" at row 0")
                })
        }
        // The text column must hold strings.
        let d = Self.dataset("    text: id\n")
        #expect(
            performing: { try Self.scan(d, "basic_none_v1.parquet") },
            throws: { e in
                (e as! FormatError).message == "text column \"id\" must hold strings, found physical type int64"
            })
    }

    @Test func nestedAndListColumns() throws {
        let d = Self.dataset(
            """
                properties:
                  title: {path: doc.title}
                  names: {path: "items.list.element.b", type: list<string>}
                  x:     {path: doc.inner.x, type: int}

            """)
        let r = try Self.scan(d, "nested.parquet")
        let rows = try Self.expected("nested")
        #expect(r.sampleCount == rows.count)
        for (i, row) in rows.enumerated() {
            let doc = row["doc"] as? [String: Any]
            #expect(Self.cat(r, i, 0) == ((doc?["title"] as? String).map { .string($0) } ?? .null))
            let items = row["items"] as? [[String: Any]]
            let names = items.map { PropertyValue.stringList($0.compactMap { $0["b"] as? String }) }
            // A node below a repeated ancestor yields a list per row (empty when the list is null or empty).
            #expect(Self.cat(r, i, 1) == (names ?? .stringList([])), "row \(i)")
            let x = ((doc?["inner"] as? [String: Any])?["x"] as? Int).map { PropertyValue.int(Int64($0)) } ?? .null
            #expect(r.numericColumns[0].value(at: i) == x, "row \(i)")
        }
    }

    /// Only the projected columns are decoded: a destroyed page of another column does not matter.
    @Test func scanTouchesOnlyProjectedColumns() throws {
        let src = TestSupport.fixture("parquet/basic_none_v1.parquet")
        let dir = TestSupport.temporaryDirectory("pq-proj")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/damaged.parquet"
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: src)))
        let file = try ParquetFile(path: src)
        let score = try file.column("score")
        for g in file.rowGroups {
            let chunk = g.columns[score.index]
            let start = Int(chunk.startOffset)
            for k in start..<(start + Int(chunk.totalCompressedByteCount)) { bytes[k] = 0xFF }
        }
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let damaged = try ParquetFile(path: path)
        #expect(throws: ParquetError.self) { try damaged.readColumn(damaged.column("score")) }
        let d = Self.dataset(
            "    text: text\n    on_error: skip\n    properties:\n      lang: {path: meta.language}\n      id: {path: id, type: int}\n",
            root: dir)
        let r = try Self.scan(d, "damaged.parquet")
        #expect(r.sampleCount == 17)
        // Projecting the damaged column fails, located in its column chunk.
        let bad = Self.dataset("    properties:\n      score: {path: score, type: float}\n", root: dir)
        #expect(
            performing: { try Self.scan(bad, "damaged.parquet") },
            throws: { e in
                (e as! FormatError).location?.columnName == "score"
            })
    }

    @Test func emptyAndZeroRowGroupFiles() throws {
        let d = Self.dataset("    properties:\n      id: {path: id, type: int}\n")
        #expect(try Self.scan(Self.dataset("    text: text\n"), "empty.parquet").sampleCount == 0)
        let r = try Self.scan(d, "zero_row_group.parquet")
        #expect(r.sampleCount == 5)
        #expect(r.numericColumns[0] == .int([0, 1, 2, 3, 4], nulls: nil))
    }

    @Test func notParquetIsAFormatErrorWithTheParquetCode() throws {
        let d = Self.dataset("    properties:\n      id: {path: id, type: int}\n", root: TestSupport.fixture("bad/parquet"))
        #expect(
            performing: { try Self.scan(d, "bad_magic.parquet") },
            throws: { e in
                (e as! FormatError).kind == "bad-magic"
            })
    }
}

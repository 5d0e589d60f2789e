import MixteraCore
import Testing

@testable import MixteraParquet

@Suite struct BadFileTests {
    struct Case: Sendable, CustomStringConvertible {
        var file: String
        var code: ParquetError.Code
        var rowGroup: Int? = nil
        var column: String? = nil
        var page: Int? = nil
        var messagePrefix: String
        var description: String { file }
    }

    static let cases: [Case] = [
        Case(file: "bad_magic.parquet", code: .badMagic, messagePrefix: "file does not end with magic PAR1"),
        Case(file: "bad_head_magic.parquet", code: .badMagic, messagePrefix: "file does not start with magic PAR1"),
        Case(file: "too_small.parquet", code: .badMagic, messagePrefix: "file has 8 bytes, too small to be Parquet"),
        Case(file: "footer_length_past_end.parquet", code: .corruptFooter, messagePrefix: "footer length"),
        Case(
            file: "corrupt_thrift.parquet", code: .corruptFooter,
            messagePrefix: "footer metadata is corrupt: unknown thrift type 15"),
        Case(file: "encrypted_magic.parquet", code: .encrypted, messagePrefix: "encrypted Parquet is not supported"),
        Case(
            file: "crc_mismatch.parquet", code: .crcMismatch, rowGroup: 0, column: "text", page: 0,
            messagePrefix: "page crc32 is"),
        Case(
            file: "truncated_page.parquet", code: .truncatedPage, rowGroup: 0, column: "text", page: 0,
            messagePrefix: "page body of"),
        Case(
            file: "unsupported_codec.parquet", code: .unsupportedCodec, rowGroup: 0, column: "text",
            messagePrefix: "column \"text\" uses compression codec LZO, which is not supported"),
        Case(
            file: "value_count_mismatch.parquet", code: .valueCountMismatch, rowGroup: 0, column: "id",
            messagePrefix: "pages hold 10 values but the column metadata says 11"),
        Case(
            file: "chunk_past_footer.parquet", code: .truncatedPage, rowGroup: 0, column: "text",
            messagePrefix: "column chunk at byte"),
    ]

    @Test func everyBadFileHasACase() {
        let files = Set(Fixtures.list("fixtures/bad/parquet", suffix: ".parquet"))
        #expect(files == Set(Self.cases.map(\.file)))
    }

    @Test(arguments: cases)
    func badFileFailsWithCodeAndLocation(_ c: Case) {
        let path = Fixtures.bad(c.file)
        let error = #expect(throws: ParquetError.self) {
            let file = try ParquetFile(path: path)
            _ = try file.readRowsAsJSON(0..<file.rowCount)
        }
        guard let error else { return }
        #expect(error.code == c.code, "\(error)")
        #expect(error.message.hasPrefix(c.messagePrefix), "\(error.message)")
        #expect(error.location?.path == path)
        #expect(error.location?.rowGroup == c.rowGroup)
        #expect(error.location?.columnName == c.column)
        #expect(error.location?.page == c.page)
        #expect(error.category == .data)
        #expect(!error.message.hasSuffix("."))
    }
}

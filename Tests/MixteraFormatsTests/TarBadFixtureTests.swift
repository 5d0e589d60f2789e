import MixteraCore
import Testing

@testable import MixteraFormats

/// Every file in `fixtures/bad/wds/` with its exact error; read through ``WebDatasetReader`` (walk + group +
/// load everything) with both backends.
@Suite struct TarBadFixtureTests {
    struct Case: Sendable, CustomStringConvertible {
        var file: String
        var code: FormatError.Kind
        var byteOffset: Int64?
        var member: String?
        var message: String
        var description: String { file }
    }

    static let cases: [Case] = [
        Case(
            file: "bad-checksum.tar", code: .badArchive, byteOffset: 2048, member: nil,
            message: "bad tar header checksum (stored 0o12261, computed 0o12260)"),
        Case(
            file: "cut-stream.tar.gz", code: .decompression, byteOffset: 0, member: nil,
            message: "cannot decompress archive: truncated gzip input"),
        Case(
            file: "duplicate-extension.tar", code: .badArchive, byteOffset: 2048, member: "a.txt",
            message: "duplicate extension \"txt\" in sample \"a\""),
        Case(
            file: "gnu-sparse.tar", code: .unsupported, byteOffset: 0, member: nil,
            message: "gnu sparse member \"sparse.bin\" is not supported"),
        Case(
            file: "not-a-tar.tar", code: .badArchive, byteOffset: 0, member: nil,
            message: "not a tar archive: invalid tar header checksum field"),
        Case(
            file: "pax-bad-record.tar", code: .badArchive, byteOffset: 0, member: nil,
            message: "malformed pax header: pax record at byte 0 has length 99 but 14 bytes remain"),
        Case(
            file: "pax-without-member.tar", code: .truncated, byteOffset: 0, member: nil,
            message: "archive ends after an extension header without its member header"),
        Case(
            file: "truncated-header.tar", code: .truncated, byteOffset: 3072, member: nil,
            message: "archive ends inside a header (300 of 512 bytes)"),
        Case(
            file: "truncated-member.tar", code: .truncated, byteOffset: 7680, member: "s0002.txt",
            message: "member data of 700 bytes is cut off after 350 bytes"),
        Case(
            file: "truncated-member.tar.gz", code: .truncated, byteOffset: 7680, member: "s0002.txt",
            message: "member data of 700 bytes is cut off after 350 bytes"),
        Case(
            file: "truncated-padding.tar", code: .truncated, byteOffset: 534, member: "s0000.json",
            message: "archive ends inside the padding after the member data"),
    ]

    @Test(arguments: cases, [TarWalker.Backend.automatic, .libarchive])
    func badFixture(_ c: Case, backend: TarWalker.Backend) {
        let path = TarFixtures.bad(c.file)
        let error = TarFixtures.formatError { () throws(FormatError) in
            let reader = try WebDatasetReader(path: path, options: .init(loadExtensions: nil, backend: backend))
            _ = try reader.readAll()
        }
        #expect(error?.code == c.code)
        #expect(error?.location == DataLocation(path: path, byteOffset: c.byteOffset, member: c.member))
        #expect(error?.message == c.message)
        #expect(error?.category == .data)
    }

    /// Guard: every bad fixture has a case (and every case a file).
    @Test func everyBadFixtureIsTested() throws {
        let files = try FileSystem.listDirectory(TarFixtures.root + "/fixtures/bad/wds")
        #expect(files == Self.cases.map(\.file).sorted())
    }

    /// Truncation is found by the direct walker without reading any payload: the walk alone fails.
    @Test func truncationFoundByTheWalkAlone() {
        let path = TarFixtures.bad("truncated-member.tar")
        let error = TarFixtures.formatError { () throws(FormatError) in
            let walker = try TarWalker(path: path, backend: .direct)
            while try walker.next() != nil {}
        }
        #expect(error?.code == .truncated)
        #expect(error?.location?.member == "s0002.txt")
        #expect(error?.description == "\(path)@7680 (member \"s0002.txt\"): member data of 700 bytes is cut off after 350 bytes")
    }
}

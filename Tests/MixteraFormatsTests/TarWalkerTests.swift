import Foundation
import MixteraCore
import Testing

@testable import MixteraFormats

@Suite struct TarWalkerTests {
    /// Walks `path` and returns members with the data of small regular members.
    static func walk(
        _ path: String, backend: TarWalker.Backend = .automatic, limits: TarLimits = TarLimits()
    ) throws(FormatError) -> [TarFixtures.Member] {
        let walker = try TarWalker(path: path, backend: backend, limits: limits)
        var out: [TarFixtures.Member] = []
        while let m = try walker.next() {
            var hex: String?
            if m.kind == .regular && m.byteCount <= 256 { hex = TarFixtures.hex(try walker.readData()) }
            out.append(
                TarFixtures.Member(
                    index: m.memberIndex, name: m.name, kind: TarFixtures.kindName(m.kind),
                    header_offset: m.headerByteOffset, data_offset: m.dataByteOffset, size: m.byteCount,
                    link: m.linkName.flatMap { m.kind == .symlink || m.kind == .hardLink ? $0 : nil }, data_hex: hex))
        }
        #expect(try walker.next() == nil)
        return out
    }

    @Test(arguments: TarFixtures.plain)
    func directWalkMatchesPython(fixture: String) throws {
        let expected = try TarFixtures.expected(fixture)
        #expect(!expected.members.isEmpty)
        let members = try Self.walk(TarFixtures.good(fixture), backend: .direct)
        #expect(members == expected.members)
    }

    @Test(arguments: TarFixtures.plain)
    func libarchiveStreamGivesSameMembers(fixture: String) throws {
        let expected = try TarFixtures.expected(fixture)
        let walker = try TarWalker(path: TarFixtures.good(fixture), backend: .libarchive)
        #expect(walker.isStreamed)
        let members = try Self.walk(TarFixtures.good(fixture), backend: .libarchive)
        #expect(members == expected.members)
    }

    @Test(arguments: TarFixtures.compressed)
    func compressedOffsetsReferToTheDecompressedTar(fixture: String) throws {
        let expected = try TarFixtures.expected(fixture)
        let walker = try TarWalker(path: TarFixtures.good(fixture))
        #expect(walker.isStreamed)
        #expect(try Self.walk(TarFixtures.good(fixture)) == expected.members)
        // Same as the plain tar it was compressed from.
        let plain = String(fixture.prefix(upTo: fixture.range(of: ".tar")!.upperBound))
        #expect(try TarFixtures.expected(plain).members == expected.members)
    }

    @Test func plainTarIsWalkedDirectly() throws {
        let walker = try TarWalker(path: TarFixtures.good("python-ustar.tar"))
        #expect(!walker.isStreamed)
    }

    @Test func readDataTwiceOnPlainTar() throws {
        let walker = try TarWalker(path: TarFixtures.good("non-adjacent.tar"))
        _ = try walker.next()
        #expect(try walker.readData() == Array("a1".utf8))
        #expect(try walker.readData() == Array("a1".utf8))
    }

    @Test func readDataLimit() throws {
        let walker = try TarWalker(path: TarFixtures.good("python-ustar.tar"))
        var member = try walker.next()
        while let m = member, m.byteCount <= 10 { member = try walker.next() }
        let m = try #require(member)
        let error = TarFixtures.formatError { () throws(FormatError) in _ = try walker.readData(maxByteCount: 10) }
        #expect(error?.code == .unsupported)
        #expect(error?.location == DataLocation(path: walker.path, byteOffset: m.dataByteOffset, member: m.name))
        #expect(error?.message == "member of \(m.byteCount) bytes exceeds the read limit of 10 bytes")
    }

    @Test func emptyFileHasNoMembers() throws {
        let path = TarFixtures.root + "/.build/empty-\(ProcessInfo.processInfo.processIdentifier).tar"
        try FileSystem.write([], to: path, sync: false)
        defer { FileSystem.removeTree(path) }
        #expect(try Self.walk(path).isEmpty)
    }

    @Test func missingFile() {
        let error = TarFixtures.formatError { () throws(FormatError) in
            _ = try TarWalker(path: TarFixtures.good("does-not-exist.tar"))
        }
        #expect(error?.code == .io)
        #expect(error?.category == .noInput)
    }
}

import Foundation
import MixteraCore
import MixteraTestSupport
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

    /// Members from empty to larger than the 64 KiB read window, in an order that makes the walker jump over
    /// large payloads (small reads) and run through dense small members (full windows): the direct walk
    /// gives the members and bytes the libarchive stream gives.
    @Test func readWindowSizesGiveTheSameMembers() throws {
        let sizes = [0, 1, 100, 511, 512, 513, 3000, 4095, 4096, 5000, 20000, 70000, 10, 10, 10, 9000, 65536, 1, 600]
        var tar: [UInt8] = []
        for (i, size) in (sizes + sizes.reversed()).enumerated() {
            var header = [UInt8](repeating: 0, count: 512)
            let name = Array("s\(i / 3).m\(i % 3)".utf8)
            header.replaceSubrange(0..<name.count, with: name)
            for (range, value) in [(100..<107, 0o644), (108..<115, 0), (116..<123, 0), (136..<147, 0)] {
                let digits = Array(String(value, radix: 8).utf8)
                header.replaceSubrange(range, with: Array(repeating: 0x30, count: range.count - digits.count) + digits)
            }
            let sizeDigits = Array(String(size, radix: 8).utf8)
            header.replaceSubrange(124..<135, with: Array(repeating: 0x30, count: 11 - sizeDigits.count) + sizeDigits)
            header[156] = UInt8(ascii: "0")
            header.replaceSubrange(257..<265, with: Array("ustar\u{0}00".utf8))
            header.replaceSubrange(148..<156, with: Array(repeating: 0x20, count: 8))
            let sum = header.reduce(0) { $0 + Int($1) }
            let sumDigits = Array(String(sum, radix: 8).utf8)
            header.replaceSubrange(148..<156, with: Array(repeating: 0x30, count: 6 - sumDigits.count) + sumDigits + [0, 0x20])
            tar += header
            tar += (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ i) }
            tar += [UInt8](repeating: 0, count: (512 - size % 512) % 512)
        }
        tar += [UInt8](repeating: 0, count: 1024)
        let dir = TestSupport.temporaryDirectory("window")
        let path = dir + "/w.tar"
        FileManager.default.createFile(atPath: path, contents: Data(tar))
        let direct = try Self.walk(path, backend: .direct)
        #expect(direct.count == 2 * sizes.count)
        #expect(direct == (try Self.walk(path, backend: .libarchive)))
        // Reading every member's data (up to the window size and beyond) agrees too.
        let a = try TarWalker(path: path, backend: .direct)
        let b = try TarWalker(path: path, backend: .libarchive)
        while let m = try a.next() {
            #expect(try b.next() == m)
            if m.byteCount % 2 == 0 { #expect(try a.readData() == (try b.readData())) }
        }
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

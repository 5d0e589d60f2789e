import MixteraCore
import Testing

@testable import MixteraFormats

@Suite struct WebDatasetSampleTableTests {
    /// The flat table groups exactly as `WebDatasetReader` (the scan's grouping) on every fixture, good or
    /// damaged: same samples, keys, member extensions, offsets and sizes; damage keeps the samples before it.
    @Test(
        arguments: TarFixtures.all.map(TarFixtures.good)
            + [
                "bad-checksum.tar", "cut-stream.tar.gz", "duplicate-extension.tar", "truncated-header.tar",
                "truncated-member.tar", "truncated-member.tar.gz", "truncated-padding.tar", "pax-bad-record.tar",
                "pax-without-member.tar",
            ].map(TarFixtures.bad))
    func matchesTheReadersGrouping(path: String) throws {
        var expected: [WebDatasetSample] = []
        let reader: WebDatasetReader
        do { reader = try WebDatasetReader(path: path, options: .init(loadExtensions: [])) } catch {
            // Opening fails the same way (replay reports it).
            #expect(throws: FormatError.self) { try WebDatasetSampleTable(path: path) }
            return
        }
        do {
            while let s = try reader.next() { expected.append(s) }
        } catch {
            #expect([.truncated, .badArchive, .decompression].contains(error.code), "\(path): \(error)")
        }
        let table = try WebDatasetSampleTable(path: path)
        #expect(table.count == expected.count, "\(path)")
        for (i, s) in expected.enumerated() where i < table.count {
            #expect(table.key(of: i) == s.key)
            #expect(table.headerOffsets[i] == s.members[0].headerByteOffset)
            let members = table.members(of: i)
            #expect(members.map { table.extensionName($0.extensionIndex) } == s.members.map(\.extension))
            #expect(members.map(\.dataByteOffset) == s.members.map(\.dataByteOffset))
            #expect(members.map(\.byteCount) == s.members.map(\.byteCount))
            #expect(members.map { table.name(of: i, $0) } == s.members.map(\.name))
            let last = s.members[s.members.count - 1]
            #expect(table.endOffset(of: i) == last.dataByteOffset + (last.byteCount + 511) / 512 * 512)
            #expect(table.sample(atHeaderOffset: s.members[0].headerByteOffset) == i)
            for ext in Set(s.members.map(\.extension)) {
                let m = table.member(of: i, extensionIn: table.extensionMatches(ext))
                #expect(m?.dataByteOffset == s.member(withExtension: ext)?.dataByteOffset)
            }
        }
    }

    @Test func notATarThrows() {
        #expect(throws: FormatError.self) { try WebDatasetSampleTable(path: TarFixtures.bad("gnu-sparse.tar")) }
    }

    /// Keys are compared as strings (canonical equivalence), as `WebDatasetGrouper` compares them.
    @Test func nonASCIIKeysCompareAsStrings() {
        let composed = Array("caf\u{E9}".utf8)
        let decomposed = Array("cafe\u{301}".utf8)
        composed.withUnsafeBytes { a in
            decomposed.withUnsafeBytes { b in
                #expect(WebDatasetSampleTable.sameText(a, b))
            }
        }
        Array("a".utf8).withUnsafeBytes { a in
            Array("b".utf8).withUnsafeBytes { b in #expect(!WebDatasetSampleTable.sameText(a, b)) }
        }
    }
}

@Suite struct UTF8ValidatorTests {
    /// Agrees with `String(decoding:)` leaving the bytes unchanged, on random and edge sequences.
    @Test func agreesWithStringDecoding() {
        var state: UInt64 = 42
        func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        var cases: [[UInt8]] = [
            [], Array("plain ascii text".utf8), Array("caf\u{E9} \u{20AC} \u{1F600}".utf8), [0xC0, 0x80], [0xE0, 0x80, 0x80],
            [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80], [0xF0, 0x8F, 0xBF, 0xBF], [0xF0, 0x90, 0x80, 0x80],
            [0xEF, 0xBF, 0xBF], [0xE2, 0x82], [0x80], [0xFF], [0xC2, 0xA0],
        ]
        let pieces: [[UInt8]] = [
            Array("abcdefgh".utf8), [0xC3, 0xA9], [0xE2, 0x82, 0xAC], [0xF0, 0x9F, 0x98, 0x80], [0x80], [0xC3],
            [0xED, 0x9F, 0xBF], [0xED, 0xA0, 0x80], [0xF4, 0x8F, 0xBF, 0xBF], [0xF5], [0x00],
        ]
        for _ in 0..<3000 {
            var bytes: [UInt8] = []
            for _ in 0..<(next() % 12) {
                if next() % 3 == 0 {
                    bytes.append(UInt8(truncatingIfNeeded: next()))
                } else {
                    bytes += pieces[Int(next() % UInt64(pieces.count))]
                }
            }
            cases.append(bytes)
        }
        for bytes in cases {
            let unchanged = Array(String(decoding: bytes, as: UTF8.self).utf8) == bytes
            #expect(bytes.withUnsafeBytes { UTF8Validator.isValid($0) } == unchanged, "\(bytes)")
        }
    }
}

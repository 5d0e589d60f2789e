import MixteraCore
import Testing

@testable import MixteraFormats

/// The plain-tar fingerprint covers every byte but the regular members' data areas.
@Suite struct TarHeaderFingerprintTests {
    static let tars = [
        "webdataset-writer.tar", "gnutar-ustar.tar", "gnutar-pax.tar", "gnutar-gnu.tar", "python-pax.tar",
        "python-gnu.tar", "python-ustar.tar", "dotted-dirs.tar", "edge-names.tar", "v7.tar", "no-eof-blocks.tar",
    ]

    static func fingerprint(_ bytes: [UInt8]) -> UInt64 {
        bytes.withUnsafeBytes { TarHeaderFingerprint.compute($0) }
    }

    @Test(arguments: tars)
    func payloadBytesDoNotCountHeadersDo(fixture: String) throws {
        let path = TarFixtures.good(fixture)
        let original = try FileSystem.readAll(path)
        let base = Self.fingerprint(original)
        #expect(base == (try TarHeaderFingerprint.compute(path: path)))
        // The walk's own view of the members: every data byte of every member may change freely.
        let samples = try WebDatasetReader(path: path, options: .init(loadExtensions: [])).readAll()
        let members = samples.flatMap(\.members).filter { $0.byteCount > 0 }
        #expect(!members.isEmpty)
        var edited = original
        for m in members {
            for k in [0, Int(m.byteCount) - 1] { edited[Int(m.dataByteOffset) + k] ^= 0x5A }
        }
        #expect(Self.fingerprint(edited) == base)
        // A header byte (the first member's name), the last member's size, or a cut through the last
        // header: all count. (A cut inside a data area changes only the size, which verifiers check first.)
        var renamed = original
        renamed[Int(members[0].headerByteOffset)] ^= 0x01
        #expect(Self.fingerprint(renamed) != base)
        var resized = original
        let sizeField = Int(members[members.count - 1].headerByteOffset) + 124 + 10
        resized[sizeField] = resized[sizeField] == UInt8(ascii: "1") ? UInt8(ascii: "2") : UInt8(ascii: "1")
        #expect(Self.fingerprint(resized) != base)
        #expect(Self.fingerprint(Array(original[..<(Int(members[members.count - 1].headerByteOffset) + 100)])) != base)
    }

    @Test func numericFieldsAndPaxSizeRecords() {
        func number(_ s: [UInt8]) -> Int? { s.withUnsafeBytes { TarHeaderFingerprint.number($0) } }
        #expect(number(Array("00000001750\0".utf8)) == 0o1750)
        #expect(number(Array("   17 \0\0\0\0\0\0".utf8)) == 0o17)
        #expect(number(Array(repeating: 0, count: 12)) == 0)
        #expect(number(Array("0000000008\0\0".utf8)) == nil)
        #expect(number([0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0x00]) == 256)
        #expect(number([0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]) == nil)
        func pax(_ s: String) -> Int? { Array(s.utf8).withUnsafeBytes { TarHeaderFingerprint.paxSizeRecord($0) } }
        #expect(pax("20 path=a/b.txt.xyz\n13 size=4096\n") == 4096)
        #expect(pax("30 mtime=1700000000.123456789\n") == nil)
        #expect(pax("12 size=12x\n") == nil)
        #expect(pax("99 size=1\n") == nil)
    }

    @Test func emptyAndTinyFilesHashWhatIsThere() {
        #expect(Self.fingerprint([]) == XXH3.hash([UInt8]()))
        let tiny: [UInt8] = Array("not a tar".utf8)
        #expect(Self.fingerprint(tiny) == XXH3.hash(tiny))
        let zeros = [UInt8](repeating: 0, count: 1024)
        #expect(Self.fingerprint(zeros) == XXH3.hash(zeros))
    }
}

import MixteraCore
import Testing

@testable import MixteraParquet

/// The Parquet fingerprint covers the footer, its length and the closing magic, and nothing else.
@Suite struct FooterFingerprintTests {
    static func fingerprint(_ bytes: [UInt8]) -> UInt64 {
        bytes.withUnsafeBytes { ParquetFooterFingerprint.compute($0) }
    }

    @Test(arguments: ["basic_snappy_v1.parquet", "basic_zstd_v2.parquet", "constant_required.parquet"])
    func coversTheFooterOnly(fixture: String) throws {
        let path = Fixtures.good(fixture)
        let bytes = try FileSystem.readAll(path)
        let n = Int(bytes[bytes.count - 8]) | Int(bytes[bytes.count - 7]) << 8 | Int(bytes[bytes.count - 6]) << 16
        let base = Self.fingerprint(bytes)
        #expect(base == XXH3.hash(Array(bytes[(bytes.count - 8 - n)...])))
        #expect(base == (try ParquetFooterFingerprint.compute(path: path)))
        // Opened with any read mode, the file reports the same value.
        for mode in [ParquetFile.ReadMode.pread, .map, .mapPopulated] {
            #expect(base == (try ParquetFile(path: path, mode: mode).fingerprint()))
        }
        // Page bytes (everything between the leading magic and the footer) are not covered; footer bytes are.
        var page = bytes
        for k in 4..<(bytes.count - 8 - n) { page[k] ^= 0x5A }
        #expect(Self.fingerprint(page) == base)
        var footer = bytes
        footer[bytes.count - 8 - n / 2] ^= 0x01
        #expect(Self.fingerprint(footer) != base)
        #expect(Self.fingerprint(Array(bytes.dropLast())) != base)
    }

    @Test func malformedTailsHashTheWholeFile() {
        let tooShort: [UInt8] = Array("PAR1PAR1".utf8)
        #expect(Self.fingerprint(tooShort) == XXH3.hash(tooShort))
        let pastTheStart: [UInt8] = Array("PAR1".utf8) + [0xFF, 0xFF, 0, 0] + Array("PAR1".utf8)
        #expect(Self.fingerprint(pastTheStart) == XXH3.hash(pastTheStart))
        let empty: [UInt8] = []
        #expect(Self.fingerprint(empty) == XXH3.hash(empty))
    }
}

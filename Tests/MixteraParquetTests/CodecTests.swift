import CLZ4
import Testing

@testable import MixteraParquet

@Suite struct CodecTests {
    static func lz4Block(_ input: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: Int(LZ4_compressBound(Int32(input.count))))
        let n = input.withUnsafeBytes { src in
            out.withUnsafeMutableBytes { dst in
                LZ4_compress_default(
                    src.baseAddress?.assumingMemoryBound(to: CChar.self), dst.baseAddress?.assumingMemoryBound(to: CChar.self),
                    Int32(src.count), Int32(dst.count))
            }
        }
        return Array(out[0..<Int(n)])
    }

    static func be32(_ v: Int) -> [UInt8] { [UInt8(v >> 24 & 255), UInt8(v >> 16 & 255), UInt8(v >> 8 & 255), UInt8(v & 255)] }

    @Test func hadoopFramedLZ4WithTwoBlocks() throws {
        let a = Array("hello hello hello hello parquet".utf8)
        let b = Array(repeating: UInt8(7), count: 300)
        var framed: [UInt8] = []
        for part in [a, b] {
            let c = Self.lz4Block(part)
            framed += Self.be32(part.count) + Self.be32(c.count) + c
        }
        let out = try framed.withUnsafeBytes {
            try PageDecompressor.decompress($0, codec: .lz4, uncompressedByteCount: a.count + b.count)
        }
        #expect(out == a + b)
    }

    @Test func rawLZ4BlockUnderLegacyCodecFallsBack() throws {
        let a = Array("no hadoop framing here, just a block".utf8)
        let c = Self.lz4Block(a)
        let out = try c.withUnsafeBytes { try PageDecompressor.decompress($0, codec: .lz4, uncompressedByteCount: a.count) }
        #expect(out == a)
    }

    @Test func wrongDeclaredSizeIsAnError() throws {
        let a = Array("abcdefgh".utf8)
        let c = Self.lz4Block(a)
        let error = #expect(throws: ParquetError.self) {
            _ = try c.withUnsafeBytes { try PageDecompressor.decompress($0, codec: .lz4Raw, uncompressedByteCount: 100) }
        }
        #expect(error?.code == .decompression)
    }

    @Test func crc32MatchesKnownValue() {
        let bytes = Array("123456789".utf8)
        #expect(bytes.withUnsafeBytes { PageCRC.crc32($0) } == 0xCBF4_3926)
    }
}

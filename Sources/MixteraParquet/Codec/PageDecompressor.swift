import CBrotli
import CLZ4
import CSnappy
import CZlib
import CZstd

/// Decompresses page bodies. Every codec writes into a buffer of exactly the page's declared uncompressed size
/// and fails if the output would be larger or smaller.
enum PageDecompressor {
    /// Largest page we accept (declared uncompressed size), as a guard against hostile headers.
    static let maxPageByteCount = 1 << 30

    static func decompress(
        _ input: UnsafeRawBufferPointer, codec: ParquetCompression, uncompressedByteCount: Int
    ) throws(ParquetError) -> [UInt8] {
        guard uncompressedByteCount <= maxPageByteCount else {
            throw ParquetError(
                .corruptPage, "page declares \(uncompressedByteCount) uncompressed bytes, over the 1 GiB limit")
        }
        if codec == .uncompressed {
            guard input.count == uncompressedByteCount else {
                throw corruptPage("uncompressed page has \(input.count) bytes but its header says \(uncompressedByteCount)")
            }
            return Array(input)
        }
        if uncompressedByteCount == 0 { return [] }
        var out = [UInt8](unsafeUninitializedCapacity: uncompressedByteCount) { _, n in n = uncompressedByteCount }
        let result = out.withUnsafeMutableBytes { dst -> Result<Int, ParquetError> in
            do throws(ParquetError) {
                return .success(try decompress(input, codec: codec, into: dst))
            } catch {
                return .failure(error)
            }
        }
        _ = try result.get()
        return out
    }

    /// Decompresses `input` into exactly `dst.count` bytes (the page's declared uncompressed size); returns it.
    static func decompress(
        _ input: UnsafeRawBufferPointer, codec: ParquetCompression, into dst: UnsafeMutableRawBufferPointer
    ) throws(ParquetError) -> Int {
        let uncompressedByteCount = dst.count
        if codec == .uncompressed {
            guard input.count == uncompressedByteCount else {
                throw corruptPage("uncompressed page has \(input.count) bytes but its header says \(uncompressedByteCount)")
            }
            if let s = input.baseAddress, let d = dst.baseAddress { d.copyMemory(from: s, byteCount: input.count) }
            return input.count
        }
        if uncompressedByteCount == 0 { return 0 }
        var produced = -1
        var detail = ""
        switch codec {
        case .snappy: (produced, detail) = snappy(input, dst)
        case .gzip: (produced, detail) = gzip(input, dst)
        case .zstd: (produced, detail) = zstd(input, dst)
        case .lz4Raw: (produced, detail) = lz4Raw(input, dst)
        case .lz4: (produced, detail) = lz4Hadoop(input, dst)
        case .brotli: (produced, detail) = brotli(input, dst)
        case .uncompressed, .lzo: break
        }
        if codec == .lzo {
            throw ParquetError(.unsupportedCodec, "compression codec LZO is not supported; rewrite the file with zstd or snappy")
        }
        guard produced == uncompressedByteCount else {
            let why = detail.isEmpty ? "produced \(max(produced, 0)) of \(uncompressedByteCount) bytes" : detail
            throw ParquetError(.decompression, "\(codec) page does not decompress: \(why)")
        }
        return produced
    }

    private static func snappy(_ src: UnsafeRawBufferPointer, _ dst: UnsafeMutableRawBufferPointer) -> (Int, String) {
        guard let s = src.baseAddress?.assumingMemoryBound(to: CChar.self),
            let d = dst.baseAddress?.assumingMemoryBound(to: CChar.self)
        else { return (-1, "empty input") }
        var length = 0
        guard snappy_uncompressed_length(s, src.count, &length) == SNAPPY_OK else { return (-1, "bad snappy header") }
        guard length == dst.count else { return (-1, "snappy length \(length) differs from the header's \(dst.count)") }
        var outLength = dst.count
        guard snappy_uncompress(s, src.count, d, &outLength) == SNAPPY_OK else { return (-1, "corrupt snappy data") }
        return (outLength, "")
    }

    /// GZIP (or zlib) with concatenated members.
    private static func gzip(_ src: UnsafeRawBufferPointer, _ dst: UnsafeMutableRawBufferPointer) -> (Int, String) {
        var stream = z_stream()
        guard inflateInit2_(&stream, 15 + 32, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            return (-1, "cannot initialise zlib")
        }
        defer { inflateEnd(&stream) }
        guard let inBase = src.baseAddress, let outBase = dst.baseAddress else { return (-1, "empty input") }
        stream.next_in = UnsafeMutablePointer(mutating: inBase.assumingMemoryBound(to: Bytef.self))
        stream.avail_in = uInt(src.count)
        stream.next_out = outBase.assumingMemoryBound(to: Bytef.self)
        stream.avail_out = uInt(dst.count)
        while true {
            let rc = inflate(&stream, Z_NO_FLUSH)
            if rc == Z_STREAM_END {
                if stream.avail_in == 0 { break }
                // Another gzip member follows (skip zero padding).
                if let p = stream.next_in, p.pointee == 0 { break }
                guard inflateReset(&stream) == Z_OK else { return (-1, "cannot reset zlib") }
                continue
            }
            if rc == Z_BUF_ERROR && stream.avail_out == 0 {
                return (-1, "output larger than the declared \(dst.count) bytes")
            }
            if rc != Z_OK { return (-1, "corrupt gzip data (zlib code \(rc))") }
        }
        return (dst.count - Int(stream.avail_out), "")
    }

    private static func zstd(_ src: UnsafeRawBufferPointer, _ dst: UnsafeMutableRawBufferPointer) -> (Int, String) {
        let n = ZSTD_decompress(dst.baseAddress, dst.count, src.baseAddress, src.count)
        if ZSTD_isError(n) != 0 {
            return (-1, "corrupt zstd data (" + String(cString: ZSTD_getErrorName(n)).lowercased() + ")")
        }
        return (n, "")
    }

    private static func lz4Raw(_ src: UnsafeRawBufferPointer, _ dst: UnsafeMutableRawBufferPointer) -> (Int, String) {
        guard src.count <= Int(Int32.max), dst.count <= Int(Int32.max),
            let s = src.baseAddress?.assumingMemoryBound(to: CChar.self),
            let d = dst.baseAddress?.assumingMemoryBound(to: CChar.self)
        else { return (-1, "page too large for lz4") }
        let n = LZ4_decompress_safe(s, d, Int32(src.count), Int32(dst.count))
        return n < 0 ? (-1, "corrupt lz4 block") : (Int(n), "")
    }

    /// The deprecated LZ4 codec: Hadoop framing (big-endian uncompressed and compressed sizes before each block);
    /// falls back to a raw LZ4 block, which some writers produced instead.
    private static func lz4Hadoop(_ src: UnsafeRawBufferPointer, _ dst: UnsafeMutableRawBufferPointer) -> (Int, String) {
        if let n = lz4HadoopFramed(src, dst) { return (n, "") }
        return lz4Raw(src, dst)
    }

    static func lz4HadoopFramed(_ src: UnsafeRawBufferPointer, _ dst: UnsafeMutableRawBufferPointer) -> Int? {
        func be32(_ at: Int) -> Int {
            Int(src[at]) << 24 | Int(src[at + 1]) << 16 | Int(src[at + 2]) << 8 | Int(src[at + 3])
        }
        var inPos = 0
        var outPos = 0
        while inPos < src.count {
            guard src.count - inPos >= 8 else { return nil }
            let expected = be32(inPos)
            let compressed = be32(inPos + 4)
            inPos += 8
            guard compressed <= src.count - inPos, expected <= dst.count - outPos else { return nil }
            guard let s = src.baseAddress, let d = dst.baseAddress else { return nil }
            let n = LZ4_decompress_safe(
                (s + inPos).assumingMemoryBound(to: CChar.self), (d + outPos).assumingMemoryBound(to: CChar.self),
                Int32(compressed), Int32(expected))
            guard n == Int32(expected) else { return nil }
            inPos += compressed
            outPos += expected
        }
        return outPos == dst.count ? outPos : nil
    }

    private static func brotli(_ src: UnsafeRawBufferPointer, _ dst: UnsafeMutableRawBufferPointer) -> (Int, String) {
        guard let s = src.baseAddress?.assumingMemoryBound(to: UInt8.self),
            let d = dst.baseAddress?.assumingMemoryBound(to: UInt8.self)
        else { return (-1, "empty input") }
        var outSize = dst.count
        let rc = BrotliDecoderDecompress(src.count, s, &outSize, d)
        return rc == BROTLI_DECODER_RESULT_SUCCESS ? (outSize, "") : (-1, "corrupt brotli data")
    }
}

/// CRC-32 (the gzip polynomial) as used by `PageHeader.crc`. The corresponding C function is zlib's `crc32`.
enum PageCRC {
    static func crc32(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        guard let base = bytes.baseAddress else { return 0 }
        return UInt32(truncatingIfNeeded: CZlib.crc32(0, base.assumingMemoryBound(to: Bytef.self), uInt(bytes.count)))
    }
}

import CZstd

/// One-shot zstd compression of catalog blobs and manifest blocks (libzstd).
public enum Zstd {
    /// Compresses `input` at `level`. The corresponding C function is `ZSTD_compress`.
    public static func compress(_ input: [UInt8], level: Int32 = 3) -> [UInt8] {
        let bound = ZSTD_compressBound(input.count)
        var out = [UInt8](repeating: 0, count: bound)
        let n = input.withUnsafeBytes { src in
            out.withUnsafeMutableBytes { dst in
                ZSTD_compress(dst.baseAddress, bound, src.baseAddress, src.count, level)
            }
        }
        precondition(ZSTD_isError(n) == 0, "ZSTD_compress failed with a sufficient bound")
        out.removeSubrange(n...)
        return out
    }

    /// Compresses the concatenation of `parts` as one frame that declares its content size, ending a zstd block at
    /// every part boundary, so that parts with different byte statistics get entropy tables of their own. The
    /// corresponding C function is `ZSTD_compressStream2` (`ZSTD_e_flush` between parts, `ZSTD_e_end` last).
    public static func compress(parts: [[UInt8]], level: Int32 = 3) -> [UInt8] {
        let total = parts.reduce(0) { $0 + $1.count }
        guard let cctx = ZSTD_createCCtx() else { preconditionFailure("ZSTD_createCCtx failed") }
        defer { ZSTD_freeCCtx(cctx) }
        _ = ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, level)
        _ = ZSTD_CCtx_setPledgedSrcSize(cctx, UInt64(total))
        var out = [UInt8](repeating: 0, count: ZSTD_compressBound(total) + 32 * (parts.count + 1) + 64)
        var written = 0
        let chunks = parts.isEmpty ? [[]] : parts
        for (i, part) in chunks.enumerated() {
            let mode = i == chunks.count - 1 ? ZSTD_e_end : ZSTD_e_flush
            part.withUnsafeBytes { src in
                out.withUnsafeMutableBytes { dst in
                    var input = ZSTD_inBuffer(src: src.baseAddress, size: src.count, pos: 0)
                    var output = ZSTD_outBuffer(dst: dst.baseAddress, size: dst.count, pos: written)
                    while true {
                        let left = ZSTD_compressStream2(cctx, &output, &input, mode)
                        precondition(ZSTD_isError(left) == 0, "ZSTD_compressStream2 failed with a sufficient bound")
                        if left == 0 && input.pos == input.size { break }
                    }
                    written = output.pos
                }
            }
        }
        out.removeSubrange(written...)
        return out
    }

    /// Decompresses a single frame whose content size is declared, refusing more than `maxSize` bytes.
    /// The corresponding C function is `ZSTD_decompress`.
    public static func decompress(_ input: some Collection<UInt8>, maxSize: Int) throws(CoreError) -> [UInt8] {
        let bytes = Array(input)
        let size = bytes.withUnsafeBytes { ZSTD_getFrameContentSize($0.baseAddress, $0.count) }
        if size == ZSTD_CONTENTSIZE_ERROR || size == ZSTD_CONTENTSIZE_UNKNOWN || size > UInt64(maxSize) {
            throw CoreError(.data, kind: "bad-compressed-block", "zstd block is corrupt or too large")
        }
        var out = [UInt8](repeating: 0, count: Int(size))
        let n = bytes.withUnsafeBytes { src in
            out.withUnsafeMutableBytes { dst in ZSTD_decompress(dst.baseAddress, dst.count, src.baseAddress, src.count) }
        }
        if ZSTD_isError(n) != 0 || n != Int(size) {
            throw CoreError(.data, kind: "bad-compressed-block", "zstd block is corrupt")
        }
        return out
    }
}

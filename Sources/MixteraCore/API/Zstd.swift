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

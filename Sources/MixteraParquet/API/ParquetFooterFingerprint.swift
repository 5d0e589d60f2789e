import MixteraCore

/// The fingerprint of a Parquet file (docs/catalog-schema.md, "Fingerprints"): XXH3-64 over the file's
/// footer — the FileMetaData, its 4-byte length and the closing `PAR1` — so that a scan, which reads only
/// the projected columns' pages, does not read the rest of the file for the fingerprint either. Written
/// `pqf:` + 16 hex digits, which tells verifiers to recompute it this way.
///
/// The bytes covered: let `n` be the little-endian u32 8 bytes before the end. When the file has at least
/// 12 bytes and `n ≤ size − 12`, they are the last `n + 8` bytes; otherwise (not a well-formed Parquet
/// tail) the whole file. The footer records every column chunk's offsets, compressed and uncompressed
/// sizes, value counts, encodings and statistics, and the schema and row counts, so rewriting a file
/// with any other content, truncating it, or appending to it is detected; an in-place edit of page bytes
/// that keeps every page's size and the footer is not.
public enum ParquetFooterFingerprint {
    public static let prefix = "pqf:"

    /// The fingerprint of the file's bytes (a whole file in memory).
    public static func compute(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        XXH3.hash(UnsafeRawBufferPointer(rebasing: bytes[coveredRange(size: Int64(bytes.count), tail: bytes)]))
    }

    /// The fingerprint of the file at `path`: reads its last 8 bytes and the footer only.
    public static func compute(path: String) throws(CoreError) -> UInt64 {
        let file = try ReadOnlyFile(path: path)
        let size = try file.stat().byteCount
        if size < 12 { return XXH3.hash(try file.readExactly(Int(size), at: 0)) }
        let tail = try file.readExactly(8, at: size - 8)
        let range = tail.withUnsafeBytes { coveredRange(size: size, tail: UnsafeRawBufferPointer(rebasing: $0[...])) }
        return XXH3.hash(try file.readExactly(range.count, at: Int64(range.lowerBound)))
    }

    /// The catalog's fingerprint string for a fingerprint value.
    public static func string(_ value: UInt64) -> String { prefix + XXH3.hex(value) }

    /// The covered byte range of a file of `size` bytes whose last bytes are `tail` (at least its last 8
    /// when `size ≥ 12`).
    static func coveredRange(size: Int64, tail: UnsafeRawBufferPointer) -> Range<Int> {
        guard size >= 12 else { return 0..<Int(size) }
        let t = tail.count - 8
        let n = Int64(tail[t]) | Int64(tail[t + 1]) << 8 | Int64(tail[t + 2]) << 16 | Int64(tail[t + 3]) << 24
        guard n <= size - 12 else { return 0..<Int(size) }
        return Int(size - 8 - n)..<Int(size)
    }
}

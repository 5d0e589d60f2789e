import MixteraCore

#if canImport(Glibc)
    import Glibc
#endif

/// A plain tar mapped read-only (`MAP_PRIVATE`), unmapped when released. The scan maps a plain tar once,
/// computes its ``TarHeaderFingerprint`` over the mapping and walks its headers in place (``TarWalker``
/// `init(path:mapping:limits:)`): only the pages that hold headers and property members are touched, and
/// nothing is copied through `read`.
///
/// As with mapped JSONL scans, the file must not shrink while it is mapped (a read past the new end faults).
public final class TarFileMapping: @unchecked Sendable {
    /// The whole file.
    public let bytes: UnsafeRawBufferPointer
    /// The open file (kept for the walker's file source).
    let file: ReadOnlyFile

    /// Files larger than this are not mapped (they are read with `pread`), which bounds the page tables a
    /// mapping can take.
    public static let maxByteCount = 8 << 30

    /// Maps `path`; nil when the file is empty, larger than ``maxByteCount``, cannot be mapped (callers then
    /// read it with `pread`) or is compressed (starts with a compression magic number).
    public init?(path: String) throws(FormatError) {
        let file: ReadOnlyFile
        let size: Int
        do {
            file = try ReadOnlyFile(path: path)
            size = Int(try file.stat().byteCount)
        } catch { throw FormatError(error) }
        guard size > 0, size <= Self.maxByteCount, let p = mmap(nil, size, PROT_READ, MAP_PRIVATE, file.fd, 0),
            p != MAP_FAILED
        else { return nil }
        let bytes = UnsafeRawBufferPointer(start: p, count: size)
        if TarWalker.isCompressedMagic(Array(bytes.prefix(6))[...]) {
            munmap(p, size)
            return nil
        }
        self.bytes = bytes
        self.file = file
    }

    deinit { munmap(UnsafeMutableRawPointer(mutating: bytes.baseAddress), bytes.count) }
}

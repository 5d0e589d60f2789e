import CArchive
import CZstd
import MixteraCore

/// The compression of a JSONL shard, chosen by file extension.
public enum StreamCompression: String, Sendable, Hashable, CaseIterable {
    case none, zstd, gzip, xz, bzip2

    /// `.zst`/`.zstd` → zstd, `.gz` → gzip, `.xz` → xz, `.bz2` → bzip2, else none.
    public static func detect(path: String) -> StreamCompression {
        if path.hasSuffix(".zst") || path.hasSuffix(".zstd") { return .zstd }
        if path.hasSuffix(".gz") { return .gzip }
        if path.hasSuffix(".xz") { return .xz }
        if path.hasSuffix(".bz2") { return .bzip2 }
        return .none
    }
}

/// A sequential source of decompressed bytes.
protocol ByteStream: AnyObject {
    /// Fills up to `buffer.count` bytes; returns 0 at end of stream.
    func read(into buffer: UnsafeMutableRawBufferPointer) throws(FormatError) -> Int
}

/// Uncompressed file bytes; optionally hashes them (XXH3-64) as they pass, so a scan reads each file once.
final class PlainStream: ByteStream {
    let file: ReadOnlyFile
    let hasher: XXH3Stream?
    init(file: ReadOnlyFile, hasher: XXH3Stream? = nil) {
        self.file = file
        self.hasher = hasher
    }
    func read(into buffer: UnsafeMutableRawBufferPointer) throws(FormatError) -> Int {
        let n: Int
        do { n = try file.read(into: buffer) } catch { throw FormatError(error) }
        if n > 0, let hasher { hasher.update(UnsafeRawBufferPointer(rebasing: buffer[0..<n])) }
        return n
    }
}

/// Streaming zstd (multi-frame and skippable frames included) with a frame table: for each frame,
/// its compressed byte offset and the decompressed offset where its content starts.
final class ZstdStream: ByteStream {
    let file: ReadOnlyFile
    let dctx: OpaquePointer
    private var input: UnsafeMutableRawBufferPointer
    private var inputPos = 0
    private var inputEnd = 0
    private var compressedConsumed: Int64 = 0
    private var decompressedProduced: Int64 = 0
    private var atFrameStart = true
    private var frameProduced = 0
    private var eof = false
    /// (compressed offset, decompressed offset) of each frame start.
    private(set) var frames: [(Int64, Int64)] = []

    /// Hashes the compressed bytes read (only meaningful when starting at offset 0 and reading to the end).
    let hasher: XXH3Stream?

    init(file: ReadOnlyFile, startingAt compressedOffset: Int64 = 0, hasher: XXH3Stream? = nil) throws(FormatError) {
        self.file = file
        self.hasher = hasher
        guard let d = ZSTD_createDCtx() else {
            throw FormatError(.decompression, "cannot allocate a zstd context", at: DataLocation(path: file.path))
        }
        dctx = d
        input = .allocate(byteCount: 1 << 17, alignment: 16)
        compressedConsumed = compressedOffset
        fileOffset = compressedOffset
    }

    private var fileOffset: Int64

    deinit {
        ZSTD_freeDCtx(dctx)
        input.deallocate()
    }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws(FormatError) -> Int {
        var produced = 0
        while produced == 0 {
            if inputPos == inputEnd {
                if eof { return 0 }
                let n: Int
                do { n = try file.pread(into: input, at: fileOffset) } catch { throw FormatError(error) }
                fileOffset += Int64(n)
                if n > 0, let hasher { hasher.update(UnsafeRawBufferPointer(rebasing: input[0..<n])) }
                inputPos = 0
                inputEnd = n
                if n == 0 {
                    eof = true
                    if !atFrameStart {
                        throw FormatError(
                            .truncated, "zstd stream ends inside a frame; the file is truncated",
                            at: DataLocation(path: file.path, byteOffset: compressedConsumed))
                    }
                    return 0
                }
            }
            if atFrameStart {
                frames.append((compressedConsumed, decompressedProduced))
                atFrameStart = false
                frameProduced = 0
            }
            var inb = ZSTD_inBuffer(src: input.baseAddress, size: inputEnd, pos: inputPos)
            var outb = ZSTD_outBuffer(dst: buffer.baseAddress! + produced, size: buffer.count - produced, pos: 0)
            let before = inputPos
            let r = ZSTD_decompressStream(dctx, &outb, &inb)
            if ZSTD_isError(r) != 0 {
                let name = String(cString: ZSTD_getErrorName(r))
                throw FormatError(
                    .decompression, "zstd: \(name.lowercased()); the file is corrupt",
                    at: DataLocation(path: file.path, byteOffset: compressedConsumed))
            }
            inputPos = inb.pos
            compressedConsumed += Int64(inputPos - before)
            produced += outb.pos
            decompressedProduced += Int64(outb.pos)
            frameProduced += outb.pos
            if r == 0 {
                atFrameStart = true
                // A skippable (or empty) frame produced nothing: it gets no table entry.
                if frameProduced == 0 { frames.removeLast() }
            }
        }
        return produced
    }
}

/// gzip (multi-member), xz and bzip2 (multi-stream) through libarchive's raw format and filters.
final class ArchiveRawStream: ByteStream {
    let path: String
    let archive: OpaquePointer

    init(path: String) throws(FormatError) {
        self.path = path
        guard let a = archive_read_new() else {
            throw FormatError(.decompression, "cannot allocate libarchive", at: DataLocation(path: path))
        }
        archive = a
        archive_read_support_filter_all(a)
        archive_read_support_format_raw(a)
        if archive_read_open_filename(a, path, 1 << 16) != ARCHIVE_OK {
            let msg = Self.message(a)
            archive_read_free(a)
            throw FormatError(.decompression, "cannot open compressed stream: \(msg)", at: DataLocation(path: path))
        }
        var entry: OpaquePointer?
        let r = archive_read_next_header(a, &entry)
        if r != ARCHIVE_OK && r != ARCHIVE_WARN {
            let msg = Self.message(a)
            archive_read_free(a)
            throw FormatError(.decompression, "cannot read compressed stream: \(msg)", at: DataLocation(path: path))
        }
    }

    deinit { archive_read_free(archive) }

    static func message(_ a: OpaquePointer) -> String {
        guard let m = archive_error_string(a) else { return "unknown error" }
        return String(cString: m).lowercased()
    }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws(FormatError) -> Int {
        let n = archive_read_data(archive, buffer.baseAddress, buffer.count)
        if n < 0 {
            throw FormatError(
                .decompression, "decompression failed: \(Self.message(archive)); the file is corrupt or truncated",
                at: DataLocation(path: path, byteOffset: Int64(archive_filter_bytes(archive, -1))))
        }
        return n
    }
}

/// Opens the right decompressing stream for a path. With `hasher`, plain and zstd streams hash the
/// file's bytes as they read them (other compressions leave it untouched).
func openStream(path: String, compression: StreamCompression, hasher: XXH3Stream? = nil) throws(FormatError) -> ByteStream {
    let file: ReadOnlyFile
    do { file = try ReadOnlyFile(path: path) } catch { throw FormatError(error) }
    switch compression {
    case .none: return PlainStream(file: file, hasher: hasher)
    case .zstd: return try ZstdStream(file: file, hasher: hasher)
    case .gzip, .xz, .bzip2: return try ArchiveRawStream(path: path)
    }
}

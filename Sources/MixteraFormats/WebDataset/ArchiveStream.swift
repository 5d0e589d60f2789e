import CArchive
import MixteraCore

/// A forward-only decompressed byte stream over a compressed file, using libarchive only as a decompressor
/// (`archive_read_support_filter_all` + `archive_read_support_format_raw`). The tar structure itself is
/// parsed by ``TarWalker`` so that every compression gives the same members, offsets, limits and errors.
final class ArchiveStream {
    private let archive: OpaquePointer
    let path: String
    /// Bytes delivered so far (the decompressed position).
    private(set) var position: Int64 = 0
    private var atEnd = false
    private var scratch: UnsafeMutableRawBufferPointer

    /// Opens `path` with `archive_read_open_filename`.
    init(path: String) throws(FormatError) {
        // Open once ourselves so a missing or unreadable file gives the usual I/O error, not a libarchive one.
        do { _ = try ReadOnlyFile(path: path) } catch { throw FormatError(error) }
        guard let a = archive_read_new() else {
            throw FormatError(.io, "cannot allocate a libarchive reader", at: DataLocation(path: path))
        }
        archive = a
        self.path = path
        scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 16, alignment: 16)
        archive_read_support_filter_all(a)
        archive_read_support_format_raw(a)
        if archive_read_open_filename(a, path, 1 << 16) != ARCHIVE_OK {
            throw error(kind: .decompression, "cannot decompress archive")
        }
        var entry: OpaquePointer?
        let r = archive_read_next_header(a, &entry)
        if r == ARCHIVE_EOF {
            atEnd = true
        } else if r != ARCHIVE_OK && r != ARCHIVE_WARN {
            throw error(kind: .decompression, "cannot decompress archive")
        }
    }

    deinit {
        archive_read_free(archive)
        scratch.deallocate()
    }

    /// The filter libarchive detected (for example `gzip`, `zstd`, `none`).
    var filterName: String {
        guard let c = archive_filter_name(archive, 0) else { return "unknown" }
        return String(cString: c)
    }

    @inline(never)
    private func error(kind: FormatError.Kind, _ what: String) -> FormatError {
        let detail = archive_error_string(archive).map { String(cString: $0) } ?? "unknown error"
        return FormatError(kind, "\(what): \(detail.lowercased())", at: DataLocation(path: path, byteOffset: position))
    }

    /// Reads until `buffer` is full or the stream ends (`archive_read_data`); returns the byte count.
    func read(into buffer: UnsafeMutableRawBufferPointer) throws(FormatError) -> Int {
        var done = 0
        while done < buffer.count, !atEnd {
            let n = archive_read_data(archive, buffer.baseAddress! + done, buffer.count - done)
            if n < 0 { throw error(kind: .decompression, "cannot decompress archive") }
            if n == 0 { atEnd = true; break }
            done += n
            position += Int64(n)
        }
        return done
    }

    /// Discards up to `count` bytes; returns how many were discarded (fewer only at end of stream).
    func skip(_ count: Int64) throws(FormatError) -> Int64 {
        var remaining = count
        while remaining > 0 {
            let chunk = Int(min(remaining, Int64(scratch.count)))
            let n = try read(into: UnsafeMutableRawBufferPointer(rebasing: scratch[0..<chunk]))
            if n == 0 { break }
            remaining -= Int64(n)
        }
        return count - remaining
    }
}

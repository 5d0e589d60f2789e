import CMixteraSIMD
import MixteraCore

#if canImport(Glibc)
    import Glibc
#endif

/// Extracts the string at a JSON path from one record (the `text` field replay returns).
public struct JSONTextExtractor {
    private var extractor: JSONFieldExtractor
    public let path: String

    public init(path: String) throws(FormatError) {
        self.path = path
        do { extractor = JSONFieldExtractor(paths: [try JSONPath.parse(path)]) } catch {
            throw FormatError(.unsupported, "bad text path: \(error.message)", at: nil)
        }
    }

    /// The decoded UTF-8 bytes of the field, or an error when it is missing or not a string.
    public mutating func extract(_ line: UnsafeRawBufferPointer, location: @autoclosure () -> DataLocation) throws(FormatError)
        -> [UInt8]
    {
        let (body, escaped) = try field(line, location: location())
        return escaped ? JSONString.unescape(body) : Array(body)
    }

    /// Appends the field as a JSON string (the canonical encoding of `JSON.writeString`) to `out`: the
    /// bytes `extract` returns, quoted and escaped, without building them as a separate array.
    public mutating func appendJSONString(
        _ line: UnsafeRawBufferPointer, to out: inout [UInt8], location: @autoclosure () -> DataLocation
    ) throws(FormatError) {
        let (body, escaped) = try field(line, location: location())
        out.append(UInt8(ascii: "\""))
        if escaped {
            JSONString.appendCanonical(body, into: &out)
        } else {
            // Validated and without escapes: no quote, backslash or control byte, so already canonical.
            out.append(contentsOf: body)
        }
        out.append(UInt8(ascii: "\""))
    }

    /// The field's raw string body (between the quotes) and whether it has escapes.
    private mutating func field(_ line: UnsafeRawBufferPointer, location: @autoclosure () -> DataLocation)
        throws(FormatError) -> (UnsafeRawBufferPointer, Bool)
    {
        do { try extractor.parse(line) } catch {
            throw FormatError(.invalidJSON, "invalid JSON: \(error.message)", at: location())
        }
        let s = extractor.single[0]
        guard s.kind == .string else {
            throw FormatError(.missingField, "text field \"\(path)\" is missing or not a string", at: location())
        }
        return (UnsafeRawBufferPointer(start: line.baseAddress! + Int(s.start), count: Int(s.end - s.start)), s.escaped)
    }
}

/// Reads JSONL records (lines that are not blank) starting at a byte offset — of the file for plain
/// JSONL, of the decompressed stream for compressed JSONL — following the scan's line rules
/// (LF/CRLF, blank lines skipped).
public final class JSONLRecordReader {
    public let path: String
    public let compression: StreamCompression
    private let file: ReadOnlyFile?
    private var stream: ByteStream?
    private var streamPosition: Int64 = 0
    private var frames: [(Int64, Int64)]
    private var buffer: [UInt8] = []
    private var bufferStart: Int64 = 0  // stream offset of buffer[0] (compressed) or file offset (plain)

    /// - Parameter frames: zstd (compressed offset, decompressed offset) frame starts, if known.
    /// - Parameter populate: map the whole plain file's pages ahead of the reads (`MADV_POPULATE_READ`, on
    ///   a background thread) instead of faulting them in on first touch; worth it when the reads will
    ///   touch most of the file.
    public init(path: String, compression: StreamCompression, frames: [(Int64, Int64)] = [], populate: Bool = false)
        throws(FormatError)
    {
        self.path = path
        self.compression = compression
        self.frames = frames
        if compression == .none {
            do { file = try ReadOnlyFile(path: path) } catch { throw FormatError(error) }
            // Map plain files read-only: replay then parses lines in place (no copy, no syscall per run).
            // The mapping is file-backed page cache, so memory stays bounded; pread is the fallback.
            if let f = file, let size = try? f.stat().byteCount, size > 0,
                let p = mmap(nil, Int(size), PROT_READ, MAP_SHARED, f.fd, 0), p != MAP_FAILED
            {
                madvise(p, Int(size), MADV_RANDOM)
                // Linux ≥ 5.14; on older kernels the call fails and pages fault in as they are touched.
                if populate { populating = mixtera_populate_async(p, Int(size)) }
                mapped = UnsafeRawBufferPointer(start: p, count: Int(size))
            }
        } else {
            file = nil
        }
    }

    private var mapped: UnsafeRawBufferPointer?

    /// Whether the file is read from a read-only mapping (plain files): reads then keep no state, so several threads
    /// may read with this reader at once.
    public var isMapped: Bool { mapped != nil }

    /// Asks the CPU to start loading `length` bytes at `offset` of a mapped plain file (a no-op for
    /// pages not mapped yet, and for compressed or unmapped files): replay calls it for the next entry
    /// while it parses the current one.
    public func prefetch(offset: Int64, length: Int) {
        guard let m = mapped, offset >= 0, Int(offset) < m.count else { return }
        mixtera_prefetch(m.baseAddress! + Int(offset), min(length, m.count - Int(offset)))
    }

    /// Calls `body` with each of `count` records starting at `offset` (the offset of the first record's line).
    public func read(offset: Int64, count: Int, _ body: (UnsafeRawBufferPointer) throws(FormatError) -> Void)
        throws(FormatError)
    {
        if let m = mapped, offset >= 0 {
            try readMapped(m, offset: offset, count: count, body)
        } else if let file {
            try readPlain(file, offset: offset, count: count, body)
        } else {
            try readStream(offset: offset, count: count, body)
        }
    }

    /// For a mapped plain file: the offset of the record `n` records before the record whose line starts at
    /// `offset` (blank lines are not records; a UTF-8 BOM at the start of the file is not part of row 0), found
    /// by scanning backwards; nil when the file is not mapped or there are fewer than `n` records before it.
    /// Reading forward from the result visits the same records as reading forward from an earlier record start
    /// and dropping the ones before.
    public func recordStart(before offset: Int64, records n: Int) -> Int64? {
        guard let m = mapped, offset >= 0, Int(offset) <= m.count else { return nil }
        let base = m.baseAddress!
        let bom = m.count >= 3 && m[0] == 0xEF && m[1] == 0xBB && m[2] == 0xBF ? 3 : 0
        var pos = Int(offset)
        var need = n
        while need > 0 {
            // The previous line ends at the LF at pos − 1 (pos is a line start).
            guard pos > bom else { return nil }
            let end = pos - 1
            var start = bom
            if end > bom, let hit = mixtera_memrchr(base + bom, 0x0A, end - bom) {
                start = base.distance(to: UnsafeRawPointer(hit)) + 1
            }
            var k = start
            while k < end, m[k] == 0x20 || m[k] == 0x09 || m[k] == 0x0D { k += 1 }
            if k < end { need -= 1 }
            pos = start
        }
        return Int64(pos)
    }

    /// Reusable read buffer for plain files (grows for long lines; never shrinks).
    private var plainBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 16, alignment: 16)

    /// The background populate thread's handle, joined before the mapping goes away.
    private var populating: UnsafeMutableRawPointer?

    deinit {
        plainBuffer.deallocate()
        mixtera_populate_join(populating)
        if let m = mapped { munmap(UnsafeMutableRawPointer(mutating: m.baseAddress), m.count) }
    }

    private func readMapped(
        _ m: UnsafeRawBufferPointer, offset: Int64, count: Int, _ body: (UnsafeRawBufferPointer) throws(FormatError) -> Void
    ) throws(FormatError) {
        var start = Int(offset)
        var done = 0
        let n = m.count
        while done < count {
            guard start < n else {
                throw FormatError(
                    .truncated, "file ended before the requested records; it changed since the manifest was built",
                    at: DataLocation(path: path, byteOffset: Int64(start)))
            }
            let end: Int
            if let hit = memchr(m.baseAddress! + start, 0x0A, n - start) {
                end = m.baseAddress!.distance(to: UnsafeRawPointer(hit))
            } else {
                end = n
            }
            if try emit(UnsafeRawBufferPointer(rebasing: m[start..<end]), body) { done += 1 }
            start = end + 1
        }
    }

    private func readPlain(
        _ file: ReadOnlyFile, offset: Int64, count: Int, _ body: (UnsafeRawBufferPointer) throws(FormatError) -> Void
    ) throws(FormatError) {
        // Guess ~1 KiB per record for the first read; most single-record reads finish in one pread.
        var want = min(plainBuffer.count, max(4096, count * 1024))
        var bufStart: Int64 = offset  // file offset of plainBuffer[0]
        var filled = 0
        var start = 0
        var scan = 0
        var done = 0
        var eof = false
        while done < count {
            if scan < filled, let hit = memchr(plainBuffer.baseAddress! + scan, 0x0A, filled - scan) {
                let nl = plainBuffer.baseAddress!.distance(to: hit)
                if try emit(UnsafeRawBufferPointer(rebasing: plainBuffer[start..<nl]), body) { done += 1 }
                start = nl + 1
                scan = start
                continue
            }
            scan = filled
            if eof {
                if start < filled, try emit(UnsafeRawBufferPointer(rebasing: plainBuffer[start..<filled]), body) { done += 1 }
                if done < count {
                    throw FormatError(
                        .truncated, "file ended before the requested records; it changed since the manifest was built",
                        at: DataLocation(path: path, byteOffset: bufStart + Int64(filled)))
                }
                break
            }
            // Keep the partial line, make room, read more.
            if start > 0 {
                let keep = filled - start
                if keep > 0 { memmove(plainBuffer.baseAddress!, plainBuffer.baseAddress! + start, keep) }
                bufStart += Int64(start)
                filled = keep
                scan -= start
                start = 0
            }
            if filled == plainBuffer.count {
                let bigger = UnsafeMutableRawBufferPointer.allocate(byteCount: plainBuffer.count * 2, alignment: 16)
                bigger.copyMemory(from: UnsafeRawBufferPointer(plainBuffer))
                plainBuffer.deallocate()
                plainBuffer = bigger
            }
            let room = min(plainBuffer.count - filled, max(want, 4096))
            want = min(plainBuffer.count, want * 2)
            let n: Int
            do {
                n = try file.pread(
                    into: UnsafeMutableRawBufferPointer(rebasing: plainBuffer[filled..<(filled + room)]),
                    at: bufStart + Int64(filled))
            } catch { throw FormatError(error) }
            if n < room { eof = true }
            filled += n
        }
    }

    /// Returns true when the line was a record (not blank).
    @inline(__always) private func emit(
        _ raw: UnsafeRawBufferPointer, _ body: (UnsafeRawBufferPointer) throws(FormatError) -> Void
    )
        throws(FormatError) -> Bool
    {
        var len = raw.count
        if len > 0 && raw[len - 1] == 0x0D { len -= 1 }
        var k = 0
        while k < len, raw[k] == 0x20 || raw[k] == 0x09 || raw[k] == 0x0D { k += 1 }
        if k == len { return false }
        try body(UnsafeRawBufferPointer(rebasing: raw[0..<len]))
        return true
    }

    private func openStream(at target: Int64) throws(FormatError) {
        // Start from the last zstd frame beginning at or before the target, else from the start.
        var start: (Int64, Int64) = (0, 0)
        if compression == .zstd {
            for f in frames where f.1 <= target { start = f }
        }
        let f: ReadOnlyFile
        do { f = try ReadOnlyFile(path: path) } catch { throw FormatError(error) }
        switch compression {
        case .zstd: stream = try ZstdStream(file: f, startingAt: start.0)
        default: stream = try MixteraFormats.openStream(path: path, compression: compression)
        }
        streamPosition = compression == .zstd ? start.1 : 0
        buffer = []
        bufferStart = streamPosition
    }

    private func fill() throws(FormatError) -> Bool {
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        let s = stream!
        let n = try chunk.withMutableBytes { (b) throws(FormatError) -> Int in try s.read(into: b) }
        if n == 0 { return false }
        buffer.append(contentsOf: chunk[0..<n])
        streamPosition += Int64(n)
        return true
    }

    private func readStream(offset: Int64, count: Int, _ body: (UnsafeRawBufferPointer) throws(FormatError) -> Void)
        throws(FormatError)
    {
        if stream == nil || offset < bufferStart { try openStream(at: offset) }
        // Skip forward to the offset.
        while bufferStart + Int64(buffer.count) < offset {
            bufferStart += Int64(buffer.count)
            buffer.removeAll(keepingCapacity: true)
            if try !fill() {
                throw FormatError(
                    .truncated, "stream ended before the requested record; the file changed",
                    at: DataLocation(path: path, byteOffset: offset))
            }
        }
        buffer.removeFirst(Int(offset - bufferStart))
        bufferStart = offset
        var done = 0
        var start = 0
        while done < count {
            let found: Int? = buffer.withUnsafeBytes { d in
                guard start < d.count, let hit = memchr(d.baseAddress! + start, 0x0A, d.count - start) else { return nil }
                return d.baseAddress!.distance(to: UnsafeRawPointer(hit))
            }
            if let nl = found {
                let isRecord = try buffer.withBytes { (d) throws(FormatError) -> Bool in
                    try emit(UnsafeRawBufferPointer(rebasing: d[start..<nl]), body)
                }
                if isRecord { done += 1 }
                start = nl + 1
                continue
            }
            if start > 0 {
                buffer.removeFirst(start)
                bufferStart += Int64(start)
                start = 0
            }
            if try !fill() {
                if !buffer.isEmpty {
                    let isRecord = try buffer.withBytes { (d) throws(FormatError) -> Bool in try emit(d, body) }
                    if isRecord { done += 1 }
                    bufferStart += Int64(buffer.count)
                    buffer.removeAll()
                }
                if done < count {
                    throw FormatError(
                        .truncated, "stream ended before the requested records; the file changed",
                        at: DataLocation(path: path, byteOffset: bufferStart))
                }
            }
        }
        if start > 0 {
            buffer.removeFirst(start)
            bufferStart += Int64(start)
        }
    }
}

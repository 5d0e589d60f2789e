import CMixteraSIMD
import MixteraCore

/// Iterates over the members of a tar archive, plain or compressed, without reading member data unless asked.
///
/// - Plain tars are walked with `pread`: one 512-byte header per member, seeking over data.
/// - Compressed tars (gzip, zstd, bzip2, xz, lz4, …, detected by magic bytes) are decompressed with libarchive
///   and walked forward; skipped data is decompressed and discarded. Offsets refer to the decompressed stream.
///
/// Both paths share one header parser: ustar (prefix joined with `/`), pax `x`/`g` records (`path`,
/// `linkpath`, `size`), GNU `L`/`K` long names, base-256 numbers, v7 headers, and archives whose end-of-archive
/// zero blocks are missing (the archive must then end exactly at a member boundary). The walk stops at the
/// first all-zero block. GNU sparse members and multi-volume continuations throw `.unsupported`.
///
/// ```swift
/// let walker = try TarWalker(path: "shard-000.tar")
/// while let member = try walker.next() {
///     if member.name.hasSuffix(".json") { let bytes = try walker.readData(maxByteCount: 1 << 20) }
/// }
/// ```
///
/// Not thread-safe; use one walker per archive.
public final class TarWalker {
    /// How the archive is read.
    public enum Backend: Sendable, Hashable {
        /// Plain tar via `pread` unless the file starts with a known compression magic number.
        case automatic
        /// Plain tar via `pread` (fails with a checksum error on compressed input).
        case direct
        /// Decompress with libarchive and walk the stream (also works for plain tars).
        case libarchive
    }

    private enum Source {
        case file(ReadOnlyFile, byteCount: Int64)
        case stream(ArchiveStream)
    }

    public let path: String
    public let limits: TarLimits
    private let source: Source
    private static let windowBytes = 64 << 10
    /// Read size after a jump over at least `largeGapBytes` of unread data (payloads are large, so a full
    /// window would mostly copy payload bytes that are skipped).
    private static let smallWindowBytes = 4 << 10
    private static let largeGapBytes: Int64 = 4 << 10
    /// Read-ahead window of a plain tar (`windowBytes`, allocated once): `windowCount` bytes of the file
    /// from `windowStart`. Streams read headers into its first 512 bytes.
    private let window = UnsafeMutableRawBufferPointer.allocate(byteCount: TarWalker.windowBytes, alignment: 16)
    private var windowCount = 0
    private var windowStart: Int64 = 0
    /// A plain tar mapped by the caller: reads are slices of the mapping instead of `pread`s into `window`.
    private let mapping: TarFileMapping?
    /// The name of the member returned by the last `next()`, as bytes (reused).
    private var nameBytes: [UInt8] = []
    /// Offset of the next header to read.
    private var nextHeaderOffset: Int64 = 0
    private var finished = false
    private var memberCount = 0
    /// The member returned by the last `next()` / `nextRaw()` (its name is `nameBytes`) and whether its data
    /// was consumed (stream only).
    private var current: TarRawMember?
    private var currentDataRead = false
    /// Pax global (`g`) records that apply to all later members.
    private var globalRecords = PaxState()

    /// True when the archive is read through a decompressor (offsets refer to the decompressed stream and
    /// member data can only be read in order, during the walk).
    public var isStreamed: Bool {
        if case .stream = source { return true }
        return false
    }

    deinit { window.deallocate() }

    /// Walks a plain tar in place in its mapping (`path` names it in errors and offsets refer to the file).
    public init(path: String, mapping: TarFileMapping, limits: TarLimits = TarLimits()) {
        self.path = path
        self.limits = limits
        self.mapping = mapping
        source = .file(mapping.file, byteCount: Int64(mapping.bytes.count))
    }

    public init(path: String, backend: Backend = .automatic, limits: TarLimits = TarLimits()) throws(FormatError) {
        self.path = path
        self.limits = limits
        mapping = nil
        var useStream = backend == .libarchive
        if backend == .automatic {
            let file: ReadOnlyFile
            do { file = try ReadOnlyFile(path: path) } catch { throw FormatError(error) }
            let magic: [UInt8]
            do { magic = try file.readPrefix(6, at: 0) } catch { throw FormatError(error) }
            useStream = Self.isCompressedMagic(magic[...])
            if !useStream {
                let size: Int64
                do { size = try file.stat().byteCount } catch { throw FormatError(error) }
                source = .file(file, byteCount: size)
                return
            }
        }
        if useStream {
            source = .stream(try ArchiveStream(path: path))
        } else {
            do {
                let file = try ReadOnlyFile(path: path)
                source = .file(file, byteCount: try file.stat().byteCount)
            } catch { throw FormatError(error) }
        }
    }

    /// gzip, zstd, bzip2, xz, lz4, compress (`.Z`), lzip.
    static func isCompressedMagic(_ m: ArraySlice<UInt8>) -> Bool {
        let b = Array(m)
        func starts(_ p: [UInt8]) -> Bool { b.count >= p.count && Array(b[0..<p.count]) == p }
        return starts([0x1F, 0x8B]) || starts([0x28, 0xB5, 0x2F, 0xFD]) || starts([0x42, 0x5A, 0x68])
            || starts([0xFD, 0x37, 0x7A, 0x58, 0x5A, 0x00]) || starts([0x04, 0x22, 0x4D, 0x18])
            || starts([0x1F, 0x9D]) || starts([0x1F, 0xA0]) || starts([0x4C, 0x5A, 0x49, 0x50])
    }

    /// The next member, or nil at the end of the archive.
    public func next() throws(FormatError) -> TarMember? {
        guard let m = try nextRaw() else { return nil }
        return TarMember(
            name: currentName, kind: m.kind, linkName: m.linkName, headerByteOffset: m.headerByteOffset,
            dataByteOffset: m.dataByteOffset, byteCount: m.byteCount, memberIndex: m.memberIndex)
    }

    /// The UTF-8 bytes of the current member's name (as ``TarMember/name`` holds them before decoding), lent
    /// to `body`; valid for the member last returned by ``next()`` or ``nextRaw()``.
    public func withCurrentName<R>(_ body: (UnsafeRawBufferPointer) -> R) -> R {
        nameBytes.withUnsafeBytes(body)
    }

    /// The current member's name, decoded as ``TarMember/name``.
    public var currentName: String { String(decoding: nameBytes, as: UTF8.self) }

    /// ``next()`` without building the name string: the name stays in the walker (``withCurrentName(_:)``).
    public func nextRaw() throws(FormatError) -> TarRawMember? {
        if finished { return nil }
        try skipToNextHeader()
        current = nil
        currentDataRead = false

        var offset = nextHeaderOffset
        var firstHeaderOffset: Int64?
        var local = PaxState()
        var longName: [UInt8]?
        var longLink: [UInt8]?
        var extensionCount = 0

        while true {
            let block = try headerBlock(at: offset)
            if block.isEmpty || (block.count < TarHeader.blockSize && block.allSatisfy { $0 == 0 }) {
                if let firstHeaderOffset {
                    throw truncated(
                        "archive ends after an extension header without its member header",
                        at: firstHeaderOffset, member: nil)
                }
                finished = true
                return nil
            }
            if block.count < TarHeader.blockSize {
                throw truncated("archive ends inside a header (\(block.count) of 512 bytes)", at: offset, member: nil)
            }
            let header = TarHeader(bytes: block)
            if header.isZero {
                if let firstHeaderOffset {
                    throw badArchive("extension header is followed by an end-of-archive block", at: firstHeaderOffset)
                }
                finished = true
                return nil
            }
            let check = header.verifyChecksum()
            if !check.matches {
                let what = offset == 0 ? "not a tar archive: " : ""
                guard let stored = check.stored else {
                    throw badArchive("\(what)invalid tar header checksum field", at: offset)
                }
                throw badArchive(
                    "\(what)bad tar header checksum (stored 0o\(String(stored, radix: 8)), "
                        + "computed 0o\(String(check.computed, radix: 8)))",
                    at: offset)
            }
            guard let headerSize = TarHeader.number(header.field(TarHeader.size)) else {
                throw badArchive("invalid size field in tar header", at: offset)
            }
            let type = header.typeFlag
            switch type {
            case UInt8(ascii: "x"), UInt8(ascii: "X"), UInt8(ascii: "g"), UInt8(ascii: "L"), UInt8(ascii: "K"):
                extensionCount += 1
                if extensionCount > limits.maxConsecutiveExtensionHeaders {
                    throw unsupported(
                        "more than \(limits.maxConsecutiveExtensionHeaders) consecutive extension headers", at: offset)
                }
                let kind = type == UInt8(ascii: "L") || type == UInt8(ascii: "K") ? "gnu long name" : "pax"
                guard headerSize <= Int64(limits.maxExtensionHeaderByteCount) else {
                    throw unsupported(
                        "\(kind) header of \(headerSize) bytes exceeds the limit of "
                            + "\(limits.maxExtensionHeaderByteCount) bytes",
                        at: offset)
                }
                let data = try readBytes(Int(headerSize), at: offset + 512)
                if data.count < Int(headerSize) {
                    throw truncated(
                        "archive ends inside a \(kind) header (\(data.count) of \(headerSize) bytes)",
                        at: offset + 512 + Int64(data.count), member: nil)
                }
                let after = offset + 512 + Self.padded(headerSize)
                try skipPadding(to: after, member: nil)
                if type != UInt8(ascii: "g") && firstHeaderOffset == nil { firstHeaderOffset = offset }
                switch type {
                case UInt8(ascii: "L"):
                    longName = Self.cString(data)
                    try checkName(longName!, at: offset)
                case UInt8(ascii: "K"):
                    longLink = Self.cString(data)
                    try checkName(longLink!, at: offset)
                case UInt8(ascii: "g"):
                    try parsePax(data, into: &globalRecords, at: offset)
                default:
                    try parsePax(data, into: &local, at: offset)
                }
                offset = after
                continue
            default:
                break
            }

            // A member header.
            let headerOffset = firstHeaderOffset ?? offset
            nameBytes.removeAll(keepingCapacity: true)
            if let path = PaxState.effective(local.path, globalRecords.path) {
                nameBytes.append(contentsOf: path)
            } else if let longName {
                nameBytes.append(contentsOf: longName)
            } else {
                let prefix = header.text(TarHeader.prefix)
                if header.isPOSIXUstar && !prefix.isEmpty {
                    nameBytes.append(contentsOf: prefix)
                    nameBytes.append(0x2F)
                }
                nameBytes.append(contentsOf: header.text(TarHeader.name))
            }
            var linkBytes: [UInt8]? = PaxState.effective(local.linkPath, globalRecords.linkPath) ?? longLink
            if linkBytes == nil {
                let l = header.text(TarHeader.linkName)
                if !l.isEmpty { linkBytes = Array(l) }
            }
            var size = headerSize
            if let paxSize = PaxState.effective(local.size, globalRecords.size) {
                guard let s = Self.decimal(paxSize) else {
                    throw badArchive("invalid pax size \"\(String(decoding: paxSize, as: UTF8.self))\"", at: headerOffset)
                }
                size = s
            }
            var name: String { String(decoding: nameBytes, as: UTF8.self) }
            if local.sparse || globalRecords.sparse {
                throw unsupported("gnu sparse member \"\(name)\" is not supported", at: headerOffset)
            }

            let kind: TarMember.Kind
            let hasData: Bool
            switch type {
            case 0:
                if nameBytes.last == 0x2F { kind = .directory; hasData = false } else { kind = .regular; hasData = true }
            case UInt8(ascii: "0"), UInt8(ascii: "7"): kind = .regular; hasData = true
            case UInt8(ascii: "1"): kind = .hardLink; hasData = false
            case UInt8(ascii: "2"): kind = .symlink; hasData = false
            case UInt8(ascii: "5"): kind = .directory; hasData = false
            case UInt8(ascii: "3"), UInt8(ascii: "4"), UInt8(ascii: "6"): kind = .other(type); hasData = false
            case UInt8(ascii: "S"):
                throw unsupported("gnu sparse member \"\(name)\" is not supported", at: headerOffset)
            case UInt8(ascii: "M"):
                throw unsupported("multi-volume continuation member \"\(name)\" is not supported", at: headerOffset)
            default: kind = .other(type); hasData = true
            }
            if kind == .directory && nameBytes.count > 1 && nameBytes.last == 0x2F {
                var trimmed = name
                while trimmed.utf8.count > 1 && trimmed.hasSuffix("/") { trimmed.removeLast() }
                nameBytes = Array(trimmed.utf8)
            }

            if memberCount >= limits.maxMemberCount {
                throw unsupported("archive has more than \(limits.maxMemberCount) members", at: headerOffset)
            }
            let dataOffset = offset + 512
            let byteCount = hasData ? size : 0
            // Sizes up to 2^62 keep the offset arithmetic below free of overflow.
            guard byteCount <= Int64.max / 2 - dataOffset else {
                throw badArchive("member size \(byteCount) is out of range", at: headerOffset)
            }
            let end = dataOffset + Self.padded(byteCount)
            if case .file(_, let fileSize) = source {
                if dataOffset + byteCount > fileSize {
                    throw truncated(
                        "member data of \(byteCount) bytes is cut off after \(max(0, fileSize - dataOffset)) bytes",
                        at: dataOffset, member: name)
                }
                if end > fileSize {
                    throw truncated("archive ends inside the padding after the member data", at: fileSize, member: name)
                }
            }
            let member = TarRawMember(
                kind: kind, linkName: linkBytes.map { String(decoding: $0, as: UTF8.self) },
                headerByteOffset: headerOffset, dataByteOffset: dataOffset, byteCount: byteCount,
                memberIndex: memberCount)
            memberCount += 1
            nextHeaderOffset = end
            current = member
            // Start loading the next header's cache lines (and a small member's data after it) while the caller
            // handles this member: past a skipped payload they are far from anything read so far.
            if let mapping, end < Int64(mapping.bytes.count), let base = mapping.bytes.baseAddress {
                mixtera_prefetch(base + Int(end), min(1024, mapping.bytes.count - Int(end)))
            }
            return member
        }
    }

    /// Reads the data of the member last returned by ``next()``.
    ///
    /// Plain tars read with `pread` and may be read again; streamed (compressed) archives read the data from
    /// the stream, so it can be read at most once per member. Throws `.unsupported` when the member is larger
    /// than `maxByteCount`.
    public func readData(maxByteCount: Int = 64 << 20) throws(FormatError) -> [UInt8] {
        guard let member = current else {
            preconditionFailure("TarWalker.readData() called without a current member")
        }
        guard member.byteCount <= Int64(maxByteCount) else {
            throw FormatError(
                .unsupported,
                "member of \(member.byteCount) bytes exceeds the read limit of \(maxByteCount) bytes",
                at: DataLocation(path: path, byteOffset: member.dataByteOffset, member: currentName))
        }
        if case .stream = source {
            precondition(!currentDataRead, "TarWalker.readData() called twice for a streamed member")
            currentDataRead = true
        }
        let data = try readBytes(Int(member.byteCount), at: member.dataByteOffset)
        if data.count < Int(member.byteCount) {
            throw truncated(
                "member data of \(member.byteCount) bytes is cut off after \(data.count) bytes",
                at: member.dataByteOffset, member: currentName)
        }
        return data
    }

    // MARK: - Reading

    /// Up to `count` (≤ `windowBytes`) bytes of a plain tar at `offset`, from the read-ahead window; shorter
    /// only at end of file. Valid until the next read.
    ///
    /// Small reads (headers, property members) come from a 64 KiB read-ahead window, so samples made of small
    /// members cost one pread per window, not two per member. When the walk has just jumped over at least
    /// 4 KiB that were never read (a skipped large payload), the next read is only 4 KiB (or `count`): with
    /// large payloads a full window would copy payload bytes that the walk skips, so the cost per sample
    /// stays one small read whatever the payload size.
    private func windowBytes(_ count: Int, at offset: Int64, file: ReadOnlyFile, byteCount: Int64)
        throws(FormatError) -> UnsafeRawBufferPointer
    {
        let end = offset + Int64(count)
        if let mapping {
            let size = Int64(mapping.bytes.count)
            let lo = Int(min(max(offset, 0), size))
            return UnsafeRawBufferPointer(rebasing: mapping.bytes[lo..<Int(min(end, size))])
        }
        if offset < windowStart || end > windowStart + Int64(windowCount) {
            if offset >= byteCount { return UnsafeRawBufferPointer(rebasing: window[0..<0]) }
            let jumped = offset - (windowStart + Int64(windowCount))
            let size = jumped >= Self.largeGapBytes ? max(count, Self.smallWindowBytes) : Self.windowBytes
            windowCount = 0
            do { windowCount = try file.pread(into: UnsafeMutableRawBufferPointer(rebasing: window[0..<size]), at: offset) } catch
            {
                throw FormatError(error)
            }
            windowStart = offset
        }
        let lo = Int(offset - windowStart)
        let hi = max(lo, min(windowCount, lo + count))
        return UnsafeRawBufferPointer(rebasing: window[lo..<hi])
    }

    /// The 512-byte header block at `offset` (shorter only at the end of the archive). Valid until the next
    /// read.
    private func headerBlock(at offset: Int64) throws(FormatError) -> UnsafeRawBufferPointer {
        switch source {
        case .file(let file, let byteCount):
            return try windowBytes(TarHeader.blockSize, at: offset, file: file, byteCount: byteCount)
        case .stream(let stream):
            assert(stream.position == offset, "streamed tar read out of order")
            let block = UnsafeMutableRawBufferPointer(rebasing: window[0..<TarHeader.blockSize])
            var n = 0
            while n < block.count {
                let got = try stream.read(into: UnsafeMutableRawBufferPointer(rebasing: block[n...]))
                if got == 0 { break }
                n += got
            }
            return UnsafeRawBufferPointer(rebasing: block[0..<n])
        }
    }

    private func readBytes(_ count: Int, at offset: Int64) throws(FormatError) -> [UInt8] {
        if count == 0 { return [] }
        switch source {
        case .file(let file, let byteCount):
            if count <= Self.windowBytes || mapping != nil {
                return Array(try windowBytes(count, at: offset, file: file, byteCount: byteCount))
            }
            do { return try file.readPrefix(count, at: offset) } catch { throw FormatError(error) }
        case .stream(let stream):
            assert(stream.position == offset, "streamed tar read out of order")
            return try stream.readPrefix(count)
        }
    }

    /// Streams only: discards the rest of the current member's data and its padding.
    private func skipToNextHeader() throws(FormatError) {
        guard case .stream(let stream) = source else { return }
        let target = nextHeaderOffset
        guard stream.position < target else { return }
        let want = target - stream.position
        let got = try stream.skip(want)
        if got < want {
            let member = current
            let dataEnd = member.map { $0.dataByteOffset + $0.byteCount } ?? 0
            if let member, stream.position < dataEnd {
                throw truncated(
                    "member data of \(member.byteCount) bytes is cut off after "
                        + "\(stream.position - member.dataByteOffset) bytes",
                    at: member.dataByteOffset, member: currentName)
            }
            throw truncated(
                "archive ends inside the padding after the member data", at: stream.position,
                member: member == nil ? nil : currentName)
        }
    }

    private func skipPadding(to target: Int64, member: String?) throws(FormatError) {
        switch source {
        case .file(_, let size):
            if target > size {
                throw truncated("archive ends inside the padding of an extension header", at: size, member: member)
            }
        case .stream(let stream):
            let want = target - stream.position
            if want > 0, try stream.skip(want) < want {
                throw truncated("archive ends inside the padding of an extension header", at: stream.position, member: member)
            }
        }
    }

    // MARK: - Helpers

    static func padded(_ n: Int64) -> Int64 { (n + 511) & ~511 }

    static func cString(_ data: [UInt8]) -> [UInt8] {
        if let nul = data.firstIndex(of: 0) { return Array(data[..<nul]) }
        return data
    }

    static func decimal(_ s: [UInt8]) -> Int64? {
        guard !s.isEmpty, s.count <= 18 else { return nil }
        var v: Int64 = 0
        for b in s {
            guard b >= 0x30, b <= 0x39 else { return nil }
            v = v * 10 + Int64(b - 0x30)
        }
        return v
    }

    private func checkName(_ name: [UInt8], at offset: Int64) throws(FormatError) {
        if name.count > limits.maxNameByteCount {
            throw unsupported(
                "name of \(name.count) bytes exceeds the limit of \(limits.maxNameByteCount) bytes", at: offset)
        }
    }

    private func parsePax(_ data: [UInt8], into state: inout PaxState, at offset: Int64) throws(FormatError) {
        var s = state
        let problem = PaxRecords.parse(data) { key, value in s.apply(key: key, value: value) }
        if let problem { throw badArchive("malformed pax header: \(problem)", at: offset) }
        for v in [s.path, s.linkPath] {
            if let v, let bytes = v { try checkName(bytes, at: offset) }
        }
        state = s
    }

    // MARK: - Errors

    @inline(never)
    private func badArchive(_ message: String, at offset: Int64) -> FormatError {
        FormatError(.badArchive, message, at: DataLocation(path: path, byteOffset: offset))
    }

    @inline(never)
    private func unsupported(_ message: String, at offset: Int64) -> FormatError {
        FormatError(.unsupported, message, at: DataLocation(path: path, byteOffset: offset))
    }

    @inline(never)
    private func truncated(_ message: String, at offset: Int64, member: String?) -> FormatError {
        FormatError(.truncated, message, at: DataLocation(path: path, byteOffset: offset, member: member))
    }
}

/// A member as ``TarWalker/nextRaw()`` returns it: a ``TarMember`` whose name stays in the walker.
public struct TarRawMember: Sendable, Hashable {
    public var kind: TarMember.Kind
    public var linkName: String?
    public var headerByteOffset: Int64
    public var dataByteOffset: Int64
    public var byteCount: Int64
    public var memberIndex: Int
}

/// The pax records mixtera uses. Each field is nil when absent, `.some(nil)` when a local record with an
/// empty value deletes the global value (POSIX), and `.some(bytes)` otherwise.
struct PaxState {
    var path: [UInt8]??
    var linkPath: [UInt8]??
    var size: [UInt8]??
    var sparse = false

    mutating func apply(key: ArraySlice<UInt8>, value: ArraySlice<UInt8>) {
        let v: [UInt8]? = value.isEmpty ? nil : Array(value)
        switch Array(key) {
        case Array("path".utf8): path = .some(v)
        case Array("linkpath".utf8): linkPath = .some(v)
        case Array("size".utf8): size = .some(v)
        default:
            if key.starts(with: "GNU.sparse.".utf8) { sparse = true }
        }
    }

    /// The effective value of a field: local wins (an empty local value deletes), else global.
    static func effective(_ local: [UInt8]??, _ global: [UInt8]??) -> [UInt8]? {
        if let l = local { return l }
        if let g = global { return g }
        return nil
    }
}

import MixteraCore

#if canImport(Glibc)
    import Glibc
#endif

/// The fingerprint of a plain (uncompressed) WebDataset tar (docs/catalog-schema.md, "Fingerprints"):
/// XXH3-64 over every byte of the file except the data areas of regular-file members, so that a scan,
/// which never reads payloads, does not read them for the fingerprint either. Written `tarh:` + 16 hex
/// digits, which tells verifiers to recompute it this way.
///
/// The walk: headers at offset 0 and then each `512 + size` rounded up to 512 bytes further. It stops at
/// an all-zero block, at a header whose size field does not parse, or when the next header would start
/// past the end; everything from there on is hashed. (Header checksums are not checked: the headers are
/// hashed whole, so a damaged one changes the fingerprint anyway.) A regular
/// member is type `0`, NUL or `7`; its data area is `size` (from a preceding pax `x` header's `size`
/// record when there is one) rounded up to 512, cut at the end of the file. Pax, GNU long-name and all
/// other headers and their data are hashed. This detects any change to names, sizes, member mtimes,
/// modes, order, count or property members' headers, and truncation (by size); it does not detect an
/// in-place payload edit that keeps every header byte.
public enum TarHeaderFingerprint {
    public static let prefix = "tarh:"

    public static func compute(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        var walk = TarHeaderFingerprinter(bytes)
        return walk.finish()
    }

    /// The fingerprint of the file at `path` (mapped read-only), or an I/O error.
    public static func compute(path: String) throws(CoreError) -> UInt64 {
        let file = try ReadOnlyFile(path: path)
        let size = Int(try file.stat().byteCount)
        guard size > 0 else { return compute(UnsafeRawBufferPointer(start: nil, count: 0)) }
        guard let p = mmap(nil, size, PROT_READ, MAP_PRIVATE, file.fd, 0), p != MAP_FAILED else {
            throw CoreError.fromErrno(errno, op: "map", path: path)
        }
        defer { munmap(p, size) }
        return compute(UnsafeRawBufferPointer(start: p, count: size))
    }

    /// The catalog's fingerprint string for a fingerprint value.
    public static func string(_ value: UInt64) -> String { prefix + XXH3.hex(value) }

    /// A numeric header field: octal digits after optional spaces, ended by NUL, space or the field's
    /// end (empty is 0); or base-256 when the first byte has its high bit set (negative values: nil).
    static func number(_ f: UnsafeRawBufferPointer) -> Int? {
        guard let first = f.first else { return 0 }
        if first & 0x80 != 0 {
            guard first & 0x40 == 0 else { return nil }
            var v = Int(first & 0x3F)
            for b in f.dropFirst() {
                guard v <= (Int.max >> 8) else { return nil }
                v = v << 8 | Int(b)
            }
            return v
        }
        var i = 0
        while i < f.count && f[i] == UInt8(ascii: " ") { i += 1 }
        var v = 0
        while i < f.count && f[i] != 0 && f[i] != UInt8(ascii: " ") {
            let d = f[i] &- UInt8(ascii: "0")
            guard d < 8, v <= (Int.max >> 3) else { return nil }
            v = v << 3 | Int(d)
            i += 1
        }
        return v
    }

    /// The `size` record of pax extended-header data (`LEN key=value\n` records), if any and well formed.
    static func paxSizeRecord(_ d: UnsafeRawBufferPointer) -> Int? {
        var pos = 0
        var found: Int? = nil
        while pos < d.count {
            var len = 0
            var i = pos
            while i < d.count, d[i] >= UInt8(ascii: "0"), d[i] <= UInt8(ascii: "9") {
                guard len <= 1 << 40 else { return found }
                len = len * 10 + Int(d[i] - UInt8(ascii: "0"))
                i += 1
            }
            guard i < d.count, d[i] == UInt8(ascii: " "), len > 0, len <= d.count - pos else { return found }
            let record = UnsafeRawBufferPointer(rebasing: d[(i + 1)..<(pos + len)])
            // At most 18 digits, so the value always fits.
            if record.count > 6, record.count - 6 <= 18, record.starts(with: "size=".utf8),
                record.last == UInt8(ascii: "\n")
            {
                var v = 0
                var ok = true
                for b in record[5..<(record.count - 1)] {
                    guard b >= UInt8(ascii: "0"), b <= UInt8(ascii: "9") else {
                        ok = false
                        break
                    }
                    v = v * 10 + Int(b - UInt8(ascii: "0"))
                }
                if ok { found = v }
            }
            pos += len
        }
        return found
    }
}

/// ``TarHeaderFingerprint`` computed incrementally: the scan advances it behind its own header walk, so
/// each header is read while it is still in cache.
public struct TarHeaderFingerprinter {
    private let bytes: UnsafeRawBufferPointer
    private let hasher = XXH3Stream()
    private var o = 0
    private var hashedTo = 0
    private var paxSize: Int? = nil
    private var stopped = false

    public init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    /// Walks the headers that start before `limit`.
    public mutating func advance(to limit: Int) {
        let n = bytes.count
        while !stopped && o < limit {
            guard o <= n - 512 else { return stop() }
            let h = TarHeader(bytes: UnsafeRawBufferPointer(rebasing: bytes[o..<(o + 512)]))
            if h.isZero { return stop() }
            guard let size = TarHeaderFingerprint.number(h.field(TarHeader.size)) else { return stop() }
            let flag = h.typeFlag
            let regular = flag == UInt8(ascii: "0") || flag == 0 || flag == UInt8(ascii: "7")
            var dataSize = size
            if regular, let p = paxSize { dataSize = p }
            let dataStart = o + 512
            // A size past the end stands for "to the end" (no overflow on absurd sizes).
            let padded = dataSize > n ? Int.max / 2 : (dataSize + 511) / 512 * 512
            if flag == UInt8(ascii: "x") {
                let end = min(n, dataStart + size)
                paxSize = TarHeaderFingerprint.paxSizeRecord(UnsafeRawBufferPointer(rebasing: bytes[min(dataStart, end)..<end]))
            } else if flag != UInt8(ascii: "g") {
                paxSize = nil
            }
            if regular {
                hasher.update(UnsafeRawBufferPointer(rebasing: bytes[hashedTo..<dataStart]))
                hashedTo = min(n, dataStart + padded)
            }
            guard padded <= n - dataStart else { return stop() }
            o = dataStart + padded
        }
    }

    /// Walks the rest and returns the fingerprint.
    public mutating func finish() -> UInt64 {
        advance(to: Int.max)
        let n = bytes.count
        if hashedTo < n { hasher.update(UnsafeRawBufferPointer(rebasing: bytes[hashedTo..<n])) }
        hashedTo = n
        return hasher.digest()
    }

    private mutating func stop() { stopped = true }
}

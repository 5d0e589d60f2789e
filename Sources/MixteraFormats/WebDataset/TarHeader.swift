/// Field access for one 512-byte tar header block (POSIX ustar layout, which v7 and GNU share for the
/// fields used here). The block is borrowed: it points into the walker's read window and is valid only until
/// the walker reads again.
struct TarHeader {
    static let blockSize = 512

    /// Field ranges (byte offsets within the block).
    static let name = 0..<100
    static let size = 124..<136
    static let checksum = 148..<156
    static let typeFlag = 156
    static let linkName = 157..<257
    static let magic = 257..<263
    static let version = 263..<265
    static let prefix = 345..<500

    /// Exactly `blockSize` bytes.
    let bytes: UnsafeRawBufferPointer

    init(bytes: UnsafeRawBufferPointer) {
        precondition(bytes.count == Self.blockSize)
        self.bytes = bytes
    }

    var isZero: Bool {
        var acc: UInt64 = 0
        for i in 0..<(Self.blockSize / 8) { acc |= bytes.loadUnaligned(fromByteOffset: i * 8, as: UInt64.self) }
        return acc == 0
    }

    /// POSIX `ustar\0` + `00` (the only dialect whose 155-byte prefix field is part of the name).
    var isPOSIXUstar: Bool {
        // "ustar\0"
        bytes[257] == 0x75 && bytes[258] == 0x73 && bytes[259] == 0x74 && bytes[260] == 0x61 && bytes[261] == 0x72
            && bytes[262] == 0x00
    }

    var typeFlag: UInt8 { bytes[Self.typeFlag] }

    /// A field of the block.
    func field(_ range: Range<Int>) -> UnsafeRawBufferPointer { UnsafeRawBufferPointer(rebasing: bytes[range]) }

    /// Bytes of a NUL-terminated text field (up to the first NUL).
    func text(_ range: Range<Int>) -> UnsafeRawBufferPointer {
        let f = field(range)
        if let nul = f.firstIndex(of: 0) { return UnsafeRawBufferPointer(rebasing: f[..<nul]) }
        return f
    }

    /// The stored checksum and whether it matches the unsigned or (historic) signed byte sum computed with
    /// the checksum field read as spaces. `stored` is nil when the field is not a number.
    func verifyChecksum() -> (stored: Int64?, computed: Int, matches: Bool) {
        // Sum the bytes eight at a time: 16-bit lanes hold at most 64 · 2 · 255 < 2^16.
        let lo: UInt64 = 0x00FF_00FF_00FF_00FF
        var lanes: UInt64 = 0
        var high: UInt64 = 0  // count of bytes ≥ 0x80, in 16-bit lanes too
        for i in 0..<(Self.blockSize / 8) {
            let w = bytes.loadUnaligned(fromByteOffset: i * 8, as: UInt64.self)
            lanes &+= (w & lo) &+ ((w >> 8) & lo)
            let h = (w >> 7) & 0x0101_0101_0101_0101
            high &+= (h & lo) &+ ((h >> 8) & lo)
        }
        func fold(_ x: UInt64) -> Int { Int((x & 0xFFFF) + ((x >> 16) & 0xFFFF) + ((x >> 32) & 0xFFFF) + (x >> 48)) }
        var sum = fold(lanes)
        var highCount = fold(high)
        // The checksum field counts as eight spaces.
        for i in Self.checksum {
            sum += 0x20 - Int(bytes[i])
            if bytes[i] >= 0x80 { highCount -= 1 }
        }
        let signed = sum - 256 * highCount
        guard let stored = Self.number(field(Self.checksum)) else { return (nil, sum, false) }
        return (stored, sum, stored == Int64(sum) || stored == Int64(signed))
    }

    /// A numeric field: octal ASCII (leading/trailing spaces, NUL-terminated; empty is 0) or GNU base-256
    /// (first byte has the high bit set; `0x80` positive, `0xff` negative). Nil when invalid, negative or
    /// larger than `Int64.max`.
    static func number(_ field: ArraySlice<UInt8>) -> Int64? {
        field.withUnsafeBytes { number($0) }
    }

    static func number(_ field: UnsafeRawBufferPointer) -> Int64? {
        guard let first = field.first else { return 0 }
        if first & 0x80 != 0 {
            guard first == 0x80 else { return nil }  // 0xff: negative; other high-bit bytes: invalid
            var value: Int64 = 0
            for b in field.dropFirst() {
                guard value <= (Int64.max >> 8) else { return nil }
                value = (value << 8) | Int64(b)
            }
            return value
        }
        var lo = 0
        var hi = field.firstIndex(of: 0) ?? field.count
        while lo < hi && field[lo] == 0x20 { lo += 1 }
        while hi > lo && field[hi - 1] == 0x20 { hi -= 1 }
        var value: Int64 = 0
        for i in lo..<hi {
            let b = field[i]
            guard b >= 0x30, b <= 0x37 else { return nil }
            guard value <= (Int64.max >> 3) else { return nil }
            value = (value << 3) | Int64(b - 0x30)
        }
        return value
    }
}

/// The records of a pax extended header (`x`, `g`, Solaris `X`): `"%d %s=%s\n"`, where the length counts the
/// whole record including itself and the newline.
enum PaxRecords {
    /// Calls `body(key, value)` for each record; returns a description of the problem when the data is
    /// malformed (nil on success).
    static func parse(
        _ data: [UInt8], _ body: (ArraySlice<UInt8>, ArraySlice<UInt8>) -> Void
    ) -> String? {
        var i = 0
        while i < data.count {
            // Tolerate trailing NUL padding (some writers pad the header).
            if data[i] == 0, data[i...].allSatisfy({ $0 == 0 }) { return nil }
            let start = i
            var length = 0
            var digitCount = 0
            while i < data.count, data[i] >= 0x30, data[i] <= 0x39 {
                guard length <= (Int.max - 9) / 10 else { return "pax record length overflows at byte \(start)" }
                length = length * 10 + Int(data[i] - 0x30)
                digitCount += 1
                i += 1
            }
            guard digitCount > 0, i < data.count, data[i] == 0x20 else {
                return "pax record at byte \(start) does not start with a decimal length and a space"
            }
            guard length > digitCount + 2, length <= data.count - start else {
                return "pax record at byte \(start) has length \(length) but \(data.count - start) bytes remain"
            }
            let end = start + length
            guard data[end - 1] == 0x0A else { return "pax record at byte \(start) does not end with a newline" }
            let record = data[(i + 1)..<(end - 1)]
            guard let eq = record.firstIndex(of: 0x3D) else {
                return "pax record at byte \(start) has no '='"
            }
            body(record[..<eq], record[(eq + 1)...])
            i = end
        }
        return nil
    }
}

/// Field access for one 512-byte tar header block (POSIX ustar layout, which v7 and GNU share for the
/// fields used here).
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

    let bytes: [UInt8]

    var isZero: Bool { bytes.allSatisfy { $0 == 0 } }

    /// POSIX `ustar\0` + `00` (the only dialect whose 155-byte prefix field is part of the name).
    var isPOSIXUstar: Bool {
        bytes[Self.magic] == [0x75, 0x73, 0x74, 0x61, 0x72, 0x00]  // "ustar\0"
    }

    /// GNU `ustar  \0`.
    var isGNU: Bool {
        bytes[257..<265] == [0x75, 0x73, 0x74, 0x61, 0x72, 0x20, 0x20, 0x00]  // "ustar  \0"
    }

    var typeFlag: UInt8 { bytes[Self.typeFlag] }

    /// Bytes of a NUL-terminated text field (up to the first NUL).
    func text(_ range: Range<Int>) -> ArraySlice<UInt8> {
        let slice = bytes[range]
        if let nul = slice.firstIndex(of: 0) { return slice[..<nul] }
        return slice
    }

    /// The stored checksum and whether it matches the unsigned or (historic) signed byte sum computed with
    /// the checksum field read as spaces. `stored` is nil when the field is not a number.
    func verifyChecksum() -> (stored: Int64?, computed: Int, matches: Bool) {
        var unsigned = 0
        var signed = 0
        for i in 0..<Self.blockSize {
            let b = Self.checksum.contains(i) ? 0x20 : bytes[i]
            unsigned &+= Int(b)
            signed &+= Int(Int8(bitPattern: b))
        }
        let stored = Self.number(bytes[Self.checksum])
        guard let stored else { return (nil, unsigned, false) }
        return (stored, unsigned, stored == Int64(unsigned) || stored == Int64(signed))
    }

    /// A numeric field: octal ASCII (leading/trailing spaces, NUL-terminated; empty is 0) or GNU base-256
    /// (first byte has the high bit set; `0x80` positive, `0xff` negative). Nil when invalid, negative or
    /// larger than `Int64.max`.
    static func number(_ field: ArraySlice<UInt8>) -> Int64? {
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
        var digits = field
        if let nul = digits.firstIndex(of: 0) { digits = digits[..<nul] }
        while digits.first == 0x20 { digits = digits.dropFirst() }
        while digits.last == 0x20 { digits = digits.dropLast() }
        var value: Int64 = 0
        for b in digits {
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

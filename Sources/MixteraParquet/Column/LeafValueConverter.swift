/// Turns the `i`-th non-null physical value of a leaf into a ``ParquetValue`` using its logical type.
struct LeafValueConverter {
    let values: ValueBuffer
    let logical: ParquetLogicalType?

    func value(_ i: Int) -> ParquetValue {
        switch values.physicalType {
        case .boolean: return .bool(values.bools[i])
        case .int32:
            let v = values.int32s[i]
            switch logical {
            case .integer(_, false)?: return .uint(UInt64(UInt32(bitPattern: v)))
            case .date?: return .date(v)
            case .time(let unit, _)?: return .time(Int64(v), unit: unit)
            case .decimal(_, let scale)?: return .decimal(DecimalFormatter.format(Int64(v), scale: Int(scale)))
            default: return .int(Int64(v))
            }
        case .int64:
            let v = values.int64s[i]
            switch logical {
            case .integer(_, false)?: return .uint(UInt64(bitPattern: v))
            case .timestamp(let unit, let utc)?: return .timestamp(v, unit: unit, isAdjustedToUTC: utc)
            case .time(let unit, _)?: return .time(v, unit: unit)
            case .decimal(_, let scale)?: return .decimal(DecimalFormatter.format(v, scale: Int(scale)))
            default: return .int(v)
            }
        case .float: return .float(values.floats[i])
        case .double: return .double(values.doubles[i])
        case .int96:
            let s = values.offsets[i]
            var nanos: UInt64 = 0
            for k in 0..<8 { nanos |= UInt64(values.bytes[s + k]) << (8 * UInt64(k)) }
            var day: UInt32 = 0
            for k in 0..<4 { day |= UInt32(values.bytes[s + 8 + k]) << (8 * UInt32(k)) }
            let days = Int64(Int32(bitPattern: day)) - 2_440_588
            let (a, o1) = days.multipliedReportingOverflow(by: 86_400_000_000_000)
            let (t, o2) = a.addingReportingOverflow(Int64(bitPattern: nanos))
            if o1 || o2 { return .null }
            return .timestamp(t, unit: .nanos, isAdjustedToUTC: true)
        case .byteArray, .fixedLenByteArray:
            let slice = values.bytes[values.offsets[i]..<values.offsets[i + 1]]
            switch logical {
            case .string?, .enumeration?, .json?: return .string(String(decoding: slice, as: UTF8.self))
            case .decimal(_, let scale)?: return .decimal(DecimalFormatter.format(bigEndian: slice, scale: Int(scale)))
            case .uuid? where slice.count == 16: return .uuid(Self.uuid(slice))
            case .float16? where slice.count == 2:
                return .float(Self.half(UInt16(slice[slice.startIndex]) | UInt16(slice[slice.startIndex + 1]) << 8))
            default: return .bytes(Array(slice))
            }
        }
    }

    static func uuid(_ b: ArraySlice<UInt8>) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        for (k, byte) in b.enumerated() {
            if k == 4 || k == 6 || k == 8 || k == 10 { out.append(UInt8(ascii: "-")) }
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 15)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// IEEE 754 binary16 to binary32 (exact).
    static func half(_ h: UInt16) -> Float {
        let sign: UInt32 = UInt32(h >> 15) << 31
        let exp = Int((h >> 10) & 0x1F)
        let frac = UInt32(h & 0x3FF)
        if exp == 0 {
            // Zero or subnormal: frac * 2^-24.
            let v = Float(frac) * Float(sign: .plus, exponent: -24, significand: 1)
            return sign != 0 ? -v : v
        }
        if exp == 31 { return Float(bitPattern: sign | 0x7F80_0000 | (frac << 13)) }
        return Float(bitPattern: sign | UInt32(exp - 15 + 127) << 23 | (frac << 13))
    }
}

/// Exact base-10 rendering of decimal values.
enum DecimalFormatter {
    static func format(_ unscaled: Int64, scale: Int) -> String {
        let negative = unscaled < 0
        return place(digits: String(unscaled.magnitude), negative: negative, scale: scale)
    }

    /// Big-endian two's complement of any length.
    static func format(bigEndian bytes: ArraySlice<UInt8>, scale: Int) -> String {
        guard let first = bytes.first else { return place(digits: "0", negative: false, scale: scale) }
        let negative = first & 0x80 != 0
        var magnitude = Array(bytes)
        if negative {
            // Two's complement negate: invert and add one.
            for i in magnitude.indices { magnitude[i] = ~magnitude[i] }
            var i = magnitude.count - 1
            while i >= 0 {
                let (s, o) = magnitude[i].addingReportingOverflow(1)
                magnitude[i] = s
                if !o { break }
                i -= 1
            }
        }
        // Repeated division by 10^9.
        var chunks: [UInt32] = []
        var work = magnitude
        while work.contains(where: { $0 != 0 }) {
            var remainder: UInt64 = 0
            for i in work.indices {
                let cur = remainder << 8 | UInt64(work[i])
                work[i] = UInt8(cur / 1_000_000_000)
                remainder = cur % 1_000_000_000
            }
            chunks.append(UInt32(remainder))
        }
        var digits = ""
        for (k, c) in chunks.reversed().enumerated() {
            let s = String(c)
            if k > 0 { digits += String(repeating: "0", count: 9 - s.count) }
            digits += s
        }
        if digits.isEmpty { digits = "0" }
        return place(digits: digits, negative: negative, scale: scale)
    }

    private static func place(digits: String, negative: Bool, scale: Int) -> String {
        var d = digits
        if scale > 0 {
            if d.count <= scale { d = String(repeating: "0", count: scale - d.count + 1) + d }
            let idx = d.index(d.endIndex, offsetBy: -scale)
            d = String(d[..<idx]) + "." + String(d[idx...])
        } else if scale < 0 && d != "0" {
            d += String(repeating: "0", count: -scale)
        }
        return negative ? "-" + d : d
    }
}

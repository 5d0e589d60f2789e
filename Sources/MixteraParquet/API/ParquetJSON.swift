/// Renders ``ParquetValue``s as compact JSON (the mapping is documented in `docs/parquet-support.md`).
///
/// Objects keep schema field order; strings are escaped per RFC 8259; binary is base64 (RFC 4648, padded);
/// non-finite floats are `null`; decimals, UUIDs, dates, times and timestamps are strings.
public enum ParquetJSON {
    public static func render(_ value: ParquetValue) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(256)
        write(value, into: &out)
        return String(decoding: out, as: UTF8.self)
    }

    public static func write(_ value: ParquetValue, into out: inout [UInt8]) {
        switch value {
        case .null: out += Array("null".utf8)
        case .bool(let b): out += Array((b ? "true" : "false").utf8)
        case .int(let v): out += Array(String(v).utf8)
        case .uint(let v): out += Array(String(v).utf8)
        case .float(let f):
            if f.isFinite { out += Array(f.description.utf8) } else { out += Array("null".utf8) }
        case .double(let d):
            if d.isFinite { out += Array(d.description.utf8) } else { out += Array("null".utf8) }
        case .string(let s): writeString(s, into: &out)
        case .bytes(let b): writeString(base64(b), into: &out)
        case .decimal(let s), .uuid(let s): writeString(s, into: &out)
        case .date(let days): writeString(ParquetDateTime.date(days: Int64(days)), into: &out)
        case .time(let v, let unit): writeString(ParquetDateTime.time(v, unit: unit), into: &out)
        case .timestamp(let v, let unit, let utc):
            writeString(ParquetDateTime.timestamp(v, unit: unit, isAdjustedToUTC: utc), into: &out)
        case .list(let items):
            out.append(UInt8(ascii: "["))
            for (i, item) in items.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                write(item, into: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .object(let fields):
            out.append(UInt8(ascii: "{"))
            for (i, f) in fields.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                writeString(f.name, into: &out)
                out.append(UInt8(ascii: ":"))
                write(f.value, into: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
    }

    static func writeString(_ s: String, into out: inout [UInt8]) {
        let hexDigits = Array("0123456789abcdef".utf8)
        out.append(UInt8(ascii: "\""))
        for b in s.utf8 {
            switch b {
            case UInt8(ascii: "\""): out += [UInt8(ascii: "\\"), UInt8(ascii: "\"")]
            case UInt8(ascii: "\\"): out += [UInt8(ascii: "\\"), UInt8(ascii: "\\")]
            case 0x0A: out += [UInt8(ascii: "\\"), UInt8(ascii: "n")]
            case 0x0D: out += [UInt8(ascii: "\\"), UInt8(ascii: "r")]
            case 0x09: out += [UInt8(ascii: "\\"), UInt8(ascii: "t")]
            case 0x08: out += [UInt8(ascii: "\\"), UInt8(ascii: "b")]
            case 0x0C: out += [UInt8(ascii: "\\"), UInt8(ascii: "f")]
            case 0..<0x20:
                out += Array("\\u00".utf8)
                out.append(hexDigits[Int(b >> 4)])
                out.append(hexDigits[Int(b & 15)])
            default: out.append(b)
            }
        }
        out.append(UInt8(ascii: "\""))
    }

    /// Standard base64 with padding.
    public static func base64(_ bytes: [UInt8]) -> String {
        let table = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count + 2) / 3 * 4)
        var i = 0
        while i + 3 <= bytes.count {
            let v = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2])
            out += [table[Int(v >> 18)], table[Int((v >> 12) & 63)], table[Int((v >> 6) & 63)], table[Int(v & 63)]]
            i += 3
        }
        let rest = bytes.count - i
        if rest == 1 {
            let v = UInt32(bytes[i]) << 16
            out += [table[Int(v >> 18)], table[Int((v >> 12) & 63)], UInt8(ascii: "="), UInt8(ascii: "=")]
        } else if rest == 2 {
            let v = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8
            out += [table[Int(v >> 18)], table[Int((v >> 12) & 63)], table[Int((v >> 6) & 63)], UInt8(ascii: "=")]
        }
        return String(decoding: out, as: UTF8.self)
    }
}

/// Calendar rendering (proleptic Gregorian, UTC) for DATE, TIME and TIMESTAMP.
public enum ParquetDateTime {
    /// `YYYY-MM-DD` for days since 1970-01-01.
    public static func date(days: Int64) -> String {
        let (y, m, d) = civil(days)
        return pad(y, 4) + "-" + pad(m, 2) + "-" + pad(d, 2)
    }

    /// `HH:MM:SS.fff` (3, 6 or 9 fraction digits by unit).
    public static func time(_ value: Int64, unit: ParquetTimeUnit) -> String {
        let (perSecond, digits) = scale(unit)
        let (secs, frac) = floorDivMod(value, perSecond)
        let (h, rem) = floorDivMod(secs, 3600)
        return pad(h, 2) + ":" + pad(rem / 60, 2) + ":" + pad(rem % 60, 2) + "." + pad(frac, digits)
    }

    /// `YYYY-MM-DDTHH:MM:SS.fff[fff[fff]]`, with a `Z` suffix when adjusted to UTC.
    public static func timestamp(_ value: Int64, unit: ParquetTimeUnit, isAdjustedToUTC: Bool) -> String {
        let (perSecond, digits) = scale(unit)
        let (secs, frac) = floorDivMod(value, perSecond)
        let (days, sod) = floorDivMod(secs, 86_400)
        return date(days: days) + "T" + pad(sod / 3600, 2) + ":" + pad(sod / 60 % 60, 2) + ":" + pad(sod % 60, 2) + "."
            + pad(frac, digits) + (isAdjustedToUTC ? "Z" : "")
    }

    private static func scale(_ unit: ParquetTimeUnit) -> (Int64, Int) {
        switch unit {
        case .millis: (1_000, 3)
        case .micros: (1_000_000, 6)
        case .nanos: (1_000_000_000, 9)
        }
    }

    private static func floorDivMod(_ a: Int64, _ b: Int64) -> (Int64, Int64) {
        var q = a / b
        var r = a % b
        if r < 0 {
            q -= 1
            r += b
        }
        return (q, r)
    }

    private static func pad(_ v: Int64, _ width: Int) -> String {
        let s = String(v.magnitude)
        let body = s.count < width ? String(repeating: "0", count: width - s.count) + s : s
        return v < 0 ? "-" + body : body
    }

    /// Days since the epoch to (year, month, day); Howard Hinnant's `civil_from_days`.
    private static func civil(_ z0: Int64) -> (Int64, Int64, Int64) {
        let z = z0 + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let y = yoe + era * 400
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (m <= 2 ? y + 1 : y, m, d)
    }
}

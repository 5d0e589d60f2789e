/// The canonical byte encoding of a categorical property value, used to intern values during scans
/// and to store key combinations in the catalog (docs/catalog-schema.md):
///
/// ```
/// null          00
/// string        01 <UTF-8 bytes>
/// bool          02 <00|01>
/// list<string>  03 (<u32 LE length> <UTF-8 bytes>)*
/// int           04 <i64 LE>          (only for from_path ints folded into keys; not used by JSON fields)
/// float         05 <f64 bits LE>
/// ```
public enum CategoricalEncoding {
    public static let nullTag: UInt8 = 0
    public static let stringTag: UInt8 = 1
    public static let boolTag: UInt8 = 2
    public static let listTag: UInt8 = 3
    public static let intTag: UInt8 = 4
    public static let floatTag: UInt8 = 5

    public static func encode(_ v: PropertyValue, into out: inout [UInt8]) {
        switch v {
        case .null: out.append(nullTag)
        case .string(let s):
            out.append(stringTag)
            out.append(contentsOf: s.utf8)
        case .bool(let b):
            out.append(boolTag)
            out.append(b ? 1 : 0)
        case .stringList(let l):
            out.append(listTag)
            for s in l {
                let n = UInt32(s.utf8.count)
                for j in 0..<4 { out.append(UInt8(truncatingIfNeeded: n >> (8 * UInt32(j)))) }
                out.append(contentsOf: s.utf8)
            }
        case .int(let i):
            out.append(intTag)
            for j in 0..<8 { out.append(UInt8(truncatingIfNeeded: UInt64(bitPattern: i) >> (8 * UInt64(j)))) }
        case .float(let d):
            out.append(floatTag)
            for j in 0..<8 { out.append(UInt8(truncatingIfNeeded: d.bitPattern >> (8 * UInt64(j)))) }
        }
    }

    public static func encode(_ v: PropertyValue) -> [UInt8] {
        var out: [UInt8] = []
        encode(v, into: &out)
        return out
    }

    /// Decodes a value; malformed bytes decode as null (inputs come from our own encoder).
    public static func decode(_ bytes: some Collection<UInt8>) -> PropertyValue {
        let b = Array(bytes)
        guard let tag = b.first else { return .null }
        switch tag {
        case stringTag: return .string(String(decoding: b[1...], as: UTF8.self))
        case boolTag: return .bool(b.count > 1 && b[1] != 0)
        case listTag:
            var out: [String] = []
            var i = 1
            while i + 4 <= b.count {
                var n = 0
                for j in 0..<4 { n |= Int(b[i + j]) << (8 * j) }
                i += 4
                guard i + n <= b.count else { break }
                out.append(String(decoding: b[i..<(i + n)], as: UTF8.self))
                i += n
            }
            return .stringList(out)
        case intTag, floatTag:
            guard b.count == 9 else { return .null }
            var v: UInt64 = 0
            for j in 0..<8 { v |= UInt64(b[1 + j]) << (8 * UInt64(j)) }
            return tag == intTag ? .int(Int64(bitPattern: v)) : .float(Double(bitPattern: v))
        default: return .null
        }
    }
}

/// A decoded Thrift value (compact protocol). Structs keep their fields by id, in wire order.
enum ThriftValue: Sendable {
    case bool(Bool)
    case int(Int64)
    case double(Double)
    case binary([UInt8])
    case list([ThriftValue])
    case map([(ThriftValue, ThriftValue)])
    case structure(ThriftStruct)
}

/// The fields of one Thrift struct.
struct ThriftStruct: Sendable {
    var fields: [(id: Int16, value: ThriftValue)] = []

    subscript(id: Int16) -> ThriftValue? {
        for f in fields where f.id == id { return f.value }
        return nil
    }

    func int(_ id: Int16) -> Int64? {
        if case .int(let v)? = self[id] { return v }
        return nil
    }
    func int32(_ id: Int16) -> Int32? {
        guard let v = int(id) else { return nil }
        return Int32(exactly: v)
    }
    func bool(_ id: Int16) -> Bool? {
        if case .bool(let v)? = self[id] { return v }
        return nil
    }
    func binary(_ id: Int16) -> [UInt8]? {
        if case .binary(let v)? = self[id] { return v }
        return nil
    }
    func string(_ id: Int16) -> String? {
        guard let b = binary(id) else { return nil }
        return String(decoding: b, as: UTF8.self)
    }
    func structure(_ id: Int16) -> ThriftStruct? {
        if case .structure(let v)? = self[id] { return v }
        return nil
    }
    func list(_ id: Int16) -> [ThriftValue]? {
        if case .list(let v)? = self[id] { return v }
        return nil
    }
    func structList(_ id: Int16) -> [ThriftStruct]? {
        guard let l = list(id) else { return nil }
        var out: [ThriftStruct] = []
        out.reserveCapacity(l.count)
        for v in l {
            guard case .structure(let s) = v else { return nil }
            out.append(s)
        }
        return out
    }
    /// The id of the single set field of a Thrift union, with its struct.
    var unionCase: (id: Int16, value: ThriftStruct)? {
        for f in fields {
            if case .structure(let s) = f.value { return (f.id, s) }
        }
        return nil
    }
}

/// Why a Thrift buffer could not be decoded (converted to a `ParquetError` with a location by the caller).
struct ThriftError: Error, Sendable {
    var message: String
    var byteOffset: Int
}

/// Reads the Thrift compact protocol from a byte buffer, distrusting every length.
///
/// Nesting is capped at ``maxDepth`` structs/lists/maps, varints at 10 bytes, and every count or length is
/// checked against the remaining bytes before anything is allocated.
struct ThriftCompactReader {
    static let maxDepth = 64

    let bytes: [UInt8]
    private(set) var position: Int
    let end: Int

    init(_ bytes: [UInt8], from start: Int = 0, to end: Int? = nil) {
        self.bytes = bytes
        self.position = start
        self.end = min(end ?? bytes.count, bytes.count)
    }

    var remaining: Int { end - position }

    private func fail(_ message: String) -> ThriftError { ThriftError(message: message, byteOffset: position) }

    mutating func readByte() throws(ThriftError) -> UInt8 {
        guard position < end else { throw fail("unexpected end of thrift data") }
        let b = bytes[position]
        position += 1
        return b
    }

    mutating func readVarint() throws(ThriftError) -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            let b = try readByte()
            if shift == 63 && b > 1 { throw fail("varint overflows 64 bits") }
            result |= UInt64(b & 0x7F) << shift
            if b & 0x80 == 0 { return result }
            shift += 7
            if shift > 63 { throw fail("varint longer than 10 bytes") }
        }
    }

    mutating func readZigZag() throws(ThriftError) -> Int64 {
        let v = try readVarint()
        return Int64(bitPattern: (v >> 1) ^ (0 &- (v & 1)))
    }

    mutating func readLength() throws(ThriftError) -> Int {
        let v = try readVarint()
        guard v <= UInt64(remaining) else { throw fail("length \(v) exceeds the \(remaining) remaining bytes") }
        return Int(v)
    }

    /// Reads one struct (after its opening, up to and including its STOP byte).
    mutating func readStruct(depth: Int = 0) throws(ThriftError) -> ThriftStruct {
        guard depth < Self.maxDepth else { throw fail("thrift nesting deeper than \(Self.maxDepth)") }
        var s = ThriftStruct()
        var lastID: Int16 = 0
        while true {
            let header = try readByte()
            let type = header & 0x0F
            if type == 0 { return s }
            let delta = header >> 4
            let id: Int16
            if delta == 0 {
                let raw = try readZigZag()
                guard let v = Int16(exactly: raw) else { throw fail("field id \(raw) out of range") }
                id = v
            } else {
                id = lastID &+ Int16(delta)
            }
            lastID = id
            let value: ThriftValue
            switch type {
            case 1: value = .bool(true)
            case 2: value = .bool(false)
            default: value = try readValue(type: type, depth: depth + 1)
            }
            s.fields.append((id, value))
        }
    }

    private mutating func readValue(type: UInt8, depth: Int) throws(ThriftError) -> ThriftValue {
        guard depth < Self.maxDepth else { throw fail("thrift nesting deeper than \(Self.maxDepth)") }
        switch type {
        case 1, 2:  // bool inside a collection: one byte
            let b = try readByte()
            return .bool(b == 1)
        case 3: return .int(Int64(Int8(bitPattern: try readByte())))
        case 4, 5, 6: return .int(try readZigZag())
        case 7:
            guard remaining >= 8 else { throw fail("double needs 8 bytes") }
            var bits: UInt64 = 0
            for i in 0..<8 { bits |= UInt64(bytes[position + i]) << (8 * UInt64(i)) }
            position += 8
            return .double(Double(bitPattern: bits))
        case 8:
            let n = try readLength()
            let v = Array(bytes[position..<position + n])
            position += n
            return .binary(v)
        case 9, 10:
            let header = try readByte()
            var count = Int(header >> 4)
            if count == 15 { count = try readLength() }
            // Every element takes at least one byte.
            guard count <= remaining else { throw fail("list of \(count) elements exceeds the remaining bytes") }
            let elementType = header & 0x0F
            var items: [ThriftValue] = []
            items.reserveCapacity(count)
            for _ in 0..<count { items.append(try readValue(type: elementType, depth: depth + 1)) }
            return .list(items)
        case 11:
            let count = try readLength()
            if count == 0 { return .map([]) }
            let kv = try readByte()
            var items: [(ThriftValue, ThriftValue)] = []
            items.reserveCapacity(count)
            for _ in 0..<count {
                let k = try readValue(type: kv >> 4, depth: depth + 1)
                let v = try readValue(type: kv & 0x0F, depth: depth + 1)
                items.append((k, v))
            }
            return .map(items)
        case 12: return .structure(try readStruct(depth: depth))
        default: throw fail("unknown thrift type \(type)")
        }
    }
}

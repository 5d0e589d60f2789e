import MixteraCore
import MixteraSpec

/// Builds the per-sample numeric columns of a scan (one per numeric property, in declared order): ints
/// as Int64, floats as Double (ints widen), nulls in a bitmap created on the first null.
struct NumericColumnsBuilder {
    private let types: [PropertyType]
    private var ints: [[Int64]]
    private var doubles: [[Double]]
    private var nulls: [[Bool]?]
    private var count = 0

    init(_ properties: [PropertyDecl]) {
        types = properties.map(\.type)
        ints = properties.map { _ in [] }
        doubles = properties.map { _ in [] }
        nulls = properties.map { _ in nil }
    }

    /// Appends one sample's value of column `i` (call for every column, then `endSample()`).
    mutating func append(_ i: Int, _ value: PropertyValue) {
        let type = types[i]
        var isNull = false
        switch (type, value) {
        case (.int, .int(let v)): ints[i].append(v)
        case (.float, .float(let v)): doubles[i].append(v)
        case (.float, .int(let v)): doubles[i].append(Double(v))
        default:
            isNull = true
            if type == .int { ints[i].append(0) } else { doubles[i].append(0) }
        }
        if isNull {
            if nulls[i] == nil { nulls[i] = Array(repeating: false, count: count) }
            nulls[i]!.append(true)
        } else if nulls[i] != nil {
            nulls[i]!.append(false)
        }
    }

    mutating func endSample() { count += 1 }

    func finish() -> [NumericColumn] {
        types.indices.map { i in
            types[i] == .int ? .int(ints[i], nulls: nulls[i]) : .float(doubles[i], nulls: nulls[i])
        }
    }
}

/// Interns each sample's categorical values (canonical `CategoricalEncoding` bytes, one interner per
/// property) and their combination into a file-local key id; `table()` decodes the distinct combinations.
struct KeyTableBuilder {
    private var values: [ByteInterner]
    private var keys = ByteInterner(capacity: 256)
    private var keyScratch: [UInt8] = []

    init(propertyCount: Int) { values = (0..<propertyCount).map { _ in ByteInterner() } }

    mutating func beginKey() { keyScratch.removeAll(keepingCapacity: true) }

    /// Adds property `i`'s encoded value to the current key.
    mutating func add(_ i: Int, encoded: UnsafeRawBufferPointer) {
        keyScratch.writeVarint32(UInt32(values[i].intern(encoded)))
    }

    /// Finishes the current key; returns its file-local id.
    mutating func endKey() -> UInt32 { UInt32(keyScratch.withUnsafeBytes { keys.intern($0) }) }

    /// The distinct combinations in first-seen order, values decoded.
    func table() -> [[PropertyValue]] {
        (0..<keys.count).map { k in
            var r = ByteReader(Array(keys.value(k)))
            return values.indices.map { i in
                let id = Int((try? r.readVarint()) ?? 0)
                return CategoricalEncoding.decode(values[i].value(id))
            }
        }
    }
}

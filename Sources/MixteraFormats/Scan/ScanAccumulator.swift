import MixteraCore
import MixteraSpec

/// A format-neutral value found for a property before the declared type is applied: what the Parquet and
/// WebDataset scanners read (a Parquet value, a JSON value of a sidecar member, a member's text).
enum RawValue {
    case missing
    case null
    case string(String)
    case int(Int64)
    case uint(UInt64)
    case double(Double)
    case bool(Bool)
    case list([RawValue])
    /// Something no property type accepts; the associated text names it in errors ("an object", "a date").
    case other(String)

    var kindName: String {
        switch self {
        case .missing: return "nothing"
        case .null: return "null"
        case .string: return "a string"
        case .int, .uint: return "an integer"
        case .double: return "a number"
        case .bool: return "a boolean"
        case .list: return "a list"
        case .other(let what): return what
        }
    }
}

/// A value that does not fit a property's declared type; the caller adds the location.
struct ConversionFailure: Error {
    var kind: FormatError.Kind
    var message: String
}

enum PropertyConversion {
    /// Missing or null → the null/default rule of the JSONL scanner: an explicit null is kept when the
    /// property is `nullable`; otherwise the `default` (or null when there is none).
    static func missingOrNull(_ prop: PropertyDecl, isNull: Bool) -> PropertyValue {
        if isNull && prop.nullable { return .null }
        return prop.defaultValue ?? .null
    }

    /// An integer (also from an unsigned value up to 2^63 − 1 or an integer string); nil for missing or null.
    static func intValue(_ raw: RawValue, name: String) throws(ConversionFailure) -> Int64? {
        switch raw {
        case .missing, .null: return nil
        case .int(let v): return v
        case .uint(let v):
            guard v <= UInt64(Int64.max) else {
                throw ConversionFailure(
                    kind: .numberOutOfRange, message: "property \"\(name)\" value \(v) is outside the 64-bit integer range")
            }
            return Int64(v)
        case .string(let s):
            if let v = Int64(s) { return v }
            fallthrough
        default:
            throw ConversionFailure(
                kind: .typeMismatch, message: "property \"\(name)\" expects an integer, found \(raw.kindName)")
        }
    }

    /// Applies `prop.type` to a raw value (the rules of the JSONL scanner: ints also from integer strings,
    /// floats from any number or numeric string, nulls inside string lists dropped).
    static func convert(_ raw: RawValue, _ prop: PropertyDecl) throws(ConversionFailure) -> PropertyValue {
        switch raw {
        case .missing: return missingOrNull(prop, isNull: false)
        case .null: return missingOrNull(prop, isNull: true)
        default: break
        }
        func mismatch(_ expected: String) -> ConversionFailure {
            ConversionFailure(
                kind: .typeMismatch, message: "property \"\(prop.name)\" expects \(expected), found \(raw.kindName)")
        }
        switch prop.type {
        case .string:
            if case .string(let s) = raw { return .string(s) }
            throw mismatch("a string")
        case .bool:
            if case .bool(let b) = raw { return .bool(b) }
            throw mismatch("a boolean")
        case .stringList:
            guard case .list(let items) = raw else { throw mismatch("a list of strings") }
            var out: [String] = []
            for item in items {
                switch item {
                case .null, .missing: continue
                case .string(let s): out.append(s)
                default:
                    throw ConversionFailure(
                        kind: .typeMismatch,
                        message: "property \"\(prop.name)\" expects a list of strings, found an element that is \(item.kindName)")
                }
            }
            return .stringList(out)
        case .int:
            return .int(try intValue(raw, name: prop.name)!)
        case .float:
            switch raw {
            case .int(let v): return .float(Double(v))
            case .uint(let v): return .float(Double(v))
            case .double(let v): return .float(v)
            case .string(let s):
                if let v = Double(s), v.isFinite { return .float(v) }
                throw ConversionFailure(
                    kind: .typeMismatch,
                    message: "property \"\(prop.name)\" expects a number, found a non-numeric string")
            default: throw mismatch("a number")
            }
        }
    }
}

/// Collects per-sample values into a `FileScanResult`: categorical values interned into the key table,
/// numeric values into columns (with null masks), locators, text bytes and token counts.
/// Shared by the Parquet and WebDataset scanners (the JSONL scanner has its own byte-level hot loop).
struct ScanAccumulator {
    let schema: ScanSchema
    private(set) var result = FileScanResult()
    private var scratch: [UInt8] = []
    private var keyTable: KeyTableBuilder
    private var numericColumns: NumericColumnsBuilder

    init(schema: ScanSchema, locatorKind: LocatorKind, hasTokens: Bool) {
        self.schema = schema
        keyTable = KeyTableBuilder(propertyCount: schema.categorical.count)
        numericColumns = NumericColumnsBuilder(schema.numeric)
        result.locatorKind = locatorKind
        if hasTokens { result.tokens = [] }
    }

    /// Appends one sample. `categorical` and `numeric` are in `schema` order and already converted.
    mutating func append(
        categorical: [PropertyValue], numeric: [PropertyValue], offset: Int64, length: Int64, textBytes: Int64,
        tokens: Int64?
    ) {
        keyTable.beginKey()
        for (i, v) in categorical.enumerated() {
            scratch.removeAll(keepingCapacity: true)
            CategoricalEncoding.encode(v, into: &scratch)
            scratch.withUnsafeBytes { keyTable.add(i, encoded: $0) }
        }
        let key = keyTable.endKey()
        for (i, v) in numeric.enumerated() { numericColumns.append(i, v) }
        numericColumns.endSample()
        result.sampleKeys.append(key)
        result.byteOffsets.append(offset)
        result.byteLengths.append(length)
        result.textBytes.append(textBytes)
        if result.tokens != nil { result.tokens!.append(tokens ?? 0) }
        result.sampleCount += 1
    }

    /// Counts a skipped record (`on_error: skip`) and keeps the first 20 problems.
    mutating func skip(_ error: FormatError, count: Int = 1) {
        result.skippedRecords += count
        if result.problems.count < 20 { result.problems.append(error) }
    }

    mutating func finish() -> FileScanResult {
        result.keyTable = keyTable.table()
        result.numericColumns = numericColumns.finish()
        return result
    }
}

/// The `from_path` constant of a property for one file (as the JSONL scanner computes it).
enum FromPathConstant {
    static func value(_ p: PropertyDecl, pattern: String, capture: String, relativePath: String) throws(FormatError)
        -> PropertyValue
    {
        guard let caps = PathPattern.capture(pattern, relativePath), let v = caps[capture] else {
            return p.defaultValue ?? .null
        }
        if p.type == .int {
            guard let i = Int64(v) else {
                throw FormatError(
                    .typeMismatch, "property \"\(p.name)\": path capture \"\(v)\" is not an integer",
                    at: DataLocation(path: relativePath))
            }
            return .int(i)
        }
        return .string(v)
    }
}

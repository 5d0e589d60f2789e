/// One field of a ``ParquetValue/object(_:)``.
public struct ParquetField: Sendable, Hashable {
    public var name: String
    public var value: ParquetValue
    public init(_ name: String, _ value: ParquetValue) {
        self.name = name
        self.value = value
    }
}

/// A decoded value with its logical type applied; groups become objects and LIST/MAP become lists.
public indirect enum ParquetValue: Sendable, Hashable {
    case null
    case bool(Bool)
    /// Signed integers (INT32/INT64 without annotation or with a signed INT annotation).
    case int(Int64)
    /// Unsigned integers (INT(n, false) / UINT_n).
    case uint(UInt64)
    case float(Float)
    case double(Double)
    /// STRING, ENUM and JSON byte arrays (invalid UTF-8 is replaced with U+FFFD).
    case string(String)
    /// Byte arrays without a text annotation, BSON, INTERVAL and other fixed-length bytes.
    case bytes([UInt8])
    /// DECIMAL, rendered exactly as a base-10 string (e.g. `-123.45`).
    case decimal(String)
    /// DATE: days since 1970-01-01.
    case date(Int32)
    /// TIME since midnight, in `unit`.
    case time(Int64, unit: ParquetTimeUnit)
    /// TIMESTAMP since the epoch, in `unit` (INT96 becomes nanoseconds, UTC).
    case timestamp(Int64, unit: ParquetTimeUnit, isAdjustedToUTC: Bool)
    /// UUID (FIXED_LEN_BYTE_ARRAY(16)) in canonical 8-4-4-4-12 lowercase form.
    case uuid(String)
    case list([ParquetValue])
    /// A struct (group); MAP entries are objects with the key and value field names of the schema.
    case object([ParquetField])

    public var isNull: Bool {
        if case .null = self { return true }
        return false
    }

    /// The field named `name` of an object.
    public subscript(field name: String) -> ParquetValue? {
        guard case .object(let fields) = self else { return nil }
        return fields.first(where: { $0.name == name })?.value
    }
}

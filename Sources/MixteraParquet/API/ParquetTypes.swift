/// Parquet physical types; raw values equal the spec's `Type` numbers.
public enum ParquetPhysicalType: Int32, Sendable, Hashable {
    case boolean = 0
    case int32 = 1
    case int64 = 2
    case int96 = 3
    case float = 4
    case double = 5
    case byteArray = 6
    case fixedLenByteArray = 7
}

/// Field repetition; raw values equal the spec's `FieldRepetitionType` numbers.
public enum ParquetRepetition: Int32, Sendable, Hashable {
    case required = 0
    case optional = 1
    case repeated = 2
}

/// Units of TIME and TIMESTAMP values.
public enum ParquetTimeUnit: Sendable, Hashable {
    case millis, micros, nanos
}

/// Logical type annotations, from `LogicalType` or, in older files, the deprecated `ConvertedType`.
public enum ParquetLogicalType: Sendable, Hashable {
    case string
    case map
    case list
    case enumeration
    case decimal(precision: Int32, scale: Int32)
    case date
    case time(unit: ParquetTimeUnit, isAdjustedToUTC: Bool)
    case timestamp(unit: ParquetTimeUnit, isAdjustedToUTC: Bool)
    case integer(bitWidth: Int8, isSigned: Bool)
    /// Always null (`UNKNOWN`).
    case null
    case json
    case bson
    case uuid
    case float16
    /// Legacy `INTERVAL` (FIXED_LEN_BYTE_ARRAY(12)).
    case interval
    /// An annotation this reader does not interpret (variant, geometry, ...); values are read as their physical type.
    case other(Int16)
}

/// Page compression codecs; raw values equal the spec's `CompressionCodec` numbers.
public enum ParquetCompression: Int32, Sendable, Hashable, CustomStringConvertible {
    case uncompressed = 0
    case snappy = 1
    case gzip = 2
    case lzo = 3
    case brotli = 4
    case lz4 = 5
    case zstd = 6
    case lz4Raw = 7

    public var description: String {
        switch self {
        case .uncompressed: "UNCOMPRESSED"
        case .snappy: "SNAPPY"
        case .gzip: "GZIP"
        case .lzo: "LZO"
        case .brotli: "BROTLI"
        case .lz4: "LZ4"
        case .zstd: "ZSTD"
        case .lz4Raw: "LZ4_RAW"
        }
    }
}

/// Value encodings; raw values equal the spec's `Encoding` numbers.
public enum ParquetEncoding: Int32, Sendable, Hashable, CustomStringConvertible {
    case plain = 0
    case plainDictionary = 2
    case rle = 3
    case bitPacked = 4
    case deltaBinaryPacked = 5
    case deltaLengthByteArray = 6
    case deltaByteArray = 7
    case rleDictionary = 8
    case byteStreamSplit = 9

    public var description: String {
        switch self {
        case .plain: "PLAIN"
        case .plainDictionary: "PLAIN_DICTIONARY"
        case .rle: "RLE"
        case .bitPacked: "BIT_PACKED"
        case .deltaBinaryPacked: "DELTA_BINARY_PACKED"
        case .deltaLengthByteArray: "DELTA_LENGTH_BYTE_ARRAY"
        case .deltaByteArray: "DELTA_BYTE_ARRAY"
        case .rleDictionary: "RLE_DICTIONARY"
        case .byteStreamSplit: "BYTE_STREAM_SPLIT"
        }
    }
}

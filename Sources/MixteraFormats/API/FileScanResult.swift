import MixteraCore
import MixteraSpec

/// A per-sample numeric property column.
public enum NumericColumn: Sendable, Equatable {
    /// `nulls[i]` is true where sample i has no value (nil when no sample is null).
    case int([Int64], nulls: [Bool]?)
    case float([Double], nulls: [Bool]?)

    public var count: Int {
        switch self {
        case .int(let v, _): return v.count
        case .float(let v, _): return v.count
        }
    }

    public func value(at i: Int) -> PropertyValue {
        switch self {
        case .int(let v, let nulls): return nulls?[i] == true ? .null : .int(v[i])
        case .float(let v, let nulls): return nulls?[i] == true ? .null : .float(v[i])
        }
    }
}

/// How replay finds a sample's bytes in the file.
public enum LocatorKind: UInt8, Sendable {
    /// Byte offsets of each line in the file itself (uncompressed JSONL).
    case fileOffsets = 0
    /// Byte offsets in the decompressed stream (compressed JSONL; replay decompresses from the
    /// frame holding the sample for zstd, from the start otherwise).
    case streamOffsets = 1
    /// Row index in a Parquet file.
    case parquetRows = 2
    /// Member data offsets inside a tar stream.
    case tarMembers = 3
}

/// Everything the scan of one shard produced: per-sample categorical keys, numeric columns,
/// locators, text byte lengths and token counts.
public struct FileScanResult: Sendable {
    public var sampleCount: Int = 0
    /// Distinct combinations of the categorical properties (in `ScanSchema.categorical` order), in
    /// first-seen order.
    public var keyTable: [[PropertyValue]] = []
    /// Per sample: index into `keyTable`.
    public var sampleKeys: [UInt32] = []
    /// One column per `ScanSchema.numeric` property.
    public var numericColumns: [NumericColumn] = []
    public var locatorKind: LocatorKind = .fileOffsets
    /// Per sample: byte offset of its record (line start) in the file or decompressed stream.
    public var byteOffsets: [Int64] = []
    /// Per sample: byte length of its record (the line without its line terminator).
    public var byteLengths: [Int64] = []
    /// Per sample: UTF-8 byte length of the `text` field (0 when no text field is declared).
    public var textBytes: [Int64] = []
    /// Per sample token counts, when the dataset declares `tokens`.
    public var tokens: [Int64]?
    /// zstd frames: (compressed offset, decompressed offset) of each frame start.
    public var frames: [ZstdFrame] = []
    /// Records skipped under `on_error: skip`, and the first problems (at most 20).
    public var skippedRecords: Int = 0
    public var problems: [FormatError] = []

    public init() {}
}

public struct ZstdFrame: Sendable, Equatable, Codable {
    public var compressedOffset: Int64
    public var decompressedOffset: Int64
    public init(compressedOffset: Int64, decompressedOffset: Int64) {
        self.compressedOffset = compressedOffset
        self.decompressedOffset = decompressedOffset
    }
}

/// The split of a dataset's declared properties into categorical (stored per distinct combination)
/// and numeric (stored per sample), each in declared order.
public struct ScanSchema: Sendable {
    public var categorical: [PropertyDecl]
    public var numeric: [PropertyDecl]

    public init(_ dataset: DatasetDecl) {
        categorical = dataset.properties.filter { $0.type.isCategorical }
        numeric = dataset.properties.filter { !$0.type.isCategorical }
    }
}

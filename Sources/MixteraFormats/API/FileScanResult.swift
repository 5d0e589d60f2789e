import MixteraCore
import MixteraSpec

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
    /// Parquet: sync points of the text column's pages, in row order.
    public var parquetSync: [ParquetSyncPoint] = []
    /// Records skipped under `on_error: skip`, and the first problems (at most 20).
    /// XXH3-64 of the file's bytes when the scan could compute it while reading (plain and zstd files).
    public var fingerprint: UInt64?
    /// Prepended to the hex fingerprint in the catalog: "" for XXH3-64 of the whole file, or
    /// ``TarHeaderFingerprint/prefix`` for a plain tar's header fingerprint.
    public var fingerprintPrefix = ""
    public var skippedRecords: Int = 0
    public var problems: [FormatError] = []

    public init() {}
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

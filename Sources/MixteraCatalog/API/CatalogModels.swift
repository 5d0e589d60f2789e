import MixteraCore
import MixteraSpec

public struct CatalogProperty: Sendable, Hashable {
    public var name: String
    public var type: PropertyType
    /// Human-readable source (`path:meta.language`, `from_path:{source}/*.jsonl`).
    public var source: String
    public init(name: String, type: PropertyType, source: String) {
        self.name = name
        self.type = type
        self.source = source
    }
}

public struct CatalogDataset: Sendable {
    public var id: Int64
    public var name: String
    public var root: String
    public var format: String
    public var textField: String?
    public var tokensField: String?
    /// All properties in declared order.
    public var properties: [CatalogProperty]
    /// The `CatalogFile.propertiesHash` of files indexed with the current declarations (nil: unknown).
    public var propertiesHash: String? = nil
    public var categorical: [CatalogProperty] { properties.filter { $0.type.isCategorical } }
    public var numeric: [CatalogProperty] { properties.filter { !$0.type.isCategorical } }
}

public enum FileState: String, Sendable {
    case ok
    /// The file disappeared from the tree; kept for lineage, excluded from planning.
    case removed
}

public struct CatalogFile: Sendable, Equatable {
    public var id: Int64
    public var datasetID: Int64
    /// Path relative to the dataset root, `/`-separated.
    public var relativePath: String
    public var format: String
    public var compression: String
    public var byteCount: Int64
    public var mtimeNanoseconds: Int64
    /// XXH3-64 of the file's bytes, 16 hex digits.
    public var fingerprint: String
    public var sampleCount: Int64
    public var skippedCount: Int64
    public var state: FileState
    /// Hash of the property declarations the file was indexed with; a change triggers a rescan.
    public var propertiesHash: String

    public init(
        id: Int64 = 0, datasetID: Int64, relativePath: String, format: String, compression: String,
        byteCount: Int64, mtimeNanoseconds: Int64, fingerprint: String, sampleCount: Int64, skippedCount: Int64,
        state: FileState = .ok, propertiesHash: String
    ) {
        self.id = id
        self.datasetID = datasetID
        self.relativePath = relativePath
        self.format = format
        self.compression = compression
        self.byteCount = byteCount
        self.mtimeNanoseconds = mtimeNanoseconds
        self.fingerprint = fingerprint
        self.sampleCount = sampleCount
        self.skippedCount = skippedCount
        self.state = state
        self.propertiesHash = propertiesHash
    }
}

/// The per-sample index of one file, as stored in `files.index_blob`.
public struct FileIndex: Sendable, Equatable {
    public var sampleCount: Int
    /// Per sample: catalog key id (row of `keys`).
    public var sampleKeys: [UInt32]
    public var locatorKind: LocatorKind
    public var byteOffsets: [Int64]
    public var byteLengths: [Int64]
    public var textBytes: [Int64]
    public var tokens: [Int64]?
    public var numericColumns: [NumericColumn]
    public var frames: [ZstdFrame]
    /// Parquet: where replay can start decoding the text column's pages (empty for other formats).
    public var parquetSync: [ParquetSyncPoint]

    public init(
        sampleCount: Int, sampleKeys: [UInt32], locatorKind: LocatorKind, byteOffsets: [Int64], byteLengths: [Int64],
        textBytes: [Int64], tokens: [Int64]?, numericColumns: [NumericColumn], frames: [ZstdFrame],
        parquetSync: [ParquetSyncPoint] = []
    ) {
        self.sampleCount = sampleCount
        self.sampleKeys = sampleKeys
        self.locatorKind = locatorKind
        self.byteOffsets = byteOffsets
        self.byteLengths = byteLengths
        self.textBytes = textBytes
        self.tokens = tokens
        self.numericColumns = numericColumns
        self.frames = frames
        self.parquetSync = parquetSync
    }
}

extension LocatorKind: Equatable {}

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

public struct ZstdFrame: Sendable, Equatable, Codable {
    public var compressedOffset: Int64
    public var decompressedOffset: Int64
    public init(compressedOffset: Int64, decompressedOffset: Int64) {
        self.compressedOffset = compressedOffset
        self.decompressedOffset = decompressedOffset
    }
}

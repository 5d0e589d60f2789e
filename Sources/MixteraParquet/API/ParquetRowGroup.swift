/// Footer metadata of one column chunk.
public struct ParquetColumnChunkInfo: Sendable, Hashable {
    public var columnIndex: Int
    public var physicalType: ParquetPhysicalType
    public var compression: ParquetCompression
    /// Raw codec number (kept so an unknown codec can be reported).
    public var codecNumber: Int32
    public var encodings: [Int32]
    /// Values (including nulls) in the chunk.
    public var valueCount: Int64
    public var totalCompressedByteCount: Int64
    public var totalUncompressedByteCount: Int64
    public var dataPageOffset: Int64
    public var dictionaryPageOffset: Int64?
    public var offsetIndexOffset: Int64?
    public var offsetIndexByteCount: Int32?
    public var nullCount: Int64?

    /// File offset of the first page (dictionary page if any).
    public var startOffset: Int64 {
        if let d = dictionaryPageOffset, d > 0, d < dataPageOffset { return d }
        return dataPageOffset
    }
}

/// Footer metadata of one row group.
public struct ParquetRowGroupInfo: Sendable, Hashable {
    public var index: Int
    public var rowCount: Int64
    /// Index of this row group's first row in the file.
    public var firstRowIndex: Int64
    public var totalByteCount: Int64
    public var columns: [ParquetColumnChunkInfo]
}

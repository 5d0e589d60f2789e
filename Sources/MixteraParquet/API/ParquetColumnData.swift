/// Byte-array values stored contiguously: value `i` is `bytes[offsets[i]..<offsets[i + 1]]`.
public struct ParquetByteArrays: Sendable {
    public var bytes: [UInt8]
    /// `count + 1` offsets into `bytes`, starting at 0.
    public var offsets: [Int]

    public var count: Int { offsets.count - 1 }
    public subscript(i: Int) -> ArraySlice<UInt8> { bytes[offsets[i]..<offsets[i + 1]] }
    public func byteCount(at i: Int) -> Int { offsets[i + 1] - offsets[i] }
}

/// The non-null values of a leaf column, typed by physical type.
///
/// INT96 and FIXED_LEN_BYTE_ARRAY values are ``bytes(_:)`` of fixed width.
public enum ParquetValues: Sendable {
    case boolean([Bool])
    case int32([Int32])
    case int64([Int64])
    case float([Float])
    case double([Double])
    case bytes(ParquetByteArrays)

    public var count: Int {
        switch self {
        case .boolean(let v): v.count
        case .int32(let v): v.count
        case .int64(let v): v.count
        case .float(let v): v.count
        case .double(let v): v.count
        case .bytes(let v): v.count
        }
    }
}

/// One leaf column's decoded data over a run of rows: Dremel levels plus the non-null values.
///
/// Entry `k` has definition level `definitionLevels[k]` (all `maxDefinitionLevel` when the array is empty) and
/// repetition level `repetitionLevels[k]` (all 0 when empty). Entry `k` carries a value iff its definition level
/// equals the column's maximum; values appear in entry order. A row starts at every entry with repetition level 0.
public struct ParquetColumnData: Sendable {
    public var column: ParquetColumnDescriptor
    public var definitionLevels: [Int16]
    public var repetitionLevels: [Int16]
    public var values: ParquetValues
    /// Number of entries (levels), including nulls and empty lists.
    public var entryCount: Int
    public var rowCount: Int

    /// Entry index where each row starts, plus a final `entryCount`.
    public func rowStarts() -> [Int] {
        if repetitionLevels.isEmpty { return Array(0...entryCount) }
        var starts: [Int] = []
        starts.reserveCapacity(rowCount + 1)
        for (k, r) in repetitionLevels.enumerated() where r == 0 { starts.append(k) }
        starts.append(entryCount)
        return starts
    }

    /// Per row, the total byte length of the row's non-null byte-array values (a text column's UTF-8 length),
    /// or nil when the row has no value at all (null, or an empty or null list). Strings are not materialised.
    ///
    /// - Returns: nil for non-byte-array columns.
    /// - Complexity: O(entries).
    public func byteCountsPerRow() -> [Int?]? {
        guard case .bytes(let b) = values else { return nil }
        let maxDef = Int16(column.maxDefinitionLevel)
        var out: [Int?] = []
        out.reserveCapacity(rowCount)
        var v = 0
        if repetitionLevels.isEmpty && definitionLevels.isEmpty {
            for i in 0..<b.count { out.append(b.byteCount(at: i)) }
            return out
        }
        var current: Int? = nil
        for k in 0..<entryCount {
            if k > 0 && (repetitionLevels.isEmpty || repetitionLevels[k] == 0) {
                out.append(current)
                current = nil
            }
            let d = definitionLevels.isEmpty ? maxDef : definitionLevels[k]
            if d == maxDef {
                current = (current ?? 0) + b.byteCount(at: v)
                v += 1
            }
        }
        if entryCount > 0 { out.append(current) }
        return out
    }
}

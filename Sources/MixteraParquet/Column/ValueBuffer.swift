/// Decoded non-null leaf values of one physical type, appended page by page.
///
/// BYTE_ARRAY, FIXED_LEN_BYTE_ARRAY and INT96 values live in one contiguous `bytes` buffer with `offsets`
/// (`offsets.count == count + 1`).
struct ValueBuffer: Sendable {
    let physicalType: ParquetPhysicalType
    /// Byte width of FIXED_LEN_BYTE_ARRAY (and 12 for INT96); 0 otherwise.
    let fixedWidth: Int
    var bools: [Bool] = []
    var int32s: [Int32] = []
    var int64s: [Int64] = []
    var floats: [Float] = []
    var doubles: [Double] = []
    var bytes: [UInt8] = []
    var offsets: [Int] = [0]

    init(physicalType: ParquetPhysicalType, fixedWidth: Int) {
        self.physicalType = physicalType
        self.fixedWidth = physicalType == .int96 ? 12 : fixedWidth
    }

    var count: Int {
        switch physicalType {
        case .boolean: bools.count
        case .int32: int32s.count
        case .int64: int64s.count
        case .float: floats.count
        case .double: doubles.count
        case .byteArray, .fixedLenByteArray, .int96: offsets.count - 1
        }
    }

    /// Bytes per value for the fixed-width types (BYTE_STREAM_SPLIT, PLAIN sizing); nil for BYTE_ARRAY and BOOLEAN.
    var valueByteWidth: Int? {
        switch physicalType {
        case .int32, .float: 4
        case .int64, .double: 8
        case .int96, .fixedLenByteArray: fixedWidth
        case .boolean, .byteArray: nil
        }
    }

    mutating func reserve(_ n: Int) {
        switch physicalType {
        case .boolean: bools.reserveCapacity(bools.count + n)
        case .int32: int32s.reserveCapacity(int32s.count + n)
        case .int64: int64s.reserveCapacity(int64s.count + n)
        case .float: floats.reserveCapacity(floats.count + n)
        case .double: doubles.reserveCapacity(doubles.count + n)
        case .byteArray, .fixedLenByteArray, .int96: offsets.reserveCapacity(offsets.count + n)
        }
    }

    @inline(__always)
    mutating func appendBytes(_ p: UnsafeRawBufferPointer) {
        bytes.append(contentsOf: p)
        offsets.append(bytes.count)
    }

    /// Appends one fixed-width little-endian value from raw bytes (PLAIN / BYTE_STREAM_SPLIT results).
    @inline(__always)
    mutating func appendFixed(_ p: UnsafeRawBufferPointer, at offset: Int) {
        switch physicalType {
        case .int32: int32s.append(Int32(littleEndian: p.loadUnaligned(fromByteOffset: offset, as: Int32.self)))
        case .int64: int64s.append(Int64(littleEndian: p.loadUnaligned(fromByteOffset: offset, as: Int64.self)))
        case .float:
            floats.append(Float(bitPattern: UInt32(littleEndian: p.loadUnaligned(fromByteOffset: offset, as: UInt32.self))))
        case .double:
            doubles.append(
                Double(bitPattern: UInt64(littleEndian: p.loadUnaligned(fromByteOffset: offset, as: UInt64.self))))
        case .int96, .fixedLenByteArray:
            appendBytes(UnsafeRawBufferPointer(rebasing: p[offset..<offset + fixedWidth]))
        case .boolean, .byteArray:
            assertionFailure("appendFixed on a variable-width type")
        }
    }

    /// Appends `dictionary[i]` for each index, checking every index.
    mutating func appendGathered(from dictionary: ValueBuffer, indices: [UInt32]) throws(ParquetError) {
        let n = UInt32(truncatingIfNeeded: dictionary.count)
        for i in indices where i >= n {
            throw corruptPage("dictionary index \(i) is out of range for a dictionary of \(n) values")
        }
        switch physicalType {
        case .boolean: for i in indices { bools.append(dictionary.bools[Int(i)]) }
        case .int32: for i in indices { int32s.append(dictionary.int32s[Int(i)]) }
        case .int64: for i in indices { int64s.append(dictionary.int64s[Int(i)]) }
        case .float: for i in indices { floats.append(dictionary.floats[Int(i)]) }
        case .double: for i in indices { doubles.append(dictionary.doubles[Int(i)]) }
        case .byteArray, .fixedLenByteArray, .int96:
            var total = 0
            for i in indices { total += dictionary.offsets[Int(i) + 1] - dictionary.offsets[Int(i)] }
            bytes.reserveCapacity(bytes.count + total)
            offsets.reserveCapacity(offsets.count + indices.count)
            dictionary.bytes.withUnsafeBytes { d in
                for i in indices {
                    let s = dictionary.offsets[Int(i)]
                    let e = dictionary.offsets[Int(i) + 1]
                    bytes.append(contentsOf: UnsafeRawBufferPointer(rebasing: d[s..<e]))
                    offsets.append(bytes.count)
                }
            }
        }
    }
}

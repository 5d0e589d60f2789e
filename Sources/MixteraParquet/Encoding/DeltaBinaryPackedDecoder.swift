/// Decodes DELTA_BINARY_PACKED integers.
///
/// ```
/// header := block size (ULEB128), miniblocks per block (ULEB128), total count (ULEB128), first value (zigzag)
/// block  := min delta (zigzag), one bit-width byte per miniblock, miniblocks (bit-packed deltas - min delta)
/// ```
/// Arithmetic wraps (two's complement), as the spec requires for INT32 and INT64.
struct DeltaBinaryPackedDecoder {
    /// Decodes the whole stream starting at `start`; returns the values and the position after the stream.
    /// - Parameter maxCount: the most values the caller can accept (guards a hostile total count).
    static func decode(
        _ data: UnsafeRawBufferPointer, from start: Int, maxCount: Int
    ) throws(ParquetError) -> (values: [Int64], end: Int) {
        var c = ByteCursor(data, from: start)
        let blockSize = try c.readVarint()
        let miniblocks = try c.readVarint()
        let total = try c.readVarint()
        let first = try c.readZigZag()
        guard blockSize > 0, blockSize % 128 == 0, blockSize <= 1 << 20, miniblocks > 0, blockSize % miniblocks == 0,
            (blockSize / miniblocks) % 8 == 0
        else {
            throw corruptPage("DELTA_BINARY_PACKED header has block size \(blockSize) and \(miniblocks) miniblocks")
        }
        guard total <= UInt64(maxCount) else {
            throw ParquetError(
                .valueCountMismatch, "DELTA_BINARY_PACKED stream holds \(total) values but the page has at most \(maxCount)")
        }
        let count = Int(total)
        let perMiniblock = Int(blockSize / miniblocks)
        let miniblockCount = Int(miniblocks)
        var values: [Int64] = []
        values.reserveCapacity(count)
        if count == 0 { return (values, c.position) }
        values.append(first)
        var last = first
        var widths = [Int](repeating: 0, count: miniblockCount)
        while values.count < count {
            let minDelta = try c.readZigZag()
            guard c.remaining >= miniblockCount else {
                throw truncated("delta block bit widths", need: miniblockCount, have: c.remaining)
            }
            for i in 0..<miniblockCount { widths[i] = Int(c.data[c.position + i]) }
            c.position += miniblockCount
            for m in 0..<miniblockCount where values.count < count {
                let width = widths[m]
                guard width <= 64 else { throw corruptPage("delta miniblock bit width \(width) is over 64") }
                let bytes = perMiniblock * width / 8
                let take = min(perMiniblock, count - values.count)
                let needed = (take * width + 7) / 8
                guard c.remaining >= needed else {
                    throw truncated("delta miniblock", need: needed, have: c.remaining)
                }
                var bits = BitReader(c.data, from: c.position, to: c.end)
                for _ in 0..<take {
                    let delta = Int64(bitPattern: bits.read(width))
                    last = last &+ minDelta &+ delta
                    values.append(last)
                }
                c.position += min(bytes, c.remaining)
            }
        }
        return (values, c.position)
    }

    /// Appends decoded integers to an INT32 or INT64 buffer.
    static func decode(
        _ data: UnsafeRawBufferPointer, from start: Int, count: Int, into out: inout ValueBuffer
    ) throws(ParquetError) {
        let (values, _) = try decode(data, from: start, maxCount: count)
        guard values.count == count else {
            throw ParquetError(
                .valueCountMismatch, "DELTA_BINARY_PACKED stream holds \(values.count) values but the page needs \(count)")
        }
        switch out.physicalType {
        case .int32: out.int32s.append(contentsOf: values.lazy.map { Int32(truncatingIfNeeded: $0) })
        case .int64: out.int64s.append(contentsOf: values)
        default:
            throw ParquetError(.unsupportedEncoding, "DELTA_BINARY_PACKED is not valid for \(out.physicalType) columns")
        }
    }
}

/// Decodes DELTA_LENGTH_BYTE_ARRAY: delta-packed lengths, then the concatenated bytes.
enum DeltaLengthByteArrayDecoder {
    static func decodeLengthsAndData(
        _ data: UnsafeRawBufferPointer, from start: Int, count: Int
    ) throws(ParquetError) -> (lengths: [Int64], dataStart: Int) {
        let (lengths, end) = try DeltaBinaryPackedDecoder.decode(data, from: start, maxCount: count)
        guard lengths.count == count else {
            throw ParquetError(
                .valueCountMismatch, "byte array length stream holds \(lengths.count) values but the page needs \(count)")
        }
        return (lengths, end)
    }

    @discardableResult
    static func decode(
        _ data: UnsafeRawBufferPointer, from start: Int, count: Int, into out: inout ValueBuffer
    ) throws(ParquetError) -> Int {
        guard out.physicalType == .byteArray else {
            throw ParquetError(.unsupportedEncoding, "DELTA_LENGTH_BYTE_ARRAY is not valid for \(out.physicalType) columns")
        }
        let (lengths, dataStart) = try decodeLengthsAndData(data, from: start, count: count)
        var pos = dataStart
        out.reserve(count)
        for (i, l) in lengths.enumerated() {
            guard l >= 0, l <= Int64(data.count - pos) else {
                throw truncated("byte array \(i) of length \(l)", need: Int(clamping: l), have: data.count - pos)
            }
            let n = Int(l)
            out.appendBytes(UnsafeRawBufferPointer(rebasing: data[pos..<pos + n]))
            pos += n
        }
        return pos
    }
}

/// Decodes DELTA_BYTE_ARRAY (incremental / front coding): delta-packed prefix lengths, then suffixes as
/// DELTA_LENGTH_BYTE_ARRAY. Each value is the previous value's first `prefix` bytes plus its suffix.
enum DeltaByteArrayDecoder {
    static func decode(
        _ data: UnsafeRawBufferPointer, from start: Int, count: Int, into out: inout ValueBuffer
    ) throws(ParquetError) {
        guard out.physicalType == .byteArray || out.physicalType == .fixedLenByteArray else {
            throw ParquetError(.unsupportedEncoding, "DELTA_BYTE_ARRAY is not valid for \(out.physicalType) columns")
        }
        let (prefixes, suffixStart) = try DeltaBinaryPackedDecoder.decode(data, from: start, maxCount: count)
        guard prefixes.count == count else {
            throw ParquetError(
                .valueCountMismatch, "prefix length stream holds \(prefixes.count) values but the page needs \(count)")
        }
        let (lengths, dataStart) = try DeltaLengthByteArrayDecoder.decodeLengthsAndData(data, from: suffixStart, count: count)
        var pos = dataStart
        var previous: [UInt8] = []
        var current: [UInt8] = []
        out.reserve(count)
        for i in 0..<count {
            let p = prefixes[i]
            let l = lengths[i]
            guard p >= 0, p <= Int64(previous.count) else {
                throw corruptPage("DELTA_BYTE_ARRAY prefix length \(p) exceeds the previous value's \(previous.count) bytes")
            }
            guard l >= 0, l <= Int64(data.count - pos) else {
                throw truncated("suffix \(i) of length \(l)", need: Int(clamping: l), have: data.count - pos)
            }
            current.removeAll(keepingCapacity: true)
            current.append(contentsOf: previous[0..<Int(p)])
            current.append(contentsOf: UnsafeRawBufferPointer(rebasing: data[pos..<pos + Int(l)]))
            pos += Int(l)
            if out.physicalType == .fixedLenByteArray && current.count != out.fixedWidth {
                throw corruptPage("DELTA_BYTE_ARRAY value \(i) has \(current.count) bytes, not the column's \(out.fixedWidth)")
            }
            current.withUnsafeBytes { out.appendBytes($0) }
            swap(&previous, &current)
        }
    }
}

/// Decodes the RLE / bit-packing hybrid (levels, dictionary indices, RLE booleans).
///
/// ```
/// run := header (ULEB128) body
///   header & 1 == 0: RLE run of (header >> 1) copies of one value in ceil(bitWidth / 8) LE bytes
///   header & 1 == 1: (header >> 1) groups of 8 values, bit-packed LSB first, bitWidth bytes per group
/// ```
struct RLEBitPackedDecoder {
    private var cursor: ByteCursor
    let bitWidth: Int

    /// - Parameters: `data[start..<end]` holds the runs (no length prefix).
    init(_ data: UnsafeRawBufferPointer, from start: Int, to end: Int, bitWidth: Int) throws(ParquetError) {
        guard bitWidth >= 0 && bitWidth <= 32 else {
            throw corruptPage("rle bit width \(bitWidth) is over 32")
        }
        cursor = ByteCursor(data, from: start, to: end)
        self.bitWidth = bitWidth
    }

    var position: Int { cursor.position }

    /// Decodes exactly `count` values, appending them to `out`.
    mutating func decode<T: FixedWidthInteger>(_ count: Int, into out: inout [T]) throws(ParquetError) {
        out.reserveCapacity(out.count + count)
        var left = count
        let byteWidth = (bitWidth + 7) / 8
        let maxValue: UInt64 = bitWidth == 0 ? 0 : (1 &<< UInt64(bitWidth)) &- 1
        while left > 0 {
            guard cursor.remaining > 0 else {
                throw corruptPage("rle data ends with \(left) of \(count) values still to decode")
            }
            let header = try cursor.readVarint()
            if header & 1 == 0 {
                let run = header >> 1
                guard cursor.remaining >= byteWidth else {
                    throw truncated("rle run value", need: byteWidth, have: cursor.remaining)
                }
                var v: UInt64 = 0
                for i in 0..<byteWidth { v |= UInt64(cursor.data[cursor.position + i]) << (8 * UInt64(i)) }
                cursor.position += byteWidth
                guard v <= maxValue, let value = T(exactly: v) else {
                    throw corruptPage("rle run value \(v) does not fit in \(bitWidth) bits")
                }
                if run == 0 { continue }
                let n = Int(min(run, UInt64(left)))
                out.append(contentsOf: repeatElement(value, count: n))
                left -= n
            } else {
                let groups = header >> 1
                guard groups <= UInt64(Int.max / 8) else { throw corruptPage("bit-packed run of \(groups) groups is too long") }
                let values = Int(groups) * 8
                let (product, overflow) = Int(groups).multipliedReportingOverflow(by: bitWidth)
                let runBytes = overflow ? Int.max : product
                let take = min(values, left)
                // Writers may omit the padding of the last group; only the bytes holding used values must exist.
                let needed = (take * bitWidth + 7) / 8
                guard cursor.remaining >= needed else {
                    throw truncated("bit-packed run", need: needed, have: cursor.remaining)
                }
                var bits = BitReader(cursor.data, from: cursor.position, to: cursor.end)
                for _ in 0..<take {
                    out.append(T(truncatingIfNeeded: bits.read32(bitWidth)))
                }
                cursor.position += min(runBytes, cursor.remaining)
                left -= take
            }
        }
    }
}

/// Decodes the deprecated BIT_PACKED level encoding: MSB-first packing, no header.
enum LegacyBitPackedDecoder {
    static func decode(
        _ data: UnsafeRawBufferPointer, from start: Int, count: Int, bitWidth: Int, into out: inout [Int16]
    ) throws(ParquetError) -> Int {
        let byteCount = (count * bitWidth + 7) / 8
        guard data.count - start >= byteCount else {
            throw truncated("bit-packed levels", need: byteCount, have: data.count - start)
        }
        var bit = 0
        for _ in 0..<count {
            var v = 0
            for _ in 0..<bitWidth {
                let byte = data[start + bit / 8]
                v = (v << 1) | Int((byte >> (7 - UInt8(bit % 8))) & 1)
                bit += 1
            }
            out.append(Int16(truncatingIfNeeded: v))
        }
        return byteCount
    }
}

/// Decodes PLAIN values: fixed-width little-endian numbers, bit-packed booleans, length-prefixed byte arrays.
enum PlainDecoder {
    /// Appends `count` values from `data[start...]`; returns the bytes consumed.
    @discardableResult
    static func decode(
        _ data: UnsafeRawBufferPointer, from start: Int, count: Int, into out: inout ValueBuffer
    ) throws(ParquetError) -> Int {
        let available = data.count - start
        switch out.physicalType {
        case .boolean:
            let need = (count + 7) / 8
            guard available >= need else { throw truncated("\(count) PLAIN booleans", need: need, have: available) }
            out.bools.reserveCapacity(out.bools.count + count)
            for i in 0..<count { out.bools.append((data[start + i >> 3] >> UInt8(i & 7)) & 1 == 1) }
            return need
        case .byteArray:
            var pos = start
            out.offsets.reserveCapacity(out.offsets.count + count)
            for i in 0..<count {
                guard data.count - pos >= 4 else {
                    throw truncated("PLAIN byte array \(i) length", need: 4, have: data.count - pos)
                }
                let n = Int(UInt32(littleEndian: data.loadUnaligned(fromByteOffset: pos, as: UInt32.self)))
                pos += 4
                guard data.count - pos >= n else {
                    throw truncated("PLAIN byte array \(i)", need: n, have: data.count - pos)
                }
                out.appendBytes(UnsafeRawBufferPointer(rebasing: data[pos..<pos + n]))
                pos += n
            }
            return pos - start
        case .int32, .int64, .float, .double, .int96, .fixedLenByteArray:
            let width = out.valueByteWidth ?? 0
            let (need, overflow) = count.multipliedReportingOverflow(by: width)
            guard !overflow, available >= need else {
                throw truncated("\(count) PLAIN values of \(width) bytes", need: overflow ? Int.max : need, have: available)
            }
            out.reserve(count)
            if out.physicalType == .int96 || out.physicalType == .fixedLenByteArray {
                out.bytes.append(contentsOf: UnsafeRawBufferPointer(rebasing: data[start..<start + need]))
                var o = out.offsets[out.offsets.count - 1]
                for _ in 0..<count {
                    o += width
                    out.offsets.append(o)
                }
            } else {
                for i in 0..<count { out.appendFixed(data, at: start + i * width) }
            }
            return need
        }
    }
}

/// Decodes RLE_DICTIONARY / PLAIN_DICTIONARY data pages: one bit-width byte, then RLE/bit-packed indices.
enum DictionaryDecoder {
    static func decode(
        _ data: UnsafeRawBufferPointer, from start: Int, count: Int, dictionary: ValueBuffer, into out: inout ValueBuffer
    ) throws(ParquetError) {
        if count == 0 { return }
        guard start < data.count else { throw truncated("dictionary index bit width", need: 1, have: 0) }
        let width = Int(data[start])
        var rle = try RLEBitPackedDecoder(data, from: start + 1, to: data.count, bitWidth: width)
        var indices: [UInt32] = []
        try rle.decode(count, into: &indices)
        try out.appendGathered(from: dictionary, indices: indices)
    }
}

/// Decodes BYTE_STREAM_SPLIT: the K bytes of each value are scattered over K streams.
enum ByteStreamSplitDecoder {
    static func decode(
        _ data: UnsafeRawBufferPointer, from start: Int, count: Int, into out: inout ValueBuffer
    ) throws(ParquetError) {
        guard let width = out.valueByteWidth, width > 0 else {
            throw ParquetError(.unsupportedEncoding, "BYTE_STREAM_SPLIT is not valid for \(out.physicalType) columns")
        }
        let available = data.count - start
        let (need, overflow) = count.multipliedReportingOverflow(by: width)
        guard !overflow, available >= need else {
            throw truncated("\(count) BYTE_STREAM_SPLIT values", need: overflow ? Int.max : need, have: available)
        }
        // Every stream holds exactly the page's value count; extra bytes mean a mismatch.
        guard available == need else {
            throw ParquetError(
                .valueCountMismatch, "BYTE_STREAM_SPLIT data holds \(available) bytes but \(count) values need \(need)")
        }
        var scratch = [UInt8](repeating: 0, count: width)
        out.reserve(count)
        scratch.withUnsafeMutableBytes { s in
            for i in 0..<count {
                for k in 0..<width { s[k] = data[start + k * count + i] }
                out.appendFixed(UnsafeRawBufferPointer(s), at: 0)
            }
        }
    }
}

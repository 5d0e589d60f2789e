/// Reads little-endian, LSB-first bit-packed values (as in the RLE/bit-packed hybrid and delta miniblocks).
struct BitReader {
    let data: UnsafeRawBufferPointer
    private(set) var bytePosition: Int
    private let end: Int
    private var accumulator: UInt64 = 0
    private var bitCount = 0

    init(_ data: UnsafeRawBufferPointer, from start: Int, to end: Int) {
        self.data = data
        self.bytePosition = start
        self.end = min(end, data.count)
    }

    /// Reads `width` (0...32) bits; missing bytes past the end read as zero (callers check lengths first).
    @inline(__always)
    mutating func read32(_ width: Int) -> UInt64 {
        if width == 0 { return 0 }
        while bitCount < width {
            let b: UInt64 = bytePosition < end ? UInt64(data[bytePosition]) : 0
            bytePosition += 1
            accumulator |= b &<< UInt64(bitCount)
            bitCount += 8
        }
        let v = accumulator & ((1 &<< UInt64(width)) &- 1)
        accumulator = accumulator &>> UInt64(width)
        bitCount -= width
        return v
    }

    /// Reads `width` (0...64) bits.
    @inline(__always)
    mutating func read(_ width: Int) -> UInt64 {
        if width <= 32 { return read32(width) }
        let lo = read32(32)
        let hi = read32(width - 32)
        return lo | (hi &<< 32)
    }
}

/// Reads ULEB128 varints and zigzag integers from a raw buffer, at most 10 bytes each.
struct ByteCursor {
    let data: UnsafeRawBufferPointer
    var position: Int
    let end: Int

    init(_ data: UnsafeRawBufferPointer, from start: Int = 0, to end: Int? = nil) {
        self.data = data
        self.position = start
        self.end = min(end ?? data.count, data.count)
    }

    var remaining: Int { end - position }

    mutating func readVarint() throws(ParquetError) -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard position < end else { throw truncated("varint", need: 1, have: 0) }
            let b = data[position]
            position += 1
            if shift == 63 && b > 1 { throw corruptPage("varint overflows 64 bits") }
            result |= UInt64(b & 0x7F) &<< shift
            if b & 0x80 == 0 { return result }
            shift += 7
            if shift > 63 { throw corruptPage("varint longer than 10 bytes") }
        }
    }

    mutating func readZigZag() throws(ParquetError) -> Int64 {
        let v = try readVarint()
        return Int64(bitPattern: (v &>> 1) ^ (0 &- (v & 1)))
    }

    mutating func readByte() throws(ParquetError) -> UInt8 {
        guard position < end else { throw truncated("byte", need: 1, have: 0) }
        defer { position += 1 }
        return data[position]
    }

    mutating func readUInt32LE() throws(ParquetError) -> UInt32 {
        guard remaining >= 4 else { throw truncated("length prefix", need: 4, have: remaining) }
        defer { position += 4 }
        return UInt32(littleEndian: data.loadUnaligned(fromByteOffset: position, as: UInt32.self))
    }
}

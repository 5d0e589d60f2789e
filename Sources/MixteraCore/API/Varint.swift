/// A growable byte buffer with little-endian and LEB128 varint writers.
public struct ByteWriter: Sendable {
    public var bytes: [UInt8]

    public init(capacity: Int = 0) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    @inlinable public var count: Int { bytes.count }

    @inlinable public mutating func writeVarint(_ value: UInt64) {
        var v = value
        while v >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(truncatingIfNeeded: v))
    }

    @inlinable public mutating func writeVarint(_ value: Int) { writeVarint(UInt64(value)) }

    /// Zigzag-encodes a signed value, then writes it as a varint.
    @inlinable public mutating func writeSignedVarint(_ value: Int64) {
        writeVarint(UInt64(bitPattern: (value &<< 1) ^ (value >> 63)))
    }

    @inlinable public mutating func writeUInt8(_ v: UInt8) { bytes.append(v) }

    @inlinable public mutating func writeUInt16LE(_ v: UInt16) {
        bytes.append(UInt8(truncatingIfNeeded: v))
        bytes.append(UInt8(truncatingIfNeeded: v >> 8))
    }

    @inlinable public mutating func writeUInt32LE(_ v: UInt32) {
        for i in 0..<4 { bytes.append(UInt8(truncatingIfNeeded: v >> (8 * UInt32(i)))) }
    }

    @inlinable public mutating func writeUInt64LE(_ v: UInt64) {
        for i in 0..<8 { bytes.append(UInt8(truncatingIfNeeded: v >> (8 * UInt64(i)))) }
    }

    @inlinable public mutating func write(_ other: some Sequence<UInt8>) { bytes.append(contentsOf: other) }
}

/// Why a `ByteReader` read failed.
public enum ByteReaderError: Error, Sendable, Equatable {
    case truncated(offset: Int)
    case varintTooLong(offset: Int)
}

/// A cursor over a byte array. `read…` advances; every read checks bounds.
public struct ByteReader: Sendable {
    public let bytes: [UInt8]
    public private(set) var offset: Int

    public init(_ bytes: [UInt8], offset: Int = 0) {
        self.bytes = bytes
        self.offset = offset
    }

    @inlinable public var remaining: Int { bytes.count - offset }
    @inlinable public var isAtEnd: Bool { offset >= bytes.count }

    public mutating func readVarint() throws(ByteReaderError) -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        let start = offset
        while true {
            guard offset < bytes.count else { throw .truncated(offset: start) }
            let b = bytes[offset]
            offset += 1
            if shift == 63 && b > 1 { throw .varintTooLong(offset: start) }
            result |= UInt64(b & 0x7F) << shift
            if b < 0x80 { return result }
            shift += 7
            if shift > 63 { throw .varintTooLong(offset: start) }
        }
    }

    public mutating func readSignedVarint() throws(ByteReaderError) -> Int64 {
        let u = try readVarint()
        return Int64(bitPattern: u >> 1) ^ -Int64(bitPattern: u & 1)
    }

    public mutating func readUInt8() throws(ByteReaderError) -> UInt8 {
        guard offset < bytes.count else { throw .truncated(offset: offset) }
        defer { offset += 1 }
        return bytes[offset]
    }

    public mutating func readUInt16LE() throws(ByteReaderError) -> UInt16 {
        UInt16(truncatingIfNeeded: try readLE(2))
    }

    public mutating func readUInt32LE() throws(ByteReaderError) -> UInt32 {
        UInt32(truncatingIfNeeded: try readLE(4))
    }

    public mutating func readUInt64LE() throws(ByteReaderError) -> UInt64 { try readLE(8) }

    private mutating func readLE(_ n: Int) throws(ByteReaderError) -> UInt64 {
        guard remaining >= n else { throw .truncated(offset: offset) }
        var v: UInt64 = 0
        for i in 0..<n { v |= UInt64(bytes[offset + i]) << (8 * UInt64(i)) }
        offset += n
        return v
    }

    public mutating func readBytes(_ n: Int) throws(ByteReaderError) -> ArraySlice<UInt8> {
        guard n >= 0, remaining >= n else { throw .truncated(offset: offset) }
        defer { offset += n }
        return bytes[offset..<(offset + n)]
    }
}

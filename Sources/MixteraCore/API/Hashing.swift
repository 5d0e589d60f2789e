import CXXHash

/// XXH3-64 (xxhash 0.8, seed 0): content fingerprints of data files, checksums of catalog blobs and
/// manifest blocks. Rendered as 16 lowercase hex digits.
public enum XXH3 {
    @inlinable public static func hash(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        XXH3_64bits(bytes.baseAddress, bytes.count)
    }

    public static func hash(_ bytes: [UInt8]) -> UInt64 {
        bytes.withUnsafeBytes { XXH3_64bits($0.baseAddress, $0.count) }
    }

    public static func hex(_ value: UInt64) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8](repeating: 0, count: 16)
        for i in 0..<16 { out[15 - i] = digits[Int((value >> (4 * UInt64(i))) & 0xF)] }
        return String(decoding: out, as: UTF8.self)
    }

    public static func parseHex(_ s: String) -> UInt64? {
        guard s.utf8.count == 16 else { return nil }
        return UInt64(s, radix: 16)
    }
}

/// Streaming XXH3-64 over many updates.
public final class XXH3Stream {
    private let state: OpaquePointer

    public init() {
        state = XXH3_createState()
        XXH3_64bits_reset(state)
    }

    deinit { XXH3_freeState(state) }

    public func update(_ bytes: UnsafeRawBufferPointer) {
        XXH3_64bits_update(state, bytes.baseAddress, bytes.count)
    }

    public func digest() -> UInt64 { XXH3_64bits_digest(state) }
}

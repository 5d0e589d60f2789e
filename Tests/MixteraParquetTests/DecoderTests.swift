import Testing

@testable import MixteraParquet

/// Test-only encoders for round trips.
enum TestEncoders {
    static func uleb(_ v: UInt64) -> [UInt8] {
        var v = v
        var out: [UInt8] = []
        repeat {
            var b = UInt8(v & 0x7F)
            v >>= 7
            if v != 0 { b |= 0x80 }
            out.append(b)
        } while v != 0
        return out
    }

    static func zigzag(_ v: Int64) -> [UInt8] { uleb(UInt64(bitPattern: (v << 1) ^ (v >> 63))) }

    /// LSB-first bit packing.
    static func pack(_ values: [UInt64], width: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: (values.count * width + 7) / 8)
        var bit = 0
        for v in values {
            for k in 0..<width {
                if (v >> UInt64(k)) & 1 == 1 { out[bit / 8] |= 1 << UInt8(bit % 8) }
                bit += 1
            }
        }
        return out
    }

    /// RLE/bit-packed hybrid: runs of >= 8 equal values as RLE, the rest bit-packed in groups of 8.
    static func hybrid(_ values: [UInt32], width: Int) -> [UInt8] {
        var out: [UInt8] = []
        var i = 0
        var pending: [UInt64] = []
        func flush() {
            guard !pending.isEmpty else { return }
            while pending.count % 8 != 0 { pending.append(0) }
            out += uleb(UInt64(pending.count / 8) << 1 | 1)
            out += pack(pending, width: width)
            pending = []
        }
        while i < values.count {
            var j = i
            while j < values.count && values[j] == values[i] { j += 1 }
            if j - i >= 8 && pending.count % 8 == 0 {
                flush()
                out += uleb(UInt64(j - i) << 1)
                let byteWidth = (width + 7) / 8
                for k in 0..<byteWidth { out.append(UInt8((values[i] >> (8 * UInt32(k))) & 0xFF)) }
                i = j
            } else {
                pending.append(UInt64(values[i]))
                i += 1
            }
        }
        flush()
        return out
    }

    static func deltaBinaryPacked(_ values: [Int64], blockSize: Int = 128, miniblocks: Int = 4) -> [UInt8] {
        var out = uleb(UInt64(blockSize)) + uleb(UInt64(miniblocks)) + uleb(UInt64(values.count))
        out += zigzag(values.first ?? 0)
        guard values.count > 1 else { return out }
        var deltas: [Int64] = []
        for i in 1..<values.count { deltas.append(values[i] &- values[i - 1]) }
        let per = blockSize / miniblocks
        var start = 0
        while start < deltas.count {
            let block = Array(deltas[start..<min(start + blockSize, deltas.count)])
            let minDelta = block.min() ?? 0
            out += zigzag(minDelta)
            var widths: [UInt8] = []
            var bodies: [UInt8] = []
            for m in 0..<miniblocks {
                let lo = m * per
                if lo >= block.count {
                    widths.append(0)
                    continue
                }
                var mb = block[lo..<min(lo + per, block.count)].map { UInt64(bitPattern: $0 &- minDelta) }
                let maxV = mb.max() ?? 0
                let w = maxV == 0 ? 0 : 64 - maxV.leadingZeroBitCount
                while mb.count < per { mb.append(0) }
                widths.append(UInt8(w))
                bodies += pack(mb, width: w)
            }
            out += widths + bodies
            start += blockSize
        }
        return out
    }
}

@Suite struct RLEBitPackedDecoderTests {
    static let widths = [0, 1, 2, 3, 5, 8, 13, 17, 24, 32]

    @Test(arguments: widths)
    func roundTrip(width: Int) throws {
        var rng = SplitMixForTests(seed: UInt64(width) &* 7919)
        let mask: UInt64 = width == 0 ? 0 : (width == 64 ? ~0 : (1 << UInt64(width)) - 1)
        var values: [UInt32] = []
        for i in 0..<1000 {
            let run = i % 50 < 20  // long equal runs mixed with noise
            values.append(UInt32(truncatingIfNeeded: (run ? 3 : rng.next()) & mask))
        }
        let encoded = TestEncoders.hybrid(values, width: width)
        var decoded: [UInt32] = []
        try encoded.withUnsafeBytes { p in
            var d = try RLEBitPackedDecoder(p, from: 0, to: p.count, bitWidth: width)
            try d.decode(values.count, into: &decoded)
        }
        #expect(decoded == values)
    }

    @Test func truncatedRunThrows() throws {
        // Bit-packed run of 1 group, width 3, but only 1 of 3 bytes present.
        let bytes: [UInt8] = [0x03, 0xFF]
        let error = #expect(throws: ParquetError.self) {
            try bytes.withUnsafeBytes { p in
                var d = try RLEBitPackedDecoder(p, from: 0, to: p.count, bitWidth: 3)
                var out: [UInt32] = []
                try d.decode(8, into: &out)
            }
        }
        #expect(error?.code == .truncatedPage)
    }

    @Test func tooFewValuesThrows() throws {
        let bytes: [UInt8] = [0x04, 0x01]  // RLE run of 2 ones
        let error = #expect(throws: ParquetError.self) {
            try bytes.withUnsafeBytes { p in
                var d = try RLEBitPackedDecoder(p, from: 0, to: p.count, bitWidth: 1)
                var out: [UInt32] = []
                try d.decode(5, into: &out)
            }
        }
        #expect(error?.code == .corruptPage)
        #expect(error?.message == "rle data ends with 3 of 5 values still to decode")
    }

    @Test func legacyBitPackedIsMSBFirst() throws {
        // Values 0..7 at width 3, MSB first: 000 001 010 011 100 101 110 111
        let bytes: [UInt8] = [0b0000_0101, 0b0011_1001, 0b0111_0111]
        var out: [Int16] = []
        let used = try bytes.withUnsafeBytes { try LegacyBitPackedDecoder.decode($0, from: 0, count: 8, bitWidth: 3, into: &out) }
        #expect(used == 3)
        #expect(out == [0, 1, 2, 3, 4, 5, 6, 7])
    }
}

@Suite struct DeltaDecoderTests {
    static let inputs: [[Int64]] = [
        [],
        [42],
        [1, 2, 3, 4, 5],
        Array(0..<300).map { Int64($0 * $0) - 5000 },
        [Int64.min, Int64.max, 0, -1, 1, Int64.max, Int64.min],
        Array(repeating: 7, count: 129),
    ]

    @Test(arguments: inputs)
    func binaryPackedRoundTrip(_ values: [Int64]) throws {
        let encoded = TestEncoders.deltaBinaryPacked(values)
        let (decoded, end) = try encoded.withUnsafeBytes {
            try DeltaBinaryPackedDecoder.decode($0, from: 0, maxCount: values.count)
        }
        #expect(decoded == values)
        #expect(end == encoded.count)
    }

    @Test func hostileCountIsRejected() throws {
        // Claims 2^40 values with block size 128 / 4 miniblocks.
        let encoded = TestEncoders.uleb(128) + TestEncoders.uleb(4) + TestEncoders.uleb(1 << 40) + TestEncoders.zigzag(0)
        let error = #expect(throws: ParquetError.self) {
            _ = try encoded.withUnsafeBytes { try DeltaBinaryPackedDecoder.decode($0, from: 0, maxCount: 10) }
        }
        #expect(error?.code == .valueCountMismatch)
    }

    @Test func deltaLengthAndDeltaByteArray() throws {
        let strings = ["apple", "applesauce", "apply", "banana", "", "band"]
        // DELTA_LENGTH_BYTE_ARRAY
        var dlba = TestEncoders.deltaBinaryPacked(strings.map { Int64($0.utf8.count) })
        for s in strings { dlba += Array(s.utf8) }
        var out = ValueBuffer(physicalType: .byteArray, fixedWidth: 0)
        try dlba.withUnsafeBytes { _ = try DeltaLengthByteArrayDecoder.decode($0, from: 0, count: strings.count, into: &out) }
        #expect(
            (0..<out.count).map { String(decoding: out.bytes[out.offsets[$0]..<out.offsets[$0 + 1]], as: UTF8.self) } == strings)
        // DELTA_BYTE_ARRAY: prefix lengths then suffixes.
        var prefixes: [Int64] = []
        var suffixes: [String] = []
        var previous = ""
        for s in strings {
            let p = zip(previous.utf8, s.utf8).prefix(while: { $0 == $1 }).count
            prefixes.append(Int64(p))
            suffixes.append(String(decoding: Array(s.utf8)[p...], as: UTF8.self))
            previous = s
        }
        var dba = TestEncoders.deltaBinaryPacked(prefixes) + TestEncoders.deltaBinaryPacked(suffixes.map { Int64($0.utf8.count) })
        for s in suffixes { dba += Array(s.utf8) }
        var out2 = ValueBuffer(physicalType: .byteArray, fixedWidth: 0)
        try dba.withUnsafeBytes { try DeltaByteArrayDecoder.decode($0, from: 0, count: strings.count, into: &out2) }
        #expect(out2.bytes == out.bytes)
        #expect(out2.offsets == out.offsets)
    }

    @Test func byteStreamSplit() throws {
        let values: [Float] = [1.5, -2.25, 0, 1e10]
        let raw = values.flatMap { v in (0..<4).map { UInt8((v.bitPattern >> (8 * UInt32($0))) & 0xFF) } }
        var split = [UInt8](repeating: 0, count: raw.count)
        for i in 0..<values.count { for k in 0..<4 { split[k * values.count + i] = raw[i * 4 + k] } }
        var out = ValueBuffer(physicalType: .float, fixedWidth: 0)
        try split.withUnsafeBytes { try ByteStreamSplitDecoder.decode($0, from: 0, count: values.count, into: &out) }
        #expect(out.floats == values)
    }
}

@Suite struct ThriftCompactReaderTests {
    @Test func overlongVarintIsRejected() {
        // Field 1 (i64) with an 11-byte varint.
        let bytes: [UInt8] = [0x16] + Array(repeating: 0xFF, count: 10) + [0x01, 0x00]
        var r = ThriftCompactReader(bytes)
        #expect(throws: ThriftError.self) { _ = try r.readStruct() }
    }

    @Test func deepNestingIsRejected() {
        // Field 1 struct, nested 100 deep.
        let bytes = [UInt8](repeating: 0x1C, count: 100) + [UInt8](repeating: 0, count: 101)
        var r = ThriftCompactReader(bytes)
        let error = #expect(throws: ThriftError.self) { _ = try r.readStruct() }
        #expect(error?.message == "thrift nesting deeper than 64")
    }

    @Test func hugeListIsRejectedBeforeAllocating() {
        // Field 1 list<i32> claiming 2^32 elements.
        let bytes: [UInt8] = [0x19, 0xF5] + TestEncoders.uleb(1 << 32) + [0x00]
        var r = ThriftCompactReader(bytes)
        #expect(throws: ThriftError.self) { _ = try r.readStruct() }
    }

    @Test func fieldsAndDeltas() throws {
        // i32 field 1 = -3, binary field 4 = "ab", bool field 5 = true, i64 field 20 (long form) = 300.
        let bytes: [UInt8] = [0x15, 0x05, 0x38, 0x02, 0x61, 0x62, 0x11, 0x06, 0x28, 0xD8, 0x04, 0x00]
        var r = ThriftCompactReader(bytes)
        let s = try r.readStruct()
        #expect(s.int(1) == -3)
        #expect(s.string(4) == "ab")
        #expect(s.bool(5) == true)
        #expect(s.int(20) == 300)
    }
}

@Suite struct FormattingTests {
    @Test(arguments: [
        (Int64(12345), 2, "123.45"), (-5, 2, "-0.05"), (0, 3, "0.000"), (7, 0, "7"), (Int64.min, 4, "-922337203685477.5808"),
    ])
    func decimals(_ v: Int64, _ scale: Int, _ want: String) {
        #expect(DecimalFormatter.format(v, scale: scale) == want)
    }

    @Test func bigEndianDecimals() {
        #expect(DecimalFormatter.format(bigEndian: [0xFF, 0xFF, 0xFF, 0xFB][...], scale: 1) == "-0.5")
        #expect(DecimalFormatter.format(bigEndian: [0x01, 0x00][...], scale: 0) == "256")
        let big: [UInt8] = [0x7F] + Array(repeating: 0xFF, count: 15)  // 2^127 - 1
        #expect(DecimalFormatter.format(bigEndian: big[...], scale: 0) == "170141183460469231731687303715884105727")
    }

    @Test func dates() {
        #expect(ParquetDateTime.date(days: 0) == "1970-01-01")
        #expect(ParquetDateTime.date(days: -1) == "1969-12-31")
        #expect(ParquetDateTime.date(days: 19_723) == "2024-01-01")
        #expect(ParquetDateTime.timestamp(-1, unit: .millis, isAdjustedToUTC: true) == "1969-12-31T23:59:59.999Z")
        #expect(ParquetDateTime.time(3_723_000_001, unit: .micros) == "01:02:03.000001")
    }

    @Test func jsonEscapingAndSpecialFloats() {
        let v = ParquetValue.object([
            ParquetField("s", .string("a\"b\\c\n\u{1}")), ParquetField("nan", .double(.nan)),
            ParquetField("inf", .float(.infinity)), ParquetField("b", .bytes([0, 1, 2, 3])),
        ])
        #expect(ParquetJSON.render(v) == #"{"s":"a\"b\\c\n\u0001","nan":null,"inf":null,"b":"AAECAw=="}"#)
    }

    @Test func float16() {
        #expect(LeafValueConverter.half(0x3C00) == 1)
        #expect(LeafValueConverter.half(0xC000) == -2)
        #expect(LeafValueConverter.half(0x0001) == Float(sign: .plus, exponent: -24, significand: 1))
        #expect(LeafValueConverter.half(0x7C00) == .infinity)
    }
}

/// SplitMix64 for seeded test data.
struct SplitMixForTests {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

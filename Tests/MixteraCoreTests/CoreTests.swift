import MixteraCore
import MixteraTestSupport
import Testing

@Suite struct VarintTests {
    @Test func roundTripsBoundaries() throws {
        let values: [UInt64] = [0, 1, 127, 128, 255, 16_383, 16_384, UInt64(UInt32.max), UInt64.max - 1, UInt64.max]
        var w = ByteWriter()
        for v in values { w.writeVarint(v) }
        var r = ByteReader(w.bytes)
        for v in values { #expect(try r.readVarint() == v) }
        #expect(r.isAtEnd)
    }

    @Test func roundTripsRandomSignedAndUnsigned() throws {
        var rng = SplitMix64(seed: TestSupport.seed)
        var w = ByteWriter()
        var us: [UInt64] = []
        var ss: [Int64] = []
        for _ in 0..<10_000 {
            let u = rng.next() >> (rng.next() % 64)
            let s = Int64(bitPattern: rng.next()) >> Int64(rng.next() % 64)
            us.append(u)
            ss.append(s)
            w.writeVarint(u)
            w.writeSignedVarint(s)
        }
        var r = ByteReader(w.bytes)
        for i in 0..<us.count {
            #expect(try r.readVarint() == us[i])
            #expect(try r.readSignedVarint() == ss[i])
        }
    }

    @Test func rejectsTruncatedAndOverlongVarints() {
        var r = ByteReader([0x80, 0x80])
        #expect(throws: ByteReaderError.truncated(offset: 0)) { try r.readVarint() }
        var r2 = ByteReader(Array(repeating: 0xFF, count: 11))
        #expect(throws: ByteReaderError.varintTooLong(offset: 0)) { try r2.readVarint() }
    }
}

@Suite struct SplitMix64Tests {
    /// Reference outputs of SplitMix64 seeded with 0 (Vigna's splitmix64.c).
    @Test func matchesReferenceVector() {
        var g = SplitMix64(seed: 0)
        #expect(g.next() == 0xE220_A839_7B1D_CDAF)
        #expect(g.next() == 0x6E78_9E6A_A1B9_65F4)
        #expect(g.next() == 0x06C4_5D18_8009_454F)
    }

    @Test func boundedDrawsStayInRangeAndCoverIt() {
        var g = SplitMix64(seed: TestSupport.seed)
        var seen = [Int](repeating: 0, count: 7)
        for _ in 0..<7000 {
            let x = g.nextBelow(7)
            #expect(x < 7)
            seen[Int(x)] += 1
        }
        #expect(seen.allSatisfy { $0 > 800 && $0 < 1200 })
    }

    @Test func shuffleIsAPermutationAndDeterministic() {
        var a = Array(0..<1000)
        var b = a
        var g1 = SplitMix64(seed: 7)
        var g2 = SplitMix64(seed: 7)
        g1.shuffle(&a)
        g2.shuffle(&b)
        #expect(a == b)
        #expect(a.sorted() == Array(0..<1000))
        #expect(a != Array(0..<1000))
    }

    @Test func derivedSeedsDiffer() {
        let s = Set((0..<100).map { SplitMix64.derive(42, 1, UInt64($0)) })
        #expect(s.count == 100)
        #expect(SplitMix64.derive(42, 1, 2) == SplitMix64.derive(42, 1, 2))
    }
}

@Suite struct HashingTests {
    @Test func xxh3OfEmptyInputIsTheReferenceValue() {
        #expect(XXH3.hash([]) == 0x2D06_8005_38D3_94C2)
        #expect(XXH3.hex(0x2D06_8005_38D3_94C2) == "2d06800538d394c2")
        #expect(XXH3.parseHex("2d06800538d394c2") == 0x2D06_8005_38D3_94C2)
    }

    @Test func streamingEqualsOneShot() {
        let bytes = (0..<100_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        let s = XXH3Stream()
        bytes.withUnsafeBytes { p in
            s.update(UnsafeRawBufferPointer(rebasing: p[0..<333]))
            s.update(UnsafeRawBufferPointer(rebasing: p[333...]))
        }
        #expect(s.digest() == XXH3.hash(bytes))
    }
}

/// Multi-part frames: one frame with a block boundary per part, the concatenation back on decompression.
@Suite struct ZstdPartsTests {
    @Test func partsRoundTripAsOneFrame() throws {
        var rng = SplitMix64(seed: TestSupport.seed)
        for sizes in [[0], [5], [1, 1], [200_000, 7], [3, 0, 65_536, 131_073]] {
            let parts = sizes.map { n in (0..<n).map { _ in UInt8(truncatingIfNeeded: rng.nextBelow(7)) } }
            let frame = Zstd.compress(parts: parts)
            #expect(try Zstd.decompress(frame, maxSize: 1 << 20) == parts.flatMap { $0 })
            #expect(Zstd.compress(parts: parts) == frame, "deterministic")
        }
    }
}

@Suite struct JSONTests {
    @Test func serializesDeterministicallyWithOrderedKeys() {
        let j = JSON.object([("b", .int(1)), ("a", .array([.string("x\n\"y\u{1}"), .double(0.5), .null, .bool(true)]))])
        #expect(j.serialized() == #"{"b":1,"a":["x\n\"y\u0001",0.5,null,true]}"#)
    }

    @Test func parsesWhatItWrites() throws {
        let j = JSON.object([("k", .string("é 🚀 \\ \t")), ("n", .int(-12)), ("f", .double(1.25)), ("l", .array([]))])
        let back = try JSON.parse(Array(j.serialized(pretty: true).utf8))
        #expect(back == j)
    }

    /// Surrogate escapes: pairs combine, lone ones become U+FFFD (a high one followed by another escape too,
    /// found by fuzzing: it used to overflow).
    @Test(arguments: [
        (#""\ud83d\ude80""#, "🚀"), (#""\ud800\u0041""#, "\u{FFFD}A"), (#""\ud800\ud800\udc00""#, "\u{FFFD}\u{10000}"),
        (#""\udc00x""#, "\u{FFFD}x"), (#""\ud800""#, "\u{FFFD}"), (#""\ud800\u5def""#, "\u{FFFD}\u{5DEF}"),
    ])
    func decodesSurrogateEscapes(_ text: String, _ expected: String) throws {
        #expect(try JSON.parse(Array(text.utf8)) == .string(expected))
    }

    @Test(arguments: ["{", "[1,]", "{\"a\" 1}", "\"\\x\"", "tru", "1 2"])
    func rejectsMalformedInput(_ text: String) {
        #expect(throws: JSON.ParseError.self) { try JSON.parse(Array(text.utf8)) }
    }
}

@Suite struct DataLocationTests {
    @Test func rendersTextAndBinaryLocations() {
        #expect(DataLocation(path: "a.jsonl", line: 3, column: 7).description == "a.jsonl:3:7")
        #expect(
            DataLocation(path: "f.parquet", byteOffset: 100, rowGroup: 2, columnName: "text", page: 5).description
                == "f.parquet@100 (row group 2, column \"text\", page 5)")
        #expect(DataLocation(path: "x.tar", byteOffset: 512, member: "a/b.txt").description == "x.tar@512 (member \"a/b.txt\")")
    }
}

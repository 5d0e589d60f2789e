import Testing

@testable import MixteraFormats

@Suite struct TarHeaderTests {
    struct NumberCase: Sendable, CustomStringConvertible {
        var field: [UInt8]
        var value: Int64?
        var description: String { "\(field)" }
    }

    static let numbers: [NumberCase] = [
        NumberCase(field: Array("00000001750\0".utf8), value: 1000),
        NumberCase(field: Array("   1750 \0".utf8), value: 1000),
        NumberCase(field: Array("\0\0\0\0".utf8), value: 0),
        NumberCase(field: Array("        ".utf8), value: 0),
        NumberCase(field: Array("0000000175x\0".utf8), value: nil),
        NumberCase(field: Array("9".utf8), value: nil),
        NumberCase(field: [0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x04, 0xD2], value: 1234),
        NumberCase(field: [0x80, 0, 0, 0, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF], value: Int64.max),
        NumberCase(field: [0x80, 0, 0, 0x01, 0, 0, 0, 0, 0, 0, 0, 0], value: nil),  // > Int64.max
        NumberCase(field: [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF], value: nil),
        NumberCase(field: Array("777777777777777777777777".utf8), value: nil),  // octal overflow
    ]

    @Test(arguments: numbers)
    func number(_ c: NumberCase) {
        #expect(TarHeader.number(c.field[...]) == c.value)
    }

    struct PaxCase: Sendable, CustomStringConvertible {
        var data: String
        var records: [String]
        var problem: String?
        var description: String { data }
    }

    static let pax: [PaxCase] = [
        PaxCase(data: "14 path=p.txt\n", records: ["path=p.txt"], problem: nil),
        PaxCase(data: "14 path=p.txt\n9 size=5\n", records: ["path=p.txt", "size=5"], problem: nil),
        PaxCase(data: "18 path=a=b c.txt\n", records: ["path=a=b c.txt"], problem: nil),
        PaxCase(data: "14 path=p.txt\n\0\0\0", records: ["path=p.txt"], problem: nil),
        PaxCase(
            data: "99 path=p.txt\n", records: [], problem: "pax record at byte 0 has length 99 but 14 bytes remain"),
        PaxCase(data: "13 path=p.txt\n", records: [], problem: "pax record at byte 0 does not end with a newline"),
        PaxCase(data: "3 x\n", records: [], problem: "pax record at byte 0 has length 3 but 4 bytes remain"),
        PaxCase(
            data: "path=p.txt\n", records: [],
            problem: "pax record at byte 0 does not start with a decimal length and a space"),
        PaxCase(data: "10 nokey_\n", records: [], problem: "pax record at byte 0 has no '='"),
        PaxCase(
            data: "99999999999999999999999 a=b\n", records: [], problem: "pax record length overflows at byte 0"),
    ]

    @Test(arguments: pax)
    func paxRecords(_ c: PaxCase) {
        var records: [String] = []
        let problem = PaxRecords.parse(Array(c.data.utf8)) { k, v in
            records.append(String(decoding: k, as: UTF8.self) + "=" + String(decoding: v, as: UTF8.self))
        }
        #expect(problem == c.problem)
        if c.problem == nil { #expect(records == c.records) }
    }

    /// The word-at-a-time checksum agrees with a byte-by-byte reference (unsigned and historic signed sums)
    /// on random blocks, with and without high bytes, stored as either sum or neither.
    @Test func checksumMatchesByteByByteSums() {
        var rng = SplitMix(seed: 7)
        for round in 0..<400 {
            var block = (0..<512).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            if round % 4 == 0 { block = block.map { $0 & 0x7F } }
            if round % 5 == 0 { block = block.map { $0 | 0x80 } }
            var unsigned = 0
            var signed = 0
            for (i, b) in block.enumerated() {
                let v = (148..<156).contains(i) ? 0x20 : b
                unsigned += Int(v)
                signed += Int(Int8(bitPattern: v))
            }
            let stored: Int
            switch round % 3 {
            case 0: stored = unsigned
            case 1: stored = signed
            default: stored = unsigned + 1
            }
            if stored >= 0 {
                let octal = Array(String(stored, radix: 8).utf8)
                let field = Array(repeating: UInt8(ascii: "0"), count: 6 - octal.count) + octal + [0, 0x20]
                block.replaceSubrange(148..<156, with: field)
            }
            let check = block.withUnsafeBytes { TarHeader(bytes: $0).verifyChecksum() }
            #expect(check.computed == unsigned)
            if stored >= 0 {
                #expect(check.stored == Int64(stored))
                #expect(check.matches == (stored == unsigned || stored == signed))
            }
        }
    }
}

/// A tiny deterministic generator for test data.
private struct SplitMix {
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

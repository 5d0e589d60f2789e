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
}

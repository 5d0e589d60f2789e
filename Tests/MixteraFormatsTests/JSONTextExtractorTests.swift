import MixteraCore
import MixteraFormats
import Testing

/// Replay's one-pass text output (`appendJSONString`) against the two-step reference it replaces:
/// decode the field (`extract`), then encode it with `JSON.writeString`.
@Suite struct JSONTextExtractorTests {
    /// String-body pieces covering every escape form, UTF-8 and the surrogate corner cases.
    static let pieces: [String] = [
        "plain words ", "é", "日本", "😀", #"\""#, #"\\"#, #"\/"#, #"\b"#, #"\f"#, #"\n"#, #"\r"#, #"\t"#,
        #"\u0000"#, #"\u001f"#, #"\u0022"#, #"\u005c"#, #"\u005C"#, #"\u002f"#, #"\u00e9"#, #"\u00E9"#,
        #"\u20ac"#, #"\ud83d\ude00"#, #"\uD83D\uDE00"#, #"\ud800"#, #"\udc00"#, #"\ud800\u0041"#, #"\ud800x"#,
        #"\u007f"#, "\u{7f}", "x",
    ]

    static func check(_ body: String, _ extractor: inout JSONTextExtractor) throws {
        let line = Array(#"{"id": 1, "text": ""#.utf8) + Array(body.utf8) + Array(#"", "n": 2}"#.utf8)
        let decoded = try line.withUnsafeBytes { b in try extractor.extract(b, location: DataLocation(path: "t")) }
        var expected: [UInt8] = []
        JSON.writeString(decoded, into: &expected)
        var actual: [UInt8] = [1, 2]
        try line.withUnsafeBytes { b in
            try extractor.appendJSONString(b, to: &actual, location: DataLocation(path: "t"))
        }
        #expect(Array(actual.dropFirst(2)) == expected, "body: \(body)")
    }

    @Test func everyPieceAlone() throws {
        var x = try JSONTextExtractor(path: "text")
        for p in Self.pieces { try Self.check(p, &x) }
        try Self.check("", &x)
    }

    @Test func randomConcatenationsMatchTheReference() throws {
        var x = try JSONTextExtractor(path: "text")
        var rng = SplitMix64(seed: 20_261_129)
        for _ in 0..<2000 {
            let n = Int(rng.next() % 12)
            var body = ""
            for _ in 0..<n { body += Self.pieces[Int(rng.next() % UInt64(Self.pieces.count))] }
            try Self.check(body, &x)
        }
    }

    @Test func missingOrNonStringFieldIsATypedError() throws {
        var x = try JSONTextExtractor(path: "text")
        var out: [UInt8] = []
        for line in [#"{"id": 1}"#, #"{"text": 3}"#] {
            let bytes = Array(line.utf8)
            #expect(throws: FormatError.self) {
                try bytes.withUnsafeBytes { try x.appendJSONString($0, to: &out, location: DataLocation(path: "t")) }
            }
        }
        let bad = Array(#"{"text": "a"#.utf8)
        do {
            try bad.withUnsafeBytes { try x.appendJSONString($0, to: &out, location: DataLocation(path: "t", byteOffset: 7)) }
            Issue.record("expected an error")
        } catch let error as FormatError {
            #expect(error.code == .invalidJSON)
            #expect(error.location?.byteOffset == 7)
        }
    }
}

import Foundation
import MixteraCore
import MixteraFormats
import MixteraSpec
import MixteraTestSupport
import Testing

/// The scan fast path against a slow reference: Foundation's JSONSerialization over the lines that
/// the CLIs decompress (zstd/gzip/xz/bzip2 -dc).
@Suite struct JSONLScannerTests {
    static let files = [
        "corpus/web/part-000.jsonl", "corpus/web/part-001.jsonl", "corpus/web/part-002.jsonl.zst",
        "corpus/github/code-000.jsonl.gz", "corpus/books/books-000.jsonl.xz", "corpus/wiki/wiki-000.jsonl.bz2",
        "multi/frames.jsonl.zst", "multi/frames.jsonl.gz", "multi/frames.jsonl.bz2", "multi/frames.jsonl.xz",
        "duckdb/records.json",
    ]

    static func dataset(root: String, onError: OnError = .fail) -> DatasetDecl {
        let spec = """
            datasets:
              - name: t
                root: \(root)
                text: text
                tokens: token_count
                on_error: \(onError.rawValue)
                properties:
                  source: {from_path: "{source}/*"}
                  language: {path: meta.language}
                  tags: {path: meta.tags, type: list<string>}
                  quality: {path: quality, type: float}
                  year: {path: meta.year, type: int}
            """
        return try! DatasetSpec.parse(text: spec, path: "/x.yaml").datasets[0]
    }

    /// Decompressed bytes via the real CLI tools.
    static func decompressed(_ path: String) throws -> Data {
        let tool: [String]? =
            path.hasSuffix(".zst")
            ? ["zstd", "-dc"]
            : path.hasSuffix(".gz")
                ? ["gzip", "-dc"]
                : path.hasSuffix(".xz") ? ["xz", "-dc"] : path.hasSuffix(".bz2") ? ["bzip2", "-dc"] : nil
        guard let tool else { return FileManager.default.contents(atPath: path)! }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = tool + [path]
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let d = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return d
    }

    /// Reference records: non-blank lines parsed by JSONSerialization, with their byte offsets.
    static func reference(_ path: String) throws -> [(offset: Int, object: [String: Any])] {
        var bytes = [UInt8](try decompressed(path))
        var base = 0
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) {
            bytes.removeFirst(3)
            base = 3
        }
        var out: [(Int, [String: Any])] = []
        var start = 0
        for i in 0...bytes.count where i == bytes.count || bytes[i] == 0x0A {
            var line = Array(bytes[start..<i])
            if line.last == 0x0D { line.removeLast() }
            if !line.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) {
                let obj = try JSONSerialization.jsonObject(with: Data(line)) as! [String: Any]
                out.append((base + start, obj))
            }
            start = i + 1
        }
        return out
    }

    @Test(arguments: files)
    func matchesTheReferenceParser(_ rel: String) throws {
        let root = TestSupport.fixture("jsonl")
        let ds = Self.dataset(root: root)
        let scanner = try JSONLScanner(dataset: ds, relativePath: rel)
        let r = try scanner.scan(path: root + "/" + rel, displayPath: rel)
        let ref = try Self.reference(root + "/" + rel)
        #expect(r.sampleCount == ref.count)
        #expect(r.skippedRecords == 0)
        // The fingerprint hashed while reading equals a separate hash of the file.
        if let fp = r.fingerprint { #expect(fp == (try FileSystem.fingerprint(path: root + "/" + rel))) }
        #expect((r.fingerprint != nil) == (rel.hasSuffix(".jsonl") || rel.hasSuffix(".json") || rel.hasSuffix(".zst")))
        let source = rel.split(separator: "/").dropLast().last.map(String.init)!
        for (i, (offset, obj)) in ref.enumerated() {
            let meta = obj["meta"] as! [String: Any]
            let key = r.keyTable[Int(r.sampleKeys[i])]
            #expect(key[0] == .string(source))
            #expect(key[1] == .string(meta["language"] as! String))
            #expect(key[2] == .stringList(meta["tags"] as! [String]))
            #expect(r.numericColumns[0].value(at: i) == .float((obj["quality"] as! NSNumber).doubleValue))
            #expect(r.numericColumns[1].value(at: i) == .int((meta["year"] as! NSNumber).int64Value))
            #expect(r.byteOffsets[i] == Int64(offset))
            #expect(r.textBytes[i] == Int64((obj["text"] as! String).utf8.count))
            #expect(r.tokens?[i] == (obj["token_count"] as! NSNumber).int64Value)
        }
    }

    @Test func anyBufferSplitYieldsTheSameRecords() throws {
        let root = TestSupport.fixture("jsonl")
        let ds = Self.dataset(root: root)
        var rng = SplitMix64(seed: TestSupport.seed)
        for rel in ["corpus/web/part-000.jsonl", "corpus/web/part-001.jsonl", "corpus/web/part-002.jsonl.zst"] {
            let full = try JSONLScanner(dataset: ds, relativePath: rel).scan(path: root + "/" + rel, displayPath: rel)
            for _ in 0..<6 {
                var s = try JSONLScanner(dataset: ds, relativePath: rel)
                s.bufferBytes = 64 + Int(rng.nextBelow(3000))
                let r = try s.scan(path: root + "/" + rel, displayPath: rel)
                #expect(r.sampleCount == full.sampleCount, "seed \(TestSupport.seed), buffer \(s.bufferBytes)")
                #expect(r.byteOffsets == full.byteOffsets)
                #expect(r.textBytes == full.textBytes)
                #expect(r.sampleKeys.map { r.keyTable[Int($0)] } == full.sampleKeys.map { full.keyTable[Int($0)] })
                #expect(r.numericColumns == full.numericColumns)
            }
        }
    }

    @Test func recordsTheFrameTableOfMultiFrameZstd() throws {
        let root = TestSupport.fixture("jsonl")
        let r = try JSONLScanner(dataset: Self.dataset(root: root), relativePath: "multi/frames.jsonl.zst")
            .scan(path: root + "/multi/frames.jsonl.zst", displayPath: "f")
        #expect(r.sampleCount == 100)
        #expect(r.frames.count == 2)
        #expect(r.frames[0] == ZstdFrame(compressedOffset: 0, decompressedOffset: 0))
        #expect(r.frames[1].decompressedOffset == r.byteOffsets[50])
    }

    struct BadCase: Sendable, CustomStringConvertible {
        var file: String
        var kind: String
        var line: Int?
        var column: Int?
        var message: String
        var description: String { file }
    }

    static let badCases: [BadCase] = [
        BadCase(
            file: "invalid-json.jsonl", kind: "invalid-json", line: 2, column: 40,
            message: "invalid JSON: unexpected end of line in object"),
        BadCase(file: "not-object.jsonl", kind: "not-an-object", line: 3, column: 1, message: "record is not a JSON object"),
        BadCase(
            file: "type-mismatch.jsonl", kind: "type-mismatch", line: 2, column: 36,
            message: "property \"language\" expects a string, found a number"),
        BadCase(file: "missing-text.jsonl", kind: "missing-field", line: 1, column: 1, message: "text field \"text\" is missing"),
        BadCase(file: "bad-escape.jsonl", kind: "invalid-json", line: 1, column: 15, message: "invalid JSON: invalid escape \\q"),
        BadCase(
            file: "trailing-garbage.jsonl", kind: "invalid-json", line: 1, column: 44,
            message: "invalid JSON: unexpected content after the JSON object"),
        BadCase(
            file: "truncated.jsonl.zst", kind: "truncated", line: nil, column: nil,
            message: "zstd stream ends inside a frame; the file is truncated"),
        BadCase(
            file: "invalid-utf8-value.jsonl", kind: "invalid-utf8", line: 2, column: 39,
            message: "property \"language\" is not valid UTF-8"),
        BadCase(
            file: "nul-byte.jsonl", kind: "invalid-json", line: 2, column: 12,
            message: "invalid JSON: unescaped control character byte 0x0 in string"),
        BadCase(
            file: "nul-after-object.jsonl", kind: "invalid-json", line: 2, column: 43,
            message: "invalid JSON: unexpected content after the JSON object"),
    ]

    /// Files in fixtures/bad/jsonl that are not errors: an empty file has 0 samples.
    static let notErrors = ["empty.jsonl"]

    @Test func anEmptyFileHasNoSamplesAndIsNotAnError() throws {
        let root = TestSupport.fixture("bad/jsonl")
        for onError in [OnError.fail, .skip] {
            let r = try JSONLScanner(
                dataset: DatasetSpecTestsHelper.simple(root: root, onError: onError), relativePath: "empty.jsonl"
            )
            .scan(path: root + "/empty.jsonl", displayPath: "empty.jsonl")
            #expect(r.sampleCount == 0)
            #expect(r.skippedRecords == 0)
        }
    }

    @Test(arguments: badCases)
    func badInputHasKindAndLocation(_ c: BadCase) throws {
        let root = TestSupport.fixture("bad/jsonl")
        let ds = DatasetSpecTestsHelper.simple(root: root, onError: .fail)
        do {
            _ = try JSONLScanner(dataset: ds, relativePath: c.file).scan(path: root + "/" + c.file, displayPath: c.file)
            Issue.record("expected an error for \(c.file)")
        } catch {
            #expect(error.kind == c.kind)
            #expect(error.message == c.message)
            // Decompression errors name the file's real path; record errors the display path.
            #expect(error.location?.path.hasSuffix(c.file) == true)
            #expect(error.location?.line == c.line)
            #expect(error.location?.column == c.column)
        }
    }

    @Test func skipModeCountsAndKeepsTheGoodRecords() throws {
        let root = TestSupport.fixture("bad/jsonl")
        let ds = DatasetSpecTestsHelper.simple(root: root, onError: .skip)
        let r = try JSONLScanner(dataset: ds, relativePath: "not-object.jsonl").scan(
            path: root + "/not-object.jsonl", displayPath: "n")
        #expect(r.sampleCount == 2)
        #expect(r.skippedRecords == 1)
        #expect(r.problems.first?.location?.line == 3)
    }

    /// Every file in fixtures/bad/jsonl must have a case above.
    @Test func everyBadFixtureHasATest() throws {
        let names = try FileManager.default.contentsOfDirectory(atPath: TestSupport.fixture("bad/jsonl")).sorted()
        #expect(names == (Self.badCases.map(\.file) + Self.notErrors).sorted())
    }

    @Test func lineLongerThanTheLimitIsAnError() throws {
        let dir = TestSupport.temporaryDirectory("long")
        TestSupport.write("{\"text\": \"\(String(repeating: "x", count: 5000))\"}\n", to: dir + "/a.jsonl")
        var ds = DatasetSpecTestsHelper.simple(root: dir, onError: .fail)
        ds.maxLineBytes = 1000
        var s = try JSONLScanner(dataset: ds, relativePath: "a.jsonl")
        s.bufferBytes = 256
        #expect {
            try s.scan(path: dir + "/a.jsonl", displayPath: "a.jsonl")
        } throws: { e in
            (e as! FormatError).code == .lineTooLong && (e as! FormatError).location?.line == 1
        }
        // A 20 MB line within the limit scans in linear time with a tiny initial buffer.
        TestSupport.write(
            "{\"text\": \"\(String(repeating: "y", count: 20_000_000))\"}\n{\"text\": \"z\"}\n", to: dir + "/b.jsonl")
        ds.maxLineBytes = 64 << 20
        var s2 = try JSONLScanner(dataset: ds, relativePath: "b.jsonl")
        s2.bufferBytes = 4096
        let r = try s2.scan(path: dir + "/b.jsonl", displayPath: "b.jsonl")
        #expect(r.sampleCount == 2)
        #expect(r.textBytes == [20_000_000, 1])
    }

    @Test func aSkippedRecordLeavesNoPartialNumericColumn() throws {
        let dir = TestSupport.temporaryDirectory("partial")
        TestSupport.write(
            #"{"a": 1, "b": 2.5}"# + "\n" + #"{"a": 2, "b": "oops"}"# + "\n" + #"{"a": 3, "b": 4}"# + "\n", to: dir + "/n.jsonl")
        let spec = """
            datasets:
              - name: t
                root: \(dir)
                on_error: skip
                properties:
                  a: {path: a, type: int}
                  b: {path: b, type: float}
            """
        let ds = try DatasetSpec.parse(text: spec, path: "/x.yaml").datasets[0]
        let r = try JSONLScanner(dataset: ds, relativePath: "n.jsonl").scan(path: dir + "/n.jsonl", displayPath: "n")
        #expect(r.sampleCount == 2)
        #expect(r.skippedRecords == 1)
        #expect(r.numericColumns == [.int([1, 3], nulls: nil), .float([2.5, 4], nulls: nil)])
    }

    @Test func pathsWithIndexWildcardAndEscapes() throws {
        let dir = TestSupport.temporaryDirectory("paths")
        TestSupport.write(
            #"{"text":"t","langs":[{"name":"en"},{"name":"de"}],"a.b":{"c":"dotted"},"arr":["first","second"],"big":"12345678901234567890","n":"2021"}"#
                + "\n",
            to: dir + "/a.jsonl")
        let spec = """
            datasets:
              - name: t
                root: \(dir)
                text: text
                properties:
                  langs: {path: "langs[*].name", type: list<string>}
                  dotted: {path: 'a\\.b.c'}
                  first: {path: "arr[1]"}
                  year: {path: n, type: int}
            """
        let ds = try DatasetSpec.parse(text: spec, path: "/x.yaml").datasets[0]
        let r = try JSONLScanner(dataset: ds, relativePath: "a.jsonl").scan(path: dir + "/a.jsonl", displayPath: "a")
        #expect(r.keyTable[0] == [.stringList(["en", "de"]), .string("dotted"), .string("second")])
        #expect(r.numericColumns[0].value(at: 0) == .int(2021))
    }
}

enum DatasetSpecTestsHelper {
    static func simple(root: String, onError: OnError) -> DatasetDecl {
        let spec = """
            datasets:
              - name: t
                root: \(root)
                text: text
                on_error: \(onError.rawValue)
                properties:
                  language: {path: meta.language}
            """
        return try! DatasetSpec.parse(text: spec, path: "/x.yaml").datasets[0]
    }
}

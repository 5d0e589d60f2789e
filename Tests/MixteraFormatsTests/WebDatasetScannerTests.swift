import Foundation
import MixteraCore
import MixteraFormats
import MixteraSpec
import MixteraTestSupport
import Testing

/// `WebDatasetScanner` against the archives and expected samples written by `scripts/make-wds-fixtures.py`.
@Suite struct WebDatasetScannerTests {
    static func dataset(_ body: String, root: String = TestSupport.fixture("wds")) -> DatasetDecl {
        let spec = "datasets:\n  - name: t\n    root: \(root)\n    format: webdataset\n" + body
        return try! DatasetSpec.parse(text: spec, path: "/x.yaml").datasets[0]
    }

    static func scan(_ d: DatasetDecl, _ file: String) throws -> FileScanResult {
        let p = d.root + "/" + file
        return try WebDatasetScanner(dataset: d, relativePath: file).scan(path: p, displayPath: p)
    }

    static func cat(_ r: FileScanResult, _ s: Int, _ i: Int) -> PropertyValue { r.keyTable[Int(r.sampleKeys[s])][i] }

    static let writerSpec = """
            text: txt
            tokens: "json:id"
            properties:
              source:  {path: "json:source"}
              caption: {path: txt}
              label:   {path: cls, type: int}
              id:      {path: "json:id", type: float}

        """

    /// A ustar archive of regular files (for inputs the fixtures do not cover).
    static func tar(_ members: [(String, [UInt8])]) -> [UInt8] {
        var out: [UInt8] = []
        for (name, data) in members {
            var h = [UInt8](repeating: 0, count: 512)
            func put(_ s: String, _ at: Int) { for (k, c) in s.utf8.enumerated() { h[at + k] = c } }
            put(name, 0)
            put("0000644\0", 100)
            put("0000000\0", 108)
            put("0000000\0", 116)
            put(String(repeating: "0", count: 11 - String(data.count, radix: 8).count) + String(data.count, radix: 8) + "\0", 124)
            put("00000000000\0", 136)
            put("        ", 148)
            h[156] = UInt8(ascii: "0")
            put("ustar\0", 257)
            put("00", 263)
            let sum = h.reduce(0) { $0 + Int($1) }
            put(String(repeating: "0", count: 6 - String(sum, radix: 8).count) + String(sum, radix: 8) + "\0 ", 148)
            out += h + data + [UInt8](repeating: 0, count: (512 - data.count % 512) % 512)
        }
        return out + [UInt8](repeating: 0, count: 1024)
    }

    static func write(_ bytes: [UInt8], _ name: String) -> String {
        let dir = TestSupport.temporaryDirectory("wds")
        try! Data(bytes).write(to: URL(fileURLWithPath: dir + "/" + name))
        return dir
    }

    @Test(arguments: ["webdataset-writer.tar", "webdataset-writer.tar.gz"])
    func propertiesTextBytesAndLocators(_ file: String) throws {
        let r = try Self.scan(Self.dataset(Self.writerSpec), file)
        #expect(r.sampleCount == 4)
        #expect(r.locatorKind == .tarMembers)
        for i in 0..<4 {
            #expect(Self.cat(r, i, 0) == .string(["web", "code"][i % 2]))
            #expect(Self.cat(r, i, 1) == .string("hello \(i)"))
            #expect(r.numericColumns[0].value(at: i) == .int(Int64(i % 3)))
            #expect(r.numericColumns[1].value(at: i) == .float(Double(i)))
        }
        #expect(r.textBytes == [7, 7, 7, 7])
        #expect(r.tokens == [0, 1, 2, 3])
        // The first member's header offset (the expected JSON's header_offset of each sample's first member).
        let expected =
            try JSONSerialization.jsonObject(
                with: Data(contentsOf: URL(fileURLWithPath: TestSupport.fixture("wds/\(file).expected.json")))) as! [String: Any]
        let members = expected["members"] as! [[String: Any]]
        let samples = expected["samples"] as! [[String: Any]]
        let firsts = samples.map { s in
            let m = (s["members"] as! [[String: Any]])[0]["member_index"] as! Int
            return Int64(members[m]["header_offset"] as! Int)
        }
        #expect(r.byteOffsets == firsts)
        #expect(r.byteOffsets == [0, 3072, 6144, 9216])
        #expect(r.byteLengths == [3072, 3072, 3072, 3072])
    }

    @Test func onlyMembersThatPropertiesReadAreLoaded() throws {
        let s = try WebDatasetScanner(dataset: Self.dataset(Self.writerSpec), relativePath: "x.tar")
        #expect(s.loadExtensions == ["json", "txt", "cls"])
        let textOnly = try WebDatasetScanner(
            dataset: Self.dataset("    text: txt\n    properties:\n      label: {path: cls, type: int}\n"),
            relativePath: "x.tar")
        #expect(textOnly.loadExtensions == ["cls"])
    }

    @Test func missingMembersFollowTheDefaultRule() throws {
        let d = Self.dataset(
            """
                properties:
                  source: {path: "json:source", default: none}
                  lang:   {path: "json:lang"}
                  label:  {path: cls, type: int, default: -1}

            """)
        for file in ["python-pax.tar", "python-pax.tar.zst", "python-ustar.tar"] {
            let r = try Self.scan(d, file)
            #expect(r.sampleCount == (file == "python-ustar.tar" ? 7 : 8))
            #expect((0..<3).map { Self.cat(r, $0, 0) } == [.string("web"), .string("web"), .string("web")])
            #expect(Self.cat(r, 3, 0) == .string("none"))
            #expect(Self.cat(r, 5, 1) == .string("ja"))
            #expect(Self.cat(r, 4, 1) == .null)
            #expect((0..<5).map { r.numericColumns[0].value(at: $0) } == [.int(0), .int(1), .int(0), .int(-1), .int(-1)])
        }
    }

    @Test func missingTextMemberIsAnErrorOrSkipped() throws {
        let fail = Self.dataset("    text: txt\n")
        #expect(
            performing: { try Self.scan(fail, "python-pax.tar") },
            throws: { e in
                let e = e as! FormatError
                return e.code == .missingField && e.message == "sample \"日本語/サンプル\" has no \"txt\" member (the text member)"
                    && e.location?.member == "日本語/サンプル.json"
            })
        let skip = Self.dataset("    text: txt\n    on_error: skip\n")
        let r = try Self.scan(skip, "python-pax.tar")
        // "日本語/サンプル" (json only) and "very/…/name" (extension "with.dots.txt") lack a "txt" member.
        #expect(r.sampleCount == 6 && r.skippedRecords == 2)
        #expect(r.textBytes[0] == 100 && r.textBytes[1] == 400 && r.textBytes[2] == 700)
    }

    @Test func typeMismatchNamesTheMember() throws {
        let d = Self.dataset("    properties:\n      n: {path: \"json:source\", type: int}\n")
        #expect(
            performing: { try Self.scan(d, "webdataset-writer.tar") },
            throws: { e in
                let e = e as! FormatError
                return e.code == .typeMismatch && e.message == "property \"n\" expects an integer, found a string"
                    && e.location?.member == "shard/000000.json" && e.location?.byteOffset == 1536
            })
        let cls = Self.dataset("    properties:\n      n: {path: txt, type: int}\n")
        #expect(
            performing: { try Self.scan(cls, "webdataset-writer.tar") },
            throws: { e in
                let e = e as! FormatError
                return e.code == .typeMismatch && e.location?.member == "shard/000000.txt"
            })
        #expect(throws: FormatError.self) {
            try WebDatasetScanner(
                dataset: Self.dataset("    properties:\n      l: {path: txt, type: list<string>}\n"), relativePath: "a.tar")
        }
        #expect(throws: FormatError.self) {
            try WebDatasetScanner(dataset: Self.dataset("    text: \"json:text\"\n"), relativePath: "a.tar")
        }
    }

    @Test func invalidJSONMemberIsLocated() throws {
        let dir = Self.write(
            Self.tar([
                ("a.json", Array(#"{"source":"web"}"#.utf8)), ("b.json", Array(#"{"source": web}"#.utf8)),
                ("c.json", Array("[1]".utf8)), ("d.json", Array(#"{"source":"x","tags":["p",null,"q"]}"#.utf8)),
            ]),
            "j.tar")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let spec =
            "    properties:\n      source: {path: \"json:source\"}\n      tags: {path: \"json:tags\", type: list<string>}\n"
        #expect(
            performing: { try Self.scan(Self.dataset(spec, root: dir), "j.tar") },
            throws: { e in
                let e = e as! FormatError
                return e.code == .invalidJSON && e.location?.member == "b.json" && e.location?.byteOffset == 1536 + 11
            })
        let r = try Self.scan(Self.dataset(spec + "    on_error: skip\n", root: dir), "j.tar")
        #expect(r.sampleCount == 2 && r.skippedRecords == 2)
        #expect(r.problems.map(\.code) == [.invalidJSON, .notAnObject])
        #expect(Self.cat(r, 1, 0) == .string("x") && Self.cat(r, 1, 1) == .stringList(["p", "q"]))
        #expect(r.byteOffsets == [0, 3072])
    }

    @Test(arguments: ["truncated-member.tar", "truncated-member.tar.gz"])
    func truncatedArchiveFailsOrKeepsTheSamplesBeforeTheDamage(_ file: String) throws {
        let root = TestSupport.fixture("bad/wds")
        let spec = "    text: txt\n    properties:\n      label: {path: cls, type: int}\n"
        #expect(
            performing: { try Self.scan(Self.dataset(spec, root: root), file) },
            throws: { e in
                let e = e as! FormatError
                return e.code == .truncated && e.location?.member == "s0002.txt" && e.location?.byteOffset == 7680
            })
        let r = try Self.scan(Self.dataset(spec + "    on_error: skip\n", root: root), file)
        #expect(r.sampleCount == 2)
        #expect(r.skippedRecords == 1)
        #expect(r.numericColumns[0] == .int([0, 1], nulls: nil))
        let p = try #require(r.problems.first)
        #expect(p.code == .truncated && p.location?.member == "s0002.txt")
        #expect(p.message.hasSuffix("kept the 2 samples before the damage, dropped the rest of the archive"))
    }

    @Test func fromPathConstants() throws {
        let d = Self.dataset("    properties:\n      shard: {from_path: \"{shard}.tar\"}\n")
        let r = try Self.scan(d, "webdataset-writer.tar")
        #expect(r.keyTable == [[.string("webdataset-writer")]])
    }
}

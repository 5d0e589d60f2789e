import Foundation
import MixteraCore
import MixteraSpec
import MixteraTestSupport
import Testing

@testable import MixteraFormats

/// The mapped scan of a plain tar (byte-level grouping, members read in place) against the streamed scan
/// through `WebDatasetReader` and `WebDatasetGrouper`: same samples, properties, locators, problems and errors,
/// on every plain fixture, good or damaged, for several specs and both `on_error` modes.
@Suite struct WebDatasetScanPathTests {
    static let specs = [
        "    text: txt\n    tokens: \"json:id\"\n    properties:\n      source: {path: \"json:source\"}\n"
            + "      caption: {path: txt}\n      label: {path: cls, type: int}\n      id: {path: \"json:id\", type: float}\n",
        "    properties:\n      source: {path: \"json:source\"}\n      tags: {path: \"json:tags\", type: list<string>}\n",
        "    text: txt\n",
        "    properties:\n      n: {path: cls, type: int}\n      b: {path: txt, type: bool}\n",
        "    text: json\n    properties:\n      s: {path: \"json:meta.source\"}\n      t: {path: txt}\n",
    ]

    static let files: [(root: String, file: String)] =
        TarFixtures.plain.map { (TestSupport.fixture("wds"), $0) }
        + [
            "bad-checksum.tar", "duplicate-extension.tar", "truncated-header.tar", "truncated-member.tar",
            "truncated-padding.tar", "pax-bad-record.tar", "pax-without-member.tar", "gnu-sparse.tar", "not-a-tar.tar",
        ].map { (TestSupport.fixture("bad/wds"), $0) }

    static func outcome(_ d: DatasetDecl, _ path: String, mapping: Bool) -> String {
        do {
            let r = try WebDatasetScanner(dataset: d, relativePath: "x.tar").scan(
                path: path, displayPath: path, mapping: mapping)
            return "\(r.sampleCount) \(r.keyTable) \(r.sampleKeys) \(r.numericColumns) \(r.byteOffsets) "
                + "\(r.byteLengths) \(r.textBytes) \(String(describing: r.tokens)) \(r.skippedRecords) "
                + r.problems.map { "\($0.code) \($0.message) \(String(describing: $0.location))" }.joined(separator: "|")
        } catch {
            return "error \(error.code) \(error.message) \(String(describing: error.location))"
        }
    }

    @Test(arguments: 0..<specs.count)
    func mappedScanMatchesStreamedScan(spec: Int) throws {
        for (root, file) in Self.files {
            for onError in ["", "    on_error: skip\n"] {
                let text = "datasets:\n  - name: t\n    root: \(root)\n    format: webdataset\n" + Self.specs[spec] + onError
                let d = try DatasetSpec.parse(text: text, path: "/x.yaml").datasets[0]
                let path = root + "/" + file
                let mapped = Self.outcome(d, path, mapping: true)
                #expect(mapped == Self.outcome(d, path, mapping: false), "\(file) \(onError)")
            }
        }
    }

    /// Duplicate extensions, keys that reappear, skipped names and a property member over the load limit.
    @Test func groupingEdgeCases() throws {
        let big = [UInt8](repeating: 0x31, count: (16 << 20) + 1)
        let cases: [[(String, [UInt8])]] = [
            [("a.json", Array("{}".utf8)), ("a.txt", [0x41]), ("a.txt", [0x42]), ("b.txt", [0x43])],
            [("a.txt", [0x41]), ("b.txt", [0x42]), ("a.txt", [0x43]), ("a.cls", Array("1\n".utf8))],
            [("dir/", []), (".hidden.txt", [1]), ("__meta__/x.txt", [2]), ("noext", [3]), ("k.txt", [0x44])],
            [("caf\u{E9}.txt", [0x41]), ("cafe\u{301}.cls", Array("2".utf8)), ("x.cls", big)],
        ]
        for (i, members) in cases.enumerated() {
            let dir = WebDatasetScannerTests.write(WebDatasetScannerTests.tar(members), "e\(i).tar")
            defer { try? FileManager.default.removeItem(atPath: dir) }
            for onError in ["", "    on_error: skip\n"] {
                let text =
                    "datasets:\n  - name: t\n    root: \(dir)\n    format: webdataset\n"
                    + "    properties:\n      n: {path: cls, type: int}\n      t: {path: txt}\n" + onError
                let d = try DatasetSpec.parse(text: text, path: "/x.yaml").datasets[0]
                let path = dir + "/e\(i).tar"
                #expect(Self.outcome(d, path, mapping: true) == Self.outcome(d, path, mapping: false), "case \(i)")
            }
        }
    }
}

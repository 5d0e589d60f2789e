import Foundation
import Mixtera
import MixteraCatalog
import MixteraCore
import MixteraManifest
import MixteraReplay
import MixteraSpec
import MixteraTestSupport
import Testing

/// scan → build → replay for Parquet and WebDataset datasets (`fixtures/specs/datasets-{parquet,wds}.yaml` with
/// `build-formats.yaml`); replayed samples are compared with the values Python wrote next to the fixtures.
@Suite(.serialized) struct FormatsEndToEndTests {
    static func text(_ rel: String) throws -> String {
        String(decoding: try FileSystem.readAll(TestSupport.fixture(rel)), as: UTF8.self)
    }

    static func buildSpec(shuffle: String) throws -> BuildSpec {
        let path = TestSupport.fixture("specs/build-formats.yaml")
        return try BuildSpec.parse(
            text: try text("specs/build-formats.yaml").replacingOccurrences(of: "shuffle: samples", with: "shuffle: \(shuffle)"),
            path: path)
    }

    /// Scans `specName`, builds with the given shuffle, and returns every replayed sample of every rank, with the
    /// file row (Parquet row index / tar sample index) each one came from.
    static func run(_ specName: String, shuffle: String) throws -> (
        header: ManifestHeader, samples: [(ReplaySample, dataset: String, path: String, fileRow: Int)], entries: [ManifestEntry]
    ) {
        try run(specName, build: try buildSpec(shuffle: shuffle))
    }

    static func run(_ specName: String, build: BuildSpec) throws -> (
        header: ManifestHeader, samples: [(ReplaySample, dataset: String, path: String, fileRow: Int)], entries: [ManifestEntry]
    ) {
        let dir = TestSupport.temporaryDirectory("fmt-e2e")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let specPath = TestSupport.fixture("specs/" + specName)
        let spec = try DatasetSpec.parse(text: try text("specs/" + specName), path: specPath)
        _ = try Ingest.scan(spec: spec, catalogPath: dir + "/c.sqlite", options: ScanOptions(jobs: 2))
        _ = try Build.run(catalogPath: dir + "/c.sqlite", spec: build, out: dir + "/m")
        // Catalog row → file row: the scan's locators, mapped back to the sample's position in the file.
        let catalog = try Catalog(path: dir + "/c.sqlite", create: false)
        var fileRows: [String: [Int]] = [:]
        for ds in try catalog.datasets() {
            for f in try catalog.files(datasetID: ds.id) {
                let index = try catalog.index(of: f)
                if index.locatorKind == .parquetRows {
                    fileRows[ds.name + "/" + f.relativePath] = index.byteOffsets.map { Int($0) }
                } else {
                    let firsts = try expectedTar(f.relativePath).samples.map(\.firstHeader)
                    fileRows[ds.name + "/" + f.relativePath] = index.byteOffsets.map { firsts.firstIndex(of: $0)! }
                }
            }
        }
        var out: [(ReplaySample, dataset: String, path: String, fileRow: Int)] = []
        var entries: [ManifestEntry] = []
        var header: ManifestHeader?
        for rank in 0..<2 {
            let reader = try ReplayReader(manifestPath: dir + "/m", rank: rank)
            header = reader.header
            let rankFile = try reader.manifest.rankFile(rank)
            for s in 0..<reader.header.steps { entries += try rankFile.entries(step: s) }
            try reader.forEachSample(steps: Array(0..<reader.header.steps)) { s in
                let f = reader.header.files[s.file]
                let ds = reader.header.datasets[f.dataset].name
                out.append((s, ds, f.path, fileRows[ds + "/" + f.path]![Int(s.row)]))
            }
        }
        return (header!, out, entries)
    }

    static func expectedParquet(_ file: String) throws -> [[String: Any]] {
        let name = String(file.dropLast(".parquet".count))
        return try Data(try FileSystem.readAll(TestSupport.fixture("parquet/\(name).expected.jsonl"))).split(separator: 0x0A)
            .map { try JSONSerialization.jsonObject(with: Data($0)) as! [String: Any] }
    }

    struct TarSample {
        var key: String
        var firstHeader: Int64
        /// (extension, bytes) in archive order.
        var members: [(String, [UInt8])]
    }

    static func expectedTar(_ file: String) throws -> (samples: [TarSample], Void) {
        let json =
            try JSONSerialization.jsonObject(with: Data(try FileSystem.readAll(TestSupport.fixture("wds/\(file).expected.json"))))
            as! [String: Any]
        let members = json["members"] as! [[String: Any]]
        let samples = (json["samples"] as! [[String: Any]]).map { s -> TarSample in
            let ms = s["members"] as! [[String: Any]]
            let first = members[ms[0]["member_index"] as! Int]
            return TarSample(
                key: s["key"] as! String, firstHeader: Int64(first["header_offset"] as! Int),
                members: ms.map { m in
                    guard let hex = members[m["member_index"] as! Int]["data_hex"] as? String else {
                        // Large members have no data_hex: read them from the plain tar (same offsets).
                        let plain = TestSupport.fixture(
                            "wds/" + file.replacingOccurrences(of: ".zst", with: "").replacingOccurrences(of: ".gz", with: ""))
                        let all = [UInt8](FileManager.default.contents(atPath: plain)!)
                        let at = m["data_offset"] as! Int
                        return (m["ext"] as! String, Array(all[at..<(at + (m["size"] as! Int))]))
                    }
                    let bytes = stride(from: 0, to: hex.count, by: 2).map { i -> UInt8 in
                        let a = hex.index(hex.startIndex, offsetBy: i)
                        return UInt8(hex[a..<hex.index(a, offsetBy: 2)], radix: 16)!
                    }
                    return (m["ext"] as! String, bytes)
                })
        }
        return (samples, ())
    }

    static func decode(_ json: [UInt8]) throws -> Any {
        try JSONSerialization.jsonObject(with: Data(json), options: .fragmentsAllowed)
    }

    @Test(arguments: ["samples", "none"])
    func parquetReplaysTheRowsPyarrowWrote(shuffle: String) throws {
        let (header, samples, entries) = try Self.run("datasets-parquet.yaml", shuffle: shuffle)
        #expect(header.files.map(\.format) == ["parquet", "parquet", "parquet", "parquet", "parquet"])
        // Only the file without nulls in its text pages has sync points (docs/manifest-format.md §4.1).
        #expect(header.files.map { !$0.parquetSync.isEmpty } == [false, false, false, false, true])
        if shuffle == "samples" { #expect(samples.contains { $0.dataset == "long" }) }
        #expect(header.files.allSatisfy { $0.compression == "none" })
        #expect(samples.count == header.steps * 8)
        var expected: [String: [[String: Any]]] = [:]
        for (s, ds, path, fileRow) in samples {
            if expected[path] == nil { expected[path] = try Self.expectedParquet(path) }
            let row = expected[path]![fileRow]
            let component = header.components[s.component].name
            if ds == "docs" || ds == "long" {
                // The text column as a JSON string; rows with a null text were skipped by the scan.
                let text = try #require(row["text"] as? String, "\(path) row \(fileRow) has no text")
                #expect(try Self.decode(s.json) as? String == text, "\(path) row \(fileRow)")
                let source = (row["meta"] as? [String: Any])?["source"] as? String ?? "unknown"
                if component != "other" { #expect(source == component) }
            } else {
                // Whole rows as JSON objects.
                let got = try Self.decode(s.json) as! NSDictionary
                #expect(got == row as NSDictionary, "\(path) row \(fileRow): \(String(decoding: s.json, as: UTF8.self))")
                #expect(component == "other")
            }
        }
    }

    /// In file order, runs of consecutive catalog rows become single entries, but never across rows that the scan
    /// skipped (null texts at rows 3, 10, 17, …): the reader reads `count` file rows from the locator.
    @Test func parquetRunsStopAtSkippedRows() throws {
        let build = try BuildSpec.parse(
            text: """
                mixture: {arbitrary: true}
                training: {global_batch: 16, data_parallel: 2, steps: 18}
                order: {shuffle: none}
                seed: 1
                on_exhausted: stop

                """, path: TestSupport.fixture("specs/inline.yaml"))
        let (header, samples, entries) = try Self.run("datasets-parquet.yaml", build: build)
        #expect(header.steps == 18)
        #expect(entries.contains { $0.count > 1 })
        let nullRows = Set(stride(from: 3, to: 300, by: 7).map { Int64($0) })
        for e in entries where header.datasets[header.files[e.file].dataset].name == "docs" {
            #expect(!(e.locator..<(e.locator + Int64(e.count))).contains { nullRows.contains($0) }, "\(e)")
        }
        var expected: [String: [[String: Any]]] = [:]
        for (s, ds, path, fileRow) in samples where ds == "docs" || ds == "long" {
            if expected[path] == nil { expected[path] = try Self.expectedParquet(path) }
            #expect(try Self.decode(s.json) as? String == expected[path]![fileRow]["text"] as? String)
        }
    }

    @Test(arguments: ["samples", "none"])
    func webDatasetReplaysTheMembersPythonWrote(shuffle: String) throws {
        let (header, samples, _) = try Self.run("datasets-wds.yaml", shuffle: shuffle)
        #expect(header.files.map(\.format) == ["webdataset", "webdataset", "webdataset", "webdataset"])
        #expect(header.files.map(\.compression) == ["none", "zstd", "none", "gzip"])
        #expect(samples.count == header.steps * 8)
        var seenCompressed = false
        for (s, ds, path, fileRow) in samples {
            let expected = try Self.expectedTar(path).samples[fileRow]
            if path.hasSuffix(".gz") || path.hasSuffix(".zst") { seenCompressed = true }
            if ds == "shards" {
                let txt = expected.members.first { $0.0 == "txt" }!.1
                #expect(
                    s.json
                        == {
                            var o: [UInt8] = []; JSON.writeString(txt, into: &o); return o
                        }())
            } else {
                // {"__key__": key, ext: text (txt/json/cls…) or base64, …} in archive order.
                var want: [UInt8] = []
                JSON.writeString("__key__".utf8, into: &want)
                want += Array(":".utf8)
                JSON.writeString(expected.key.utf8, into: &want)
                for (ext, bytes) in expected.members {
                    want += Array(",".utf8)
                    JSON.writeString(ext.utf8, into: &want)
                    want += Array(":".utf8)
                    JSON.writeString(bytes, into: &want)
                }
                #expect(s.json == Array("{".utf8) + want + Array("}".utf8), "\(path) sample \(fileRow)")
            }
        }
        #expect(seenCompressed)
    }
}

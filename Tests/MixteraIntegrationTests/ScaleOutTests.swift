import Foundation
import MixteraCore
import MixteraTestSupport
import Testing

/// A generated corpus of small JSONL files in two datasets (declared out of name order), with a
/// dataset spec and a build spec, for shard/merge and crash tests through the built binary.
struct GeneratedCorpus {
    var dir: String
    var spec: String { dir + "/datasets.yaml" }
    var build: String { dir + "/build.yaml" }

    /// `files` files per dataset, 1–`maxRows` rows each.
    init(files: Int, maxRows: Int = 40, seed: UInt64 = TestSupport.seed, extraProperty: Bool = false) {
        dir = TestSupport.temporaryDirectory("corpus")
        var rng = SplitMix64(seed: seed)
        let langs = ["en", "de", "fr", "zh", "code"]
        let srcs = ["web", "wiki", "books"]
        for ds in ["zeta", "alpha"] {
            for f in 0..<files {
                var text = ""
                for r in 0..<(1 + Int(rng.nextBelow(UInt64(maxRows)))) {
                    let words = (0..<(1 + rng.nextBelow(30))).map { _ in String(repeating: "ab", count: 1 + Int(rng.nextBelow(5)))
                    }
                    text +=
                        "{\"text\": \"\(ds) \(f) \(r) \(words.joined(separator: " "))\", \"meta\": {\"lang\": \"\(langs[Int(rng.nextBelow(5))])\", \"src\": \"\(srcs[Int(rng.nextBelow(3))])\"}, \"q\": \(Double(rng.nextBelow(1000)) / 1000), \"n\": \(rng.nextBelow(100))}\n"
                }
                TestSupport.write(text, to: dir + "/\(ds)/d\(f % 3)/part-\(String(format: "%04d", f)).jsonl")
            }
        }
        writeSpec(extraProperty: extraProperty)
        TestSupport.write(
            """
            mixture:
              unit: samples
              components:
                - {name: en, where: 'lang == "en"', weight: 0.4}
                - {name: rest, where: 'true', weight: 0.6}
            training: {global_batch: 16, data_parallel: 2, steps: 8}
            order: {shuffle: samples}
            seed: 7
            on_exhausted: stop
            """, to: build)
    }

    func writeSpec(extraProperty: Bool) {
        var text = "datasets:\n"
        for ds in ["zeta", "alpha"] {
            text += """
                  - name: \(ds)
                    root: \(dir)/\(ds)
                    format: jsonl
                    text: text
                    properties:
                      lang: {path: meta.lang, type: string}
                      src: {path: meta.src, type: string}
                      q: {path: q, type: float}

                """
            if extraProperty && ds == "alpha" { text += "      n: {path: n, type: int}\n" }
        }
        TestSupport.write(text, to: spec)
    }
}

/// The logical views of a catalog that must match: stats (without the path), samples, files, a manifest.
struct CatalogViews: Equatable {
    var stats: String
    var samples: String
    var files: String
    var manifest: [String: Data]
    /// keys and files tables (ids, encodings, blobs) via python3's sqlite3.
    var tables: String

    init(catalog: String, corpus: GeneratedCorpus) throws {
        let s = try TestSupport.run(["catalog", "stats", "--catalog", catalog, "--json"])
        #expect(s.status == 0, "\(s.stderr)")
        stats = s.stdout.split(separator: "\n").filter { !$0.contains("\"catalog\":") }.joined(separator: "\n")
        samples = try TestSupport.run(["catalog", "samples", "--catalog", catalog]).stdout
        files = try TestSupport.run(["catalog", "files", "--catalog", catalog]).stdout
        let out = TestSupport.temporaryDirectory("m")
        let b = try TestSupport.run(["build-manifest", "--catalog", catalog, "--spec", corpus.build, "--out", out + "/m"])
        #expect(b.status == 0, "\(b.stderr)")
        manifest = TestSupport.directoryContents(out + "/m")
        tables = try python(
            """
            import sqlite3, sys
            c = sqlite3.connect(sys.argv[1])
            for r in c.execute('select id, dataset_id, hex(encoded) from keys order by id'): print(r)
            for r in c.execute('select id, dataset_id, rel_path, fingerprint, sample_count, state, hex(index_blob) from files order by id'): print(r)
            for r in c.execute('select * from datasets order by id'): print(r)
            """, catalog)
    }
}

@discardableResult
func python(_ script: String, _ args: String...) throws -> String {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    p.arguments = ["python3", "-c", script] + args
    let out = Pipe()
    p.standardOutput = out
    try p.run()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return String(decoding: data, as: UTF8.self)
}

@Suite(.serialized) struct ScaleOutTests {
    /// The same files created in another order (so listed in another order on file systems that list by creation),
    /// under another root: identical catalog fingerprint, and rank files and label table identical but for the hash
    /// of the header.json they belong to.
    @Test func fileListingOrderDoesNotMatter() throws {
        let corpus = GeneratedCorpus(files: 9)
        let copy = TestSupport.temporaryDirectory("corpus-reordered")
        var rng = SplitMix64(seed: TestSupport.seed &+ 99)
        var paths: [String] = []
        for ds in ["zeta", "alpha"] {
            for p in try FileManager.default.subpathsOfDirectory(atPath: corpus.dir + "/" + ds) where p.hasSuffix(".jsonl") {
                paths.append(ds + "/" + p)
            }
        }
        paths.sort()
        rng.shuffle(&paths)
        for p in paths {
            try FileManager.default.createDirectory(
                atPath: copy + "/" + (p as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try FileManager.default.copyItem(atPath: corpus.dir + "/" + p, toPath: copy + "/" + p)
        }
        let spec = try String(contentsOfFile: corpus.spec, encoding: .utf8).replacingOccurrences(of: corpus.dir, with: copy)
        TestSupport.write(spec, to: copy + "/datasets.yaml")
        let build = try String(contentsOfFile: corpus.build, encoding: .utf8)
            .replacingOccurrences(of: "shuffle: samples", with: "shuffle: blocks, block_size: 4")
        TestSupport.write(build, to: copy + "/build.yaml")
        var fingerprints: [String] = []
        var manifests: [[String: Data]] = []
        for (root, jobs) in [(corpus.dir, "1"), (copy, "2")] {
            let c = root + "/c.sqlite"
            #expect(
                try TestSupport.run(["scan", "--spec", root + "/datasets.yaml", "--catalog", c, "--jobs", jobs, "--quiet"])
                    .status == 0)
            let stats = try TestSupport.run(["catalog", "stats", "--catalog", c, "--json"]).stdout
            fingerprints.append(stats.split(separator: "\n").first { $0.contains("\"fingerprint\"") }.map(String.init) ?? "")
            let b = try TestSupport.run([
                "build-manifest", "--catalog", c, "--spec", copy + "/build.yaml", "--out", root + "/m", "--labels", "always",
                "--quiet",
            ])
            #expect(b.status == 0, "\(b.stderr)")
            // header.json differs (absolute roots, mtimes), so do the hashes that bind the other files to it: rank
            // files' bytes 40..<48 and their header checksum 56..<64, labels.bin's 32..<48.
            var files = TestSupport.directoryContents(root + "/m").filter { $0.key != "header.json" }
            for (name, data) in files {
                var b = [UInt8](data)
                for i in name == "labels.bin" ? Array(32..<48) : Array(40..<48) + Array(56..<64) { b[i] = 0 }
                files[name] = Data(b)
            }
            manifests.append(files)
        }
        #expect(!fingerprints[0].isEmpty && fingerprints[0] == fingerprints[1])
        #expect(manifests[0].keys.contains("labels.bin") && manifests[0].count == 3)
        #expect(manifests[0] == manifests[1])
    }

    @Test func shardsScannedByNProcessesMergeIntoASingleScan() throws {
        let corpus = GeneratedCorpus(files: 14)
        let dir = TestSupport.temporaryDirectory("shards")
        let single = try TestSupport.run(["scan", "--spec", corpus.spec, "--catalog", dir + "/single.sqlite", "--quiet"])
        #expect(single.status == 0, "\(single.stderr)")
        let reference = try CatalogViews(catalog: dir + "/single.sqlite", corpus: corpus)
        #expect(reference.manifest.count == 3)
        for n in 1...3 {
            // N concurrent `mixtera scan --shard i/N` processes, like N machines.
            let parts = (0..<n).map { dir + "/n\(n)-part\($0).sqlite" }
            let processes = try parts.enumerated().map { i, part in
                let p = Process()
                p.executableURL = URL(fileURLWithPath: TestSupport.binary)
                p.arguments = [
                    "scan", "--spec", corpus.spec, "--catalog", part, "--shard", "\(i)/\(n)", "--jobs", "1", "--quiet",
                ]
                p.standardOutput = FileHandle.nullDevice
                try p.run()
                return p
            }
            for p in processes {
                p.waitUntilExit()
                #expect(p.terminationStatus == 0, "N = \(n)")
            }
            var filesPerPart: [Int] = []
            for part in parts {
                filesPerPart.append(
                    try TestSupport.run(["catalog", "files", "--catalog", part]).stdout.split(separator: "\n").count)
            }
            #expect(filesPerPart.reduce(0, +) == 28, "N = \(n): \(filesPerPart)")
            if n > 1 { #expect(filesPerPart.allSatisfy { $0 > 0 && $0 < 28 }, "N = \(n): \(filesPerPart)") }
            // Parts in any order give the same catalog.
            let merged = dir + "/merged-\(n).sqlite"
            let m = try TestSupport.run(["catalog", "merge", "--out", merged] + parts.reversed())
            #expect(m.status == 0, "\(m.stderr)")
            #expect(m.stdout.hasPrefix("merged \(n) parts: 2 datasets, 28 files"), "\(m.stdout)")
            let views = try CatalogViews(catalog: merged, corpus: corpus)
            #expect(views.stats == reference.stats, "N = \(n)")
            #expect(views.samples == reference.samples, "N = \(n)")
            #expect(views.files == reference.files, "N = \(n)")
            #expect(views.manifest == reference.manifest, "N = \(n)")
            #expect(views.tables == reference.tables, "N = \(n)")
        }
    }

    @Test func overlappingPartsMustBeIdentical() throws {
        let corpus = GeneratedCorpus(files: 6)
        let dir = TestSupport.temporaryDirectory("overlap")
        #expect(try TestSupport.run(["scan", "--spec", corpus.spec, "--catalog", dir + "/a.sqlite", "--quiet"]).status == 0)
        #expect(
            try TestSupport.run(["scan", "--spec", corpus.spec, "--catalog", dir + "/b.sqlite", "--shard", "0/2", "--quiet"])
                .status == 0)
        // Identical overlap merges and equals a single scan.
        let ok = try TestSupport.run([
            "catalog", "merge", "--out", dir + "/ab.sqlite", dir + "/a.sqlite", dir + "/b.sqlite", "--json",
        ])
        #expect(ok.status == 0, "\(ok.stderr)")
        #expect(
            try CatalogViews(catalog: dir + "/ab.sqlite", corpus: corpus)
                == CatalogViews(catalog: dir + "/a.sqlite", corpus: corpus))
        // The output must not exist.
        let again = try TestSupport.run(["catalog", "merge", "--out", dir + "/ab.sqlite", dir + "/a.sqlite"])
        #expect(again.status == 73)
        #expect(again.stderr == "mixtera: \(dir)/ab.sqlite: error: output catalog exists; merge writes a new catalog [exists]\n")
        // A file changed between the two scans: error naming it.
        let victim = try FileManager.default.subpathsOfDirectory(atPath: corpus.dir + "/zeta").filter { $0.hasSuffix(".jsonl") }
            .sorted()
            .first { p in
                try! TestSupport.run(["catalog", "samples", "--catalog", dir + "/b.sqlite", "--file", p, "--limit", "1"]).stdout
                    != ""
            }!
        let path = corpus.dir + "/zeta/" + victim
        try
            (String(contentsOfFile: path, encoding: .utf8)
            + "{\"text\": \"new\", \"meta\": {\"lang\": \"en\", \"src\": \"web\"}, \"q\": 0.5}\n")
            .write(toFile: path, atomically: true, encoding: .utf8)
        #expect(
            try TestSupport.run(["scan", "--spec", corpus.spec, "--catalog", dir + "/b.sqlite", "--shard", "0/2", "--quiet"])
                .status == 0)
        let bad = try TestSupport.run(["catalog", "merge", "--out", dir + "/bad.sqlite", dir + "/a.sqlite", dir + "/b.sqlite"])
        #expect(bad.status == 65)
        #expect(
            bad.stderr
                == "mixtera: \(dir)/b.sqlite: error: zeta/\(victim) differs between \(dir)/a.sqlite and \(dir)/b.sqlite; rescan one of them [parts-overlap]\n"
        )
        #expect(!FileManager.default.fileExists(atPath: dir + "/bad.sqlite"))
        // Parts from different specs disagree.
        corpus.writeSpec(extraProperty: true)
        #expect(
            try TestSupport.run(["scan", "--spec", corpus.spec, "--catalog", dir + "/c.sqlite", "--shard", "1/2", "--quiet"])
                .status == 0)
        let disagree = try TestSupport.run([
            "catalog", "merge", "--out", dir + "/bad.sqlite", dir + "/a.sqlite", dir + "/c.sqlite",
        ])
        #expect(disagree.status == 65)
        #expect(
            disagree.stderr.hasSuffix(
                "error: dataset declarations differ (root, format, text/tokens fields or properties) from \(dir)/a.sqlite; scan every part with the same spec [parts-disagree]\n"
            ), "\(disagree.stderr)")
    }
}

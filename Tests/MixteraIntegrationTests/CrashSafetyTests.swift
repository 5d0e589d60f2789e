import Foundation
import MixteraCore
import MixteraTestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// kill -9 during scans, removed files, and property changes, through the built binary.
@Suite(.serialized) struct CrashSafetyTests {
    /// Checks `PRAGMA integrity_check`, that every file row's sample count is the file's line count,
    /// and that every live blob decodes to that many samples; returns the number of stored files.
    func checkConsistent(_ catalog: String, corpus: GeneratedCorpus, context: String) throws -> Int {
        let out = try python(
            """
            import sqlite3, sys, os
            c = sqlite3.connect(sys.argv[1])
            print(c.execute('pragma integrity_check').fetchone()[0])
            bad = 0
            n = 0
            for name, root, rel, count, state in c.execute('select d.name, d.root, f.rel_path, f.sample_count, f.state from files f join datasets d on d.id = f.dataset_id'):
                lines = sum(1 for l in open(os.path.join(root, rel), 'rb') if l.strip())
                if lines != count or state != 'ok': bad += 1
                n += 1
            print(bad, n)
            """, catalog)
        let lines = out.split(separator: "\n")
        #expect(lines.first == "ok", "\(context): \(out)")
        let parts = lines.count > 1 ? lines[1].split(separator: " ").compactMap { Int($0) } : []
        #expect(parts.count == 2 && parts[0] == 0, "\(context): \(out)")
        // Every blob decodes: samples per file equal the stored counts.
        let samples = try TestSupport.run(["catalog", "samples", "--catalog", catalog])
        #expect(samples.status == 0, "\(context): \(samples.stderr)")
        let files = try TestSupport.run(["catalog", "files", "--catalog", catalog])
        var expected: [String: Int] = [:]
        for l in files.stdout.split(separator: "\n") {
            let j = try JSONSerialization.jsonObject(with: Data(l.utf8)) as! [String: Any]
            expected["\(j["dataset"]!)/\(j["file"]!)"] = j["samples"] as? Int
        }
        var got: [String: Int] = [:]
        for l in samples.stdout.split(separator: "\n") {
            let j = try JSONSerialization.jsonObject(with: Data(l.utf8)) as! [String: Any]
            got["\(j["dataset"]!)/\(j["file"]!)", default: 0] += 1
        }
        #expect(got == expected.filter { $0.value > 0 }, "\(context)")
        return parts.count == 2 ? parts[1] : -1
    }

    /// Starts `mixtera scan` and SIGKILLs it after `ms` milliseconds (if still running).
    func scanAndKill(_ corpus: GeneratedCorpus, catalog: String, afterMilliseconds ms: Int) throws -> Bool {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: TestSupport.binary)
        p.arguments = ["scan", "--spec", corpus.spec, "--catalog", catalog, "--jobs", "1", "--quiet"]
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        usleep(UInt32(ms * 1000))
        let killed = p.isRunning
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        return killed && p.terminationReason == .uncaughtSignal
    }

    @Test func killedScansLeaveAConsistentCatalogAndARerunCompletesIt() throws {
        let corpus = GeneratedCorpus(files: 200, maxRows: 30)
        let total = 400
        let dir = TestSupport.temporaryDirectory("kill")
        let full = try TestSupport.run([
            "scan", "--spec", corpus.spec, "--catalog", dir + "/ref.sqlite", "--jobs", "1", "--quiet",
        ])
        #expect(full.status == 0, "\(full.stderr)")
        // Kill delays spread over the time an uninterrupted scan takes here (median of 3 runs, process
        // start included), so they land mid-scan on slow and fast machines alike.
        var durations: [Int] = []
        for r in 0..<3 {
            let t0 = Date()
            #expect(
                try TestSupport.run(["scan", "--spec", corpus.spec, "--catalog", dir + "/t\(r).sqlite", "--jobs", "1", "--quiet"])
                    .status == 0)
            durations.append(Int(Date().timeIntervalSince(t0) * 1000))
        }
        let fullMilliseconds = max(20, durations.sorted()[1])
        let reference = try CatalogViews(catalog: dir + "/ref.sqlite", corpus: corpus)
        var rng = SplitMix64(seed: TestSupport.seed)
        var partial = 0
        for i in 0..<12 {
            let cat = dir + "/c\(i).sqlite"
            // Two kills in a row (fresh, then resumed), then a run to completion.
            var stored: [Int] = []
            for k in 0..<2 {
                let ms = 5 + Int(rng.nextBelow(UInt64(k == 0 ? fullMilliseconds : fullMilliseconds / 2)))
                let killed = try scanAndKill(corpus, catalog: cat, afterMilliseconds: ms)
                guard FileManager.default.fileExists(atPath: cat) else { continue }
                let n = try checkConsistent(cat, corpus: corpus, context: "iteration \(i) kill \(k) after \(ms) ms")
                if killed && n > 0 && n < total { partial += 1 }
                stored.append(n)
            }
            if stored.count == 2 { #expect(stored[0] <= stored[1], "iteration \(i): \(stored)") }
            let rerun = try TestSupport.run(["scan", "--spec", corpus.spec, "--catalog", cat, "--json"])
            #expect(rerun.status == 0, "\(rerun.stderr)")
            #expect(try checkConsistent(cat, corpus: corpus, context: "iteration \(i) rerun") == total)
            #expect(try CatalogViews(catalog: cat, corpus: corpus) == reference, "iteration \(i) (seed \(TestSupport.seed))")
        }
        // Most kills must have landed mid-scan for the test to mean anything.
        #expect(partial >= 6, "only \(partial) of 24 kills interrupted a scan midway (full scan: \(fullMilliseconds) ms)")
    }

    @Test func aDeletedFileIsMarkedRemovedAndLeftOutOfManifests() throws {
        let corpus = GeneratedCorpus(files: 8)
        let dir = TestSupport.temporaryDirectory("removed")
        #expect(try TestSupport.run(["scan", "--spec", corpus.spec, "--catalog", dir + "/c.sqlite", "--quiet"]).status == 0)
        let victim = "d1/part-0004.jsonl"
        try FileManager.default.removeItem(atPath: corpus.dir + "/zeta/" + victim)
        let r = try TestSupport.run(["scan", "--spec", corpus.spec, "--catalog", dir + "/c.sqlite", "--json"])
        let j = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as! [String: Any]
        let ds = j["datasets"] as! [[String: Any]]
        #expect(ds.map { $0["removed"] as! Int } == [1, 0])
        #expect(ds.map { $0["scanned"] as! Int } == [0, 0])
        #expect(ds.map { $0["unchanged"] as! Int } == [7, 8])
        let files = try TestSupport.run(["catalog", "files", "--catalog", dir + "/c.sqlite"]).stdout
        #expect(files.split(separator: "\n").filter { $0.contains("\"state\":\"removed\"") }.count == 1)
        #expect(files.contains("\"file\":\"\(victim)\""))
        let stats = try TestSupport.run(["catalog", "stats", "--catalog", dir + "/c.sqlite", "--json"]).stdout
        #expect(stats.contains("\"removed_files\": 1"))
        let m = try TestSupport.run([
            "build-manifest", "--catalog", dir + "/c.sqlite", "--spec", corpus.build, "--out", dir + "/m",
        ])
        #expect(m.status == 0, "\(m.stderr)")
        let header =
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/m/header.json")))
            as! [String: Any]
        let names = (header["datasets"] as! [[String: Any]]).map { $0["name"] as! String }
        let paths = (header["files"] as! [[String: Any]]).map { names[$0["dataset"] as! Int] + "/" + ($0["path"] as! String) }
        #expect(!paths.contains("zeta/" + victim))
        #expect(paths.contains("alpha/" + victim))
        #expect(paths.count == 15)
        // Equal in content to a fresh scan of the tree without the file, apart from the lineage row.
        #expect(try TestSupport.run(["scan", "--spec", corpus.spec, "--catalog", dir + "/fresh.sqlite", "--quiet"]).status == 0)
        let a = try CatalogViews(catalog: dir + "/c.sqlite", corpus: corpus)
        let b = try CatalogViews(catalog: dir + "/fresh.sqlite", corpus: corpus)
        #expect(a.samples == b.samples)
        #expect(a.manifest == b.manifest)
    }

    @Test func aNewPropertyRescansExactlyTheFilesOfItsDataset() throws {
        let corpus = GeneratedCorpus(files: 9)
        let dir = TestSupport.temporaryDirectory("newprop")
        #expect(try TestSupport.run(["scan", "--spec", corpus.spec, "--catalog", dir + "/c.sqlite", "--quiet"]).status == 0)
        corpus.writeSpec(extraProperty: true)
        let r = try TestSupport.run(["scan", "--spec", corpus.spec, "--catalog", dir + "/c.sqlite", "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let j = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as! [String: Any]
        let ds = j["datasets"] as! [[String: Any]]
        #expect(ds.map { $0["name"] as! String } == ["zeta", "alpha"])
        #expect(ds.map { $0["scanned"] as! Int } == [0, 9])
        #expect(ds.map { $0["unchanged"] as! Int } == [9, 0])
        let again = try TestSupport.run(["scan", "--spec", corpus.spec, "--catalog", dir + "/c.sqlite", "--json"])
        #expect(again.stdout.contains("\"scanned\": 0") && !again.stdout.contains("\"scanned\": 9"))
        // The result equals a fresh scan with the new spec.
        #expect(try TestSupport.run(["scan", "--spec", corpus.spec, "--catalog", dir + "/fresh.sqlite", "--quiet"]).status == 0)
        let a = try CatalogViews(catalog: dir + "/c.sqlite", corpus: corpus)
        let b = try CatalogViews(catalog: dir + "/fresh.sqlite", corpus: corpus)
        #expect(a.stats == b.stats)
        #expect(a.samples == b.samples)
        #expect(a.samples.contains("\"n\":"))
        #expect(a.manifest == b.manifest)
    }

    @Test func buildRefusesFilesIndexedWithOldDeclarations() throws {
        // The state a scan killed right after updating a dataset's declarations leaves behind:
        // the dataset row has the new hash, its files the old one.
        let corpus = GeneratedCorpus(files: 4)
        let dir = TestSupport.temporaryDirectory("stale")
        #expect(try TestSupport.run(["scan", "--spec", corpus.spec, "--catalog", dir + "/c.sqlite", "--quiet"]).status == 0)
        try python(
            "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute(\"update datasets set properties_hash='0000000000000000' where name='alpha'\"); c.commit()",
            dir + "/c.sqlite")
        let b = try TestSupport.run([
            "build-manifest", "--catalog", dir + "/c.sqlite", "--spec", corpus.build, "--out", dir + "/m",
        ])
        #expect(b.status == 65)
        #expect(
            b.stderr
                == "mixtera: \(dir)/c.sqlite: error: 4 file(s) of dataset \"alpha\" (first: d0/part-0000.jsonl) were indexed with other property declarations; rerun `mixtera scan` [stale-catalog]\n"
        )
        // The next scan brings the catalog back in line.
        #expect(try TestSupport.run(["scan", "--spec", corpus.spec, "--catalog", dir + "/c.sqlite", "--quiet"]).status == 0)
        #expect(
            try TestSupport.run(["build-manifest", "--catalog", dir + "/c.sqlite", "--spec", corpus.build, "--out", dir + "/m"])
                .status == 0)
    }
}

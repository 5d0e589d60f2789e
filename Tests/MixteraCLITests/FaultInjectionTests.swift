import Foundation
import MixteraTestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Faults through the built binary (docs/security.md): corrupted manifests, kill -9 during
/// `build-manifest`, a file-size limit standing in for a full disk, and data files deleted after
/// the scan. (kill -9 during `scan` is CrashSafetyTests; a concurrent scan is
/// CLITests.concurrentScanFailsWithLocked.)
@Suite(.serialized) struct FaultInjectionTests {
    /// A private copy of the JSONL fixtures, its catalog and a build spec large enough (4,000 steps,
    /// about 0.5 s) for kills to land mid-build.
    struct Setup {
        let dir: String
        var catalog: String { dir + "/c.sqlite" }
        var spec: String { dir + "/datasets.yaml" }
        var build: String { dir + "/build.yaml" }

        init(steps: Int = 4000, seed: Int = 42) throws {
            dir = TestSupport.temporaryDirectory("fault")
            try FileManager.default.copyItem(atPath: TestSupport.fixture("jsonl/corpus"), toPath: dir + "/data")
            TestSupport.write(
                """
                datasets:
                  - {name: corpus, root: data, include: ["**/*.jsonl"], text: text, properties: {language: {path: meta.language}}}
                """, to: spec)
            writeBuild(steps: steps, seed: seed, to: build)
            let r = try TestSupport.run(["scan", "--spec", spec, "--catalog", catalog, "--quiet"])
            precondition(r.status == 0, r.stderr)
        }

        func writeBuild(steps: Int, seed: Int, to path: String) {
            TestSupport.write(
                """
                query: 'true'
                mixture:
                  unit: samples
                  components:
                    - {name: en, where: 'language == "en"', weight: 0.5, on_exhausted: repeat}
                    - {name: rest, where: 'true', weight: 0.5, on_exhausted: repeat}
                training: {global_batch: 40, data_parallel: 4, steps: \(steps)}
                order: {shuffle: blocks, block_size: 8}
                seed: \(seed)
                """, to: path)
        }

        func buildManifest(_ out: String, spec: String? = nil) throws -> TestSupport.RunResult {
            try TestSupport.run(["build-manifest", "--catalog", catalog, "--spec", spec ?? build, "--out", out, "--quiet"])
        }
    }

    static func leftovers(_ dir: String, _ base: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).filter {
            $0.hasPrefix(base + ".tmp-") || $0.hasPrefix(base + ".old-")
        }
    }

    // MARK: Corrupted manifests

    struct ManifestCase: Sendable, CustomStringConvertible {
        var name: String
        var status: Int32
        var kind: String
        /// The error location starts with the manifest path followed by this.
        var location: String
        var description: String { name }
    }

    static func patch(_ path: String, _ body: (inout [UInt8]) -> Void) {
        var b = [UInt8](FileManager.default.contents(atPath: path)!)
        body(&b)
        FileManager.default.createFile(atPath: path, contents: Data(b))
    }

    static func replaceInHeader(_ m: String, _ old: String, _ new: String) {
        let p = m + "/header.json"
        let s = try! String(contentsOfFile: p, encoding: .utf8)
        precondition(s.contains(old), "header.json has no \(old)")
        try! s.replacingOccurrences(of: old, with: new).write(toFile: p, atomically: false, encoding: .utf8)
    }

    static let manifestCases: [ManifestCase] = [
        ManifestCase(name: "header truncated", status: 65, kind: "bad-header", location: "/header.json@"),
        ManifestCase(name: "header bit flip", status: 65, kind: "bad-header", location: "/header.json@"),
        ManifestCase(name: "header edited", status: 65, kind: "header-mismatch", location: "/rank-00000.bin@40"),
        ManifestCase(name: "wrong version", status: 65, kind: "unsupported-version", location: "/header.json"),
        ManifestCase(name: "header missing", status: 66, kind: "not-a-manifest", location: ""),
        ManifestCase(name: "file path with ..", status: 65, kind: "unsafe-path", location: "/header.json"),
        ManifestCase(name: "absolute file path", status: 65, kind: "unsafe-path", location: "/header.json"),
        ManifestCase(name: "rank truncated", status: 65, kind: "truncated", location: "/rank-00000.bin"),
        ManifestCase(name: "rank header bit flip", status: 65, kind: "checksum-mismatch", location: "/rank-00000.bin@56"),
        ManifestCase(name: "rank block bit flip", status: 65, kind: "checksum-mismatch", location: "/rank-00000.bin@"),
        ManifestCase(name: "rank of another manifest", status: 65, kind: "header-mismatch", location: "/rank-00000.bin@40"),
        ManifestCase(name: "rank missing", status: 66, kind: "missing-rank-file", location: "/rank-00000.bin"),
        // The fixture's manifests have label tables (format 1.2).
        ManifestCase(name: "labels missing", status: 66, kind: "missing-labels", location: "/labels.bin"),
        ManifestCase(name: "labels bit flip", status: 65, kind: "checksum-mismatch", location: "/labels.bin@"),
        ManifestCase(name: "labels of another manifest", status: 65, kind: "header-mismatch", location: "/labels.bin@32"),
    ]

    static let manifestSetup: (Setup, String, String) = {
        let s = try! Setup(steps: 40)
        precondition(try! s.buildManifest(s.dir + "/m").status == 0)
        precondition(FileManager.default.fileExists(atPath: s.dir + "/m/labels.bin"), "the fixture manifest has no label table")
        s.writeBuild(steps: 40, seed: 7, to: s.dir + "/other.yaml")
        precondition(try! s.buildManifest(s.dir + "/other", spec: s.dir + "/other.yaml").status == 0)
        return (s, s.dir + "/m", s.dir + "/other")
    }()

    @Test(arguments: manifestCases)
    func corruptedManifestGetsKindLocationAndExitCode(_ c: ManifestCase) throws {
        let (_, good, other) = Self.manifestSetup
        let m = TestSupport.temporaryDirectory("bad-manifest") + "/m"
        try FileManager.default.copyItem(atPath: good, toPath: m)
        let rank0 = m + "/rank-00000.bin"
        switch c.name {
        case "header truncated": Self.patch(m + "/header.json") { $0.removeSubrange(($0.count / 2)...) }
        case "header bit flip": Self.patch(m + "/header.json") { $0[0] ^= 0x04 }  // "{" -> "\x7f"
        case "header edited": Self.replaceInHeader(m, "\"seed\": 42", "\"seed\": 43")
        case "wrong version": Self.replaceInHeader(m, "\"format_version\": \"1.", "\"format_version\": \"2.")
        case "header missing": try FileManager.default.removeItem(atPath: m + "/header.json")
        case "file path with ..": Self.replaceInHeader(m, "\"path\": \"", "\"path\": \"../../../../etc/")
        case "absolute file path": Self.replaceInHeader(m, "\"path\": \"", "\"path\": \"/etc/")
        case "rank truncated": Self.patch(rank0) { $0.removeLast(9) }
        case "rank header bit flip": Self.patch(rank0) { $0[20] ^= 0x01 }
        case "rank block bit flip": Self.patch(rank0) { $0[70] ^= 0x10 }
        case "rank of another manifest":
            try FileManager.default.removeItem(atPath: rank0)
            try FileManager.default.copyItem(atPath: other + "/rank-00000.bin", toPath: rank0)
        case "rank missing": try FileManager.default.removeItem(atPath: rank0)
        case "labels missing": try FileManager.default.removeItem(atPath: m + "/labels.bin")
        case "labels bit flip": Self.patch(m + "/labels.bin") { $0[$0.count - 2] ^= 0x08 }
        case "labels of another manifest":
            try FileManager.default.removeItem(atPath: m + "/labels.bin")
            try FileManager.default.copyItem(atPath: other + "/labels.bin", toPath: m + "/labels.bin")
        default: Issue.record("no corruption for \(c.name)")
        }
        let r = try TestSupport.run(["replay", "--manifest", m, "--rank", "0", "--steps", "0:2"])
        #expect(r.status == c.status, "\(c.name): \(r.stderr)")
        #expect(r.stderr.hasPrefix("mixtera: \(m)\(c.location)"), "\(c.name): \(r.stderr)")
        #expect(r.stderr.hasSuffix(" [\(c.kind)]\n"), "\(c.name): \(r.stderr)")
        #expect(r.stderr.split(separator: "\n").count == 1)
        #expect(r.stdout.isEmpty, "\(c.name): replay printed samples from a corrupt manifest")
    }

    // MARK: kill -9 during build-manifest

    /// Starts `build-manifest` and SIGKILLs it after `ms` milliseconds; true when it was still running.
    func buildAndKill(_ s: Setup, out: String, afterMilliseconds ms: Int) throws -> Bool {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: TestSupport.binary)
        p.arguments = ["build-manifest", "--catalog", s.catalog, "--spec", s.build, "--out", out, "--quiet"]
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        usleep(UInt32(ms * 1000))
        let running = p.isRunning
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        return running && p.terminationReason == .uncaughtSignal
    }

    /// kill -9 at random points: the destination holds either nothing or the complete manifest
    /// (previous or new, byte-identical to an uninterrupted build), a rerun succeeds with identical
    /// bytes, and the rerun removes the `.tmp-PID` directories the killed builds left.
    @Test func killedBuildsNeverLeaveAPartialManifest() throws {
        let s = try Setup()
        let reference = s.dir + "/ref"
        let t0 = Date()
        #expect(try s.buildManifest(reference).status == 0)
        let fullMilliseconds = max(30, Int(Date().timeIntervalSince(t0) * 1000))
        let expected = TestSupport.directoryContents(reference)
        var state = TestSupport.seed
        func nextBelow(_ n: Int) -> Int {  // SplitMix64
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return Int((z ^ (z >> 31)) % UInt64(n))
        }
        var midway = 0
        let kills = Int(ProcessInfo.processInfo.environment["MIXTERA_KILL_POINTS"] ?? "") ?? 16
        for i in 0..<kills {
            let out = s.dir + "/m\(i % 4)"  // reuse destinations: kills also hit replacements
            let ms = 2 + nextBelow(fullMilliseconds)
            let killed = try buildAndKill(s, out: out, afterMilliseconds: ms)
            if killed { midway += 1 }
            if FileManager.default.fileExists(atPath: out) {
                #expect(TestSupport.directoryContents(out) == expected, "kill \(i) after \(ms) ms left a partial manifest")
            }
            if i % 4 == 3 || i == kills - 1 {
                #expect(try s.buildManifest(out).status == 0)
                #expect(TestSupport.directoryContents(out) == expected, "rerun after kill \(i)")
                #expect(Self.leftovers(s.dir, (out as NSString).lastPathComponent) == [], "rerun after kill \(i)")
                #expect(try TestSupport.run(["verify", "--manifest", out]).status == 0)
            }
        }
        print(
            "killedBuildsNeverLeaveAPartialManifest: \(kills) kill points, \(midway) mid-build (full build \(fullMilliseconds) ms)"
        )
        #expect(midway >= kills / 3, "only \(midway) of \(kills) kills landed mid-build (full build: \(fullMilliseconds) ms)")
    }

    // MARK: Full disk (file-size limit)

    /// Runs the binary under `ulimit -f blocks` (512-byte blocks with /bin/sh).
    static func runLimited(_ blocks: Int, _ args: [String]) throws -> TestSupport.RunResult {
        let quoted = ([TestSupport.binary] + args).map { "'" + $0.replacingOccurrences(of: "'", with: "'\\''") + "'" }
        return try TestSupport.run(["-c", "ulimit -f \(blocks) && exec " + quoted.joined(separator: " ")], executable: "/bin/sh")
    }

    @Test func buildManifestOnAFullDiskFailsCleanly() throws {
        let s = try Setup()
        // `ulimit -f` caps every file's size (the stderr file too). Below 64 blocks (32 KiB) SQLite
        // cannot map the catalog's -shm file; from there on, rank files (about 64 KiB here without a label
        // table) hit it.
        for blocks in [1, 70, 100] {
            let out = s.dir + "/full\(blocks)"
            let r = try Self.runLimited(
                blocks,
                [
                    "build-manifest", "--catalog", s.catalog, "--spec", s.build, "--out", out, "--quiet", "--labels", "never",
                ])
            #expect(r.status == 74, "ulimit -f \(blocks): \(r.stderr)")
            let expected = blocks < 64 ? "disk i/o error [sqlite]" : "cannot write file: file too large [cannot-create]"
            #expect(r.stderr.hasSuffix(expected + "\n"), "\(r.stderr)")
            #expect(!FileManager.default.fileExists(atPath: out), "ulimit -f \(blocks) left a manifest")
            #expect(Self.leftovers(s.dir, "full\(blocks)") == [])
        }
        // Replacing an existing manifest on a full disk keeps the old one intact.
        let out = s.dir + "/keep"
        #expect(try s.buildManifest(out).status == 0)
        let before = TestSupport.directoryContents(out)
        s.writeBuild(steps: 4000, seed: 9, to: s.dir + "/b9.yaml")
        let r = try Self.runLimited(
            100,
            [
                "build-manifest", "--catalog", s.catalog, "--spec", s.dir + "/b9.yaml", "--out", out, "--quiet", "--labels",
                "never",
            ])
        #expect(r.status == 74)
        #expect(TestSupport.directoryContents(out) == before)
        #expect(Self.leftovers(s.dir, "keep") == [])
    }

    @Test func scanOnAFullDiskFailsCleanly() throws {
        let s = try Setup(steps: 8)
        // A fresh catalog: nothing at the path, no temporary files left.
        let fresh = s.dir + "/fresh.sqlite"
        let r = try Self.runLimited(8, ["scan", "--spec", s.spec, "--catalog", fresh, "--quiet"])
        #expect(r.status == 74, "\(r.stderr)")
        let names = try FileManager.default.contentsOfDirectory(atPath: s.dir).filter { $0.hasPrefix("fresh.sqlite") }
        #expect(names == [], "\(names)")
        // An existing catalog growing past the limit: the scan fails, the catalog stays usable and
        // a rerun without the limit completes it.
        let more = s.dir + "/data/more"
        try FileManager.default.createDirectory(atPath: more, withIntermediateDirectories: true)
        let line = #"{"text": "\#(String(repeating: "z", count: 200))", "meta": {"language": "xx"}}"# + "\n"
        for f in 0..<40 { TestSupport.write(String(repeating: line, count: 50), to: more + "/p\(f).jsonl") }
        let size = (try FileManager.default.attributesOfItem(atPath: s.catalog)[.size] as? Int) ?? 0
        let grow = try Self.runLimited(max(1, size / 512 + 2), ["scan", "--spec", s.spec, "--catalog", s.catalog, "--quiet"])
        #expect(grow.status == 74 || grow.status == 0, "\(grow.stderr)")
        let check = try TestSupport.run(["catalog", "stats", "--catalog", s.catalog, "--json"])
        #expect(check.status == 0, "\(check.stderr)")
        #expect(try TestSupport.run(["scan", "--spec", s.spec, "--catalog", s.catalog, "--quiet"]).status == 0)
        #expect(try s.buildManifest(s.dir + "/after").status == 0)
    }

    // MARK: Data files deleted after the scan

    @Test func aDataFileDeletedAfterTheScanIsAClearErrorAtVerifyAndReplay() throws {
        let s = try Setup(steps: 40)
        try FileManager.default.removeItem(atPath: s.dir + "/data/web/part-000.jsonl")
        // build-manifest plans from the catalog and does not read data files: it succeeds.
        #expect(try s.buildManifest(s.dir + "/m").status == 0)
        let missing = "\(s.dir)/data/web/part-000.jsonl"
        let message =
            "data file is missing (manifest expects web/part-000.jsonl of dataset \"corpus\"); remap roots with --root OLD=NEW if it moved"
        let verify = try TestSupport.run(["verify", "--manifest", s.dir + "/m"])
        #expect(verify.status == 65)
        #expect(verify.stderr.contains("mixtera: \(missing): \(message)\n"), "\(verify.stderr)")
        let replay = try TestSupport.run(["replay", "--manifest", s.dir + "/m", "--rank", "0"])
        #expect(replay.status == 66)
        #expect(replay.stderr.hasSuffix("mixtera: \(missing): error: \(message) [data-missing]\n"), "\(replay.stderr)")
        // A rescan marks the file removed and the next build leaves it out.
        #expect(try TestSupport.run(["scan", "--spec", s.spec, "--catalog", s.catalog, "--quiet"]).status == 0)
        #expect(try s.buildManifest(s.dir + "/m2").status == 0)
        #expect(try TestSupport.run(["verify", "--manifest", s.dir + "/m2"]).status == 0)
    }
}

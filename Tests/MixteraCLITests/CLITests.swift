import Foundation
import MixteraCore
import MixteraTestSupport
import Testing

/// Runs the built `mixtera` binary: exit codes, one-line errors with locations, and the main flow.
@Suite(.serialized) struct CLITests {
    @Test func fullFlowOnTheFixtures() throws {
        let dir = TestSupport.temporaryDirectory("cli")
        let scan = try TestSupport.run([
            "scan", "--spec", "fixtures/specs/datasets.yaml", "--catalog", dir + "/c.sqlite", "--json",
        ])
        #expect(scan.status == 0, "\(scan.stderr)")
        #expect(scan.stdout.contains("\"samples\": 1170"))
        let build = try TestSupport.run([
            "build-manifest", "--catalog", dir + "/c.sqlite", "--spec", "fixtures/specs/build.yaml", "--out", dir + "/m",
        ])
        #expect(build.status == 0, "\(build.stderr)")
        // A second build gives identical bytes.
        let again = try TestSupport.run([
            "build-manifest", "--catalog", dir + "/c.sqlite", "--spec", "fixtures/specs/build.yaml", "--out", dir + "/m2",
            "--quiet",
        ])
        #expect(again.status == 0)
        #expect(TestSupport.directoryContents(dir + "/m") == TestSupport.directoryContents(dir + "/m2"))
        // Steps 0–1 of every rank: each step's global batch holds exactly the planned per-component counts.
        let perStep = try TestSupport.run([
            "explain", "--catalog", dir + "/c.sqlite", "--spec", "fixtures/specs/build.yaml", "--json", "--per-step",
        ])
        let plan = try JSONSerialization.jsonObject(with: Data(perStep.stdout.utf8)) as! [String: Any]
        let names = (plan["components"] as! [[String: Any]]).map { $0["name"] as! String }
        let planned = (plan["per_step"] as! [[String: Any]]).map { $0["counts"] as! [Int] }
        var seen: [Int: [String: Int]] = [:]
        for rank in 0..<4 {
            let r = try TestSupport.run(["replay", "--manifest", dir + "/m", "--rank", "\(rank)", "--steps", "0:2"])
            #expect(r.status == 0)
            let lines = r.stdout.split(separator: "\n")
            #expect(lines.count == 20)
            for line in lines {
                let o = try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
                seen[o["step"] as! Int, default: [:]][o["component"] as! String, default: 0] += 1
            }
        }
        for step in 0..<2 {
            #expect(seen[step] == Dictionary(uniqueKeysWithValues: zip(names, planned[step]).filter { $0.1 > 0 }))
        }
        let replay = try TestSupport.run(["replay", "--manifest", dir + "/m", "--rank", "0", "--steps", "0:2"])
        #expect(replay.status == 0)
        let lines = replay.stdout.split(separator: "\n")
        #expect(lines.count == 20)
        #expect(
            lines[0].hasPrefix("{\"step\":0,\"rank\":0,\"slot\":0,\"component\":\"web\",\"dataset\":\"corpus\",\"file\":\"web/"))
        // Worker split covers every step exactly once.
        var union: [Substring] = []
        for w in 0..<3 {
            let r = try TestSupport.run(["replay", "--manifest", dir + "/m", "--rank", "0", "--worker", "\(w)", "--workers", "3"])
            union.append(contentsOf: r.stdout.split(separator: "\n"))
        }
        let all = try TestSupport.run(["replay", "--manifest", dir + "/m", "--rank", "0"])
        #expect(union.sorted() == all.stdout.split(separator: "\n").sorted())
        // Resume at step k equals the suffix of a full replay.
        let suffix = try TestSupport.run(["replay", "--manifest", dir + "/m", "--rank", "0", "--steps", "5:"])
        #expect(all.stdout.hasSuffix(suffix.stdout))
        let verify = try TestSupport.run(["verify", "--manifest", dir + "/m"])
        #expect(verify.status == 0)
        let which = try TestSupport.run(["which", "--manifest", dir + "/m", "--step", "3", "--catalog", dir + "/c.sqlite"])
        #expect(which.status == 0)
        #expect(which.stdout.split(separator: "\n").count == 40)
        #expect(which.stdout.contains("\"properties\":{\"source\":"))
        let explain = try TestSupport.run([
            "explain", "--catalog", dir + "/c.sqlite", "--spec", "fixtures/specs/build.yaml", "--json",
        ])
        #expect(explain.status == 0)
        let j = try JSONSerialization.jsonObject(with: Data(explain.stdout.utf8)) as! [String: Any]
        #expect(j["steps"] as? Int == 12)
        #expect((j["components"] as! [[String: Any]]).map { $0["name"] as! String } == ["web", "code", "rest"])
    }

    struct ErrorCase: Sendable, CustomStringConvertible {
        var name: String
        var args: [String]
        var status: Int32
        var stderr: String
        var description: String { name }
    }

    static let errorCases: [ErrorCase] = [
        ErrorCase(
            name: "missing spec", args: ["scan", "--spec", "nope.yaml", "--catalog", "CAT"], status: 66,
            stderr: "mixtera: nope.yaml: error: spec file does not exist [missing-spec]\n"),
        ErrorCase(
            name: "unknown format",
            args: ["scan", "--spec", "SPEC:datasets:\n  - {name: a, root: ., format: csv}\n", "--catalog", "CAT"], status: 65,
            stderr:
                "mixtera: SPECPATH:2:32: error: datasets[0].format: unknown dataset format \"csv\" (expected jsonl, parquet, webdataset or auto) [unknown-format]\n"
        ),
        ErrorCase(
            name: "malformed yaml", args: ["scan", "--spec", "SPEC:datasets: [\n", "--catalog", "CAT"], status: 65,
            stderr: "mixtera: SPECPATH:2:1: error: malformed YAML: did not find expected node content [malformed-yaml]\n"),
        ErrorCase(
            name: "invalid json line",
            args: [
                "scan", "--spec", "SPEC:datasets:\n  - {name: a, root: ROOT, include: [invalid-json.jsonl], text: text}\n",
                "--catalog", "CAT",
            ], status: 65,
            stderr:
                "mixtera: ROOT/invalid-json.jsonl:2:40: error: invalid JSON: unexpected end of line in object [invalid-json]\n"),
        ErrorCase(
            name: "bad usage", args: ["replay", "--rank", "0"], status: 64,
            stderr: "Error: Missing expected argument '--manifest <manifest>'"),
        ErrorCase(
            name: "missing manifest", args: ["replay", "--manifest", "/nonexistent/m", "--rank", "0"], status: 66,
            stderr: "mixtera: /nonexistent/m: error: manifest directory does not exist [missing]\n"),
    ]

    @Test(arguments: errorCases)
    func badInputGetsOneLineAndTheDocumentedExitCode(_ c: ErrorCase) throws {
        let dir = TestSupport.temporaryDirectory("err")
        let root = TestSupport.fixture("bad/jsonl")
        var args = c.args.map { $0.replacingOccurrences(of: "CAT", with: dir + "/c.sqlite") }
        for (i, a) in args.enumerated() where a.hasPrefix("SPEC:") {
            TestSupport.write(String(a.dropFirst(5)).replacingOccurrences(of: "ROOT", with: root), to: dir + "/spec.yaml")
            args[i] = dir + "/spec.yaml"
        }
        let r = try TestSupport.run(args)
        #expect(r.status == c.status, "\(r.stderr)")
        let expected = c.stderr.replacingOccurrences(of: "SPECPATH", with: dir + "/spec.yaml").replacingOccurrences(
            of: "ROOT", with: root)
        if c.status == 64 {
            #expect(r.stderr.hasPrefix(expected))
        } else {
            #expect(r.stderr == expected)
        }
    }

    @Test func concurrentScanFailsWithLocked() throws {
        let dir = TestSupport.temporaryDirectory("locked")
        let lockPath = dir + "/c.sqlite.lock"
        FileManager.default.createFile(atPath: lockPath, contents: nil)
        // Hold the lock from another process (flock via python).
        let holder = Process()
        holder.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        holder.arguments = [
            "python3", "-c",
            "import fcntl,sys,time; f=open(sys.argv[1],'w'); fcntl.flock(f, fcntl.LOCK_EX); print('ok', flush=True); time.sleep(20)",
            lockPath,
        ]
        let pipe = Pipe()
        holder.standardOutput = pipe
        try holder.run()
        _ = pipe.fileHandleForReading.availableData  // wait until the lock is held
        defer { holder.terminate() }
        let r = try TestSupport.run(["scan", "--spec", "fixtures/specs/datasets.yaml", "--catalog", dir + "/c.sqlite"])
        #expect(r.status == 75)
        #expect(r.stderr.contains("catalog is locked by another mixtera process"))
    }

    /// `--labels`: always writes format 1.2 with the same samples, never writes 1.0/1.1, and always on a plan that
    /// cannot have a label table, or a bad value, is a usage error (exit 64).
    @Test func labelsOption() throws {
        let dir = TestSupport.temporaryDirectory("cli-labels")
        #expect(
            try TestSupport.run(["scan", "--spec", "fixtures/specs/datasets.yaml", "--catalog", dir + "/c.sqlite", "--quiet"])
                .status == 0)
        func build(_ spec: String, _ out: String, _ labels: String) throws -> TestSupport.RunResult {
            try TestSupport.run([
                "build-manifest", "--catalog", dir + "/c.sqlite", "--spec", spec, "--out", dir + "/" + out, "--labels", labels,
                "--json",
            ])
        }
        let always = try build("fixtures/specs/build.yaml", "a", "always")
        #expect(always.status == 0 && always.stdout.contains("\"format_version\": \"1.2\""), "\(always.stderr)")
        #expect(FileManager.default.fileExists(atPath: dir + "/a/labels.bin"))
        let never = try build("fixtures/specs/build.yaml", "n", "never")
        #expect(never.status == 0 && never.stdout.contains("\"format_version\": \"1.0\""))
        #expect(!FileManager.default.fileExists(atPath: dir + "/n/labels.bin"))
        for rank in 0..<4 {
            let a = try TestSupport.run(["replay", "--manifest", dir + "/a", "--rank", "\(rank)"])
            let n = try TestSupport.run(["replay", "--manifest", dir + "/n", "--rank", "\(rank)"])
            #expect(a.status == 0 && a.stdout == n.stdout && !a.stdout.isEmpty)
        }
        let verified = try TestSupport.run(["verify", "--manifest", dir + "/a"])
        #expect(verified.status == 0 && verified.stdout.hasPrefix("ok: 4 rank files and a label table over "))
        let samples = String(decoding: try FileSystem.readAll("fixtures/specs/build.yaml"), as: UTF8.self)
            .replacingOccurrences(of: "shuffle: blocks, block_size: 8", with: "shuffle: samples")
        TestSupport.write(samples, to: dir + "/samples.yaml")
        let refused = try build(dir + "/samples.yaml", "s", "always")
        #expect(refused.status == 64)
        #expect(refused.stderr.contains(#""kind":"labels-unavailable""#), "\(refused.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir + "/s"))
        let bad = try build("fixtures/specs/build.yaml", "b", "sometimes")
        #expect(bad.status == 64 && bad.stderr.contains("--labels must be auto, always or never"), "\(bad.stderr)")
    }

    @Test(arguments: ["scan", "build-manifest", "explain", "replay", "which", "verify", "catalog", "diff", "report", "reweight"])
    func everyCommandHasHelpWithAnExample(_ command: String) throws {
        let r = try TestSupport.run([command, "--help"])
        #expect(r.status == 0)
        #expect(r.stdout.contains("USAGE: mixtera \(command)"))
        if command != "catalog" { #expect(r.stdout.contains("mixtera \(command) --")) }
    }
}

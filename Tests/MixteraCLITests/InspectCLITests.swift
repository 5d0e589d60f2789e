import Foundation
import MixteraTestSupport
import Testing

/// verify, diff, report and the command reference, through the built binary.
@Suite(.serialized) struct InspectCLITests {
    /// Scans the fixtures and builds the demo manifest into a fresh directory: (dir, dir/c.sqlite, dir/m).
    static func demo() throws -> (dir: String, catalog: String, manifest: String) {
        let dir = TestSupport.temporaryDirectory("inspect")
        let scan = try TestSupport.run([
            "scan", "--spec", "fixtures/specs/datasets.yaml", "--catalog", dir + "/c.sqlite", "--quiet",
        ])
        #expect(scan.status == 0, "\(scan.stderr)")
        try build(catalog: dir + "/c.sqlite", spec: "fixtures/specs/build.yaml", out: dir + "/m")
        return (dir, dir + "/c.sqlite", dir + "/m")
    }

    static func build(catalog: String, spec: String, out: String, extra: [String] = []) throws {
        let b = try TestSupport.run(["build-manifest", "--catalog", catalog, "--spec", spec, "--out", out, "--quiet"] + extra)
        #expect(b.status == 0, "\(b.stderr)")
    }

    static func copy(_ from: String, _ to: String) throws {
        try FileManager.default.copyItem(atPath: from, toPath: to)
    }

    // MARK: verify

    @Test func verifyReportsEachFailureKind() throws {
        let (dir, _, m) = try Self.demo()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let ok = try TestSupport.run(["verify", "--manifest", m])
        #expect(ok.status == 0, "\(ok.stderr)")
        #expect(ok.stdout.hasPrefix("ok: 4 rank files, 12 steps, 6 data files verified"))

        // A flipped byte inside rank 2's first block.
        try Self.copy(m, dir + "/flipped")
        let rank2 = dir + "/flipped/rank-00002.bin"
        var bytes = try Data(contentsOf: URL(fileURLWithPath: rank2))
        bytes[70] ^= 0x40
        try bytes.write(to: URL(fileURLWithPath: rank2))
        let flipped = try TestSupport.run(["verify", "--manifest", dir + "/flipped"])
        #expect(flipped.status == 65)
        #expect(flipped.stderr == "mixtera: \(rank2)@64: block 0 checksum mismatch; the file is corrupt\n")

        // A missing rank file.
        try Self.copy(m, dir + "/missing")
        try FileManager.default.removeItem(atPath: dir + "/missing/rank-00001.bin")
        let missing = try TestSupport.run(["verify", "--manifest", dir + "/missing", "--json"])
        #expect(missing.status == 65)
        let j = try JSONSerialization.jsonObject(with: Data(missing.stdout.utf8)) as! [String: Any]
        #expect(j["ok"] as? Bool == false)
        #expect(j["ranks"] as? Int == 3)
        #expect(
            (j["problems"] as! [String]) == ["\(dir)/missing/rank-00001.bin: rank file is missing (partial build with --ranks?)"])

        // A changed data file, seen through --root on a copy of the data.
        let header =
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: m + "/header.json"))) as! [String: Any]
        let root = (header["datasets"] as! [[String: Any]])[0]["root"] as! String
        let files = header["files"] as! [[String: Any]]
        let plain = files.first { ($0["compression"] as! String) == "none" }!["path"] as! String
        try Self.copy(root, dir + "/data")
        let target = dir + "/data/" + plain
        var data = try Data(contentsOf: URL(fileURLWithPath: target))
        let i = data.firstIndex(of: UInt8(ascii: "a"))!
        data[i] = UInt8(ascii: "b")  // same size, other content
        try data.write(to: URL(fileURLWithPath: target))
        let changed = try TestSupport.run(["verify", "--manifest", m, "--root", root + "=" + dir + "/data"])
        #expect(changed.status == 65)
        #expect(changed.stderr.contains(target))
        #expect(changed.stderr.split(separator: "\n").count == 1)
        let unchanged = try TestSupport.run(["verify", "--manifest", m, "--root", root + "=" + root, "--deep"])
        #expect(unchanged.status == 0, "\(unchanged.stderr)")

        // A truncated header.
        try Self.copy(m, dir + "/truncated")
        let h = try Data(contentsOf: URL(fileURLWithPath: dir + "/truncated/header.json"))
        try h.prefix(h.count / 2).write(to: URL(fileURLWithPath: dir + "/truncated/header.json"))
        let truncated = try TestSupport.run(["verify", "--manifest", dir + "/truncated"])
        #expect(truncated.status == 65)
        #expect(truncated.stderr.hasPrefix("mixtera: \(dir)/truncated/header.json@"))
        #expect(truncated.stderr.hasSuffix("[bad-header]\n"))
        #expect(truncated.stderr.split(separator: "\n").count == 1)
    }

    // MARK: diff

    @Test func diffOfIdenticalManifestsExitsZero() throws {
        let (dir, c, m) = try Self.demo()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Self.build(catalog: c, spec: "fixtures/specs/build.yaml", out: dir + "/m2")
        let r = try TestSupport.run(["diff", m, dir + "/m2"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout == "manifests are identical\n")
        let j = try TestSupport.run(["diff", m, dir + "/m2", "--json"])
        #expect(j.status == 0)
        let o = try JSONSerialization.jsonObject(with: Data(j.stdout.utf8)) as! [String: Any]
        #expect(o["identical"] as? Bool == true)
        #expect((o["ranks"] as! [[String: Any]]).count == 4)
    }

    @Test func diffOfAnElasticResplitComparesGlobalBatches() throws {
        let (dir, c, m) = try Self.demo()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Self.build(catalog: c, spec: "fixtures/specs/build.yaml", out: dir + "/m8", extra: ["--data-parallel", "8"])
        let r = try TestSupport.run(["diff", m, dir + "/m8"])
        #expect(r.status == 1, "\(r.stderr)")
        #expect(r.stdout.hasPrefix("data_parallel: 4 → 8\nsamples_per_rank: 10 → 5\n"), "\(r.stdout)")
        #expect(r.stdout.contains("rank 7: rank file only in B\n"))
        #expect(
            r.stdout.hasSuffix("global batches: identical at every step (the data-parallel split differs)\nmanifests differ\n"))
    }

    @Test func diffShowsSpecSeedAndFirstDifferingStep() throws {
        let (dir, c, m) = try Self.demo()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let spec = try String(contentsOfFile: TestSupport.fixture("specs/build.yaml"), encoding: .utf8)
        TestSupport.write(spec.replacingOccurrences(of: "seed: 42", with: "seed: 7"), to: dir + "/build.yaml")
        try Self.build(catalog: c, spec: dir + "/build.yaml", out: dir + "/seed7")
        let r = try TestSupport.run(["diff", m, dir + "/seed7", "--json"])
        #expect(r.status == 1, "\(r.stderr)")
        let o = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as! [String: Any]
        #expect(o["identical"] as? Bool == false)
        #expect(o["spec_diff"] as? [String] == ["- seed: 42", "+ seed: 7"])
        let fields = (o["header_fields"] as! [[String: Any]]).map { $0["field"] as! String }
        #expect(fields == ["seed"])
        let ranks = o["ranks"] as! [[String: Any]]
        #expect(ranks.allSatisfy { $0["first_differing_step"] as? Int == 0 })
        #expect((o["counts"] as! [Any]).isEmpty)  // same weights: same per-step counts

        // A continuation with other weights from step 6: steps 0..<6 are kept, step 6 is the first to differ,
        // and the counts differ from step 6 on.
        TestSupport.write(
            spec.replacingOccurrences(of: "weight: 0.5}", with: "weight: 0.2}").replacingOccurrences(
                of: "weight: 0.3}", with: "weight: 0.6}"
            )
            .replacingOccurrences(
                of:
                    "schedule:\n  - {at: 0, weights: {web: 0.5, code: 0.2, rest: 0.3}}\n  - {at: 8, weights: {web: 0.3, code: 0.2, rest: 0.5}, interpolate: linear}\n",
                with: ""),
            to: dir + "/reweighted.yaml")
        try Self.build(
            catalog: c, spec: dir + "/reweighted.yaml", out: dir + "/cont", extra: ["--continue-from", m, "--at-step", "6"])
        let t = try TestSupport.run(["diff", m, dir + "/cont"])
        #expect(t.status == 1, "\(t.stderr)")
        for rank in 0..<4 { #expect(t.stdout.contains("rank \(rank): first differing step 6: slot "), "\(t.stdout)") }
        #expect(t.stdout.contains("counts web step 6: "), "\(t.stdout)")
        #expect(!t.stdout.contains("counts code"), "\(t.stdout)")  // code keeps 20%
        #expect(t.stdout.hasSuffix("manifests differ\n"))
    }

    @Test func diffBadInputExitCodes() throws {
        let (dir, _, m) = try Self.demo()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let missing = try TestSupport.run(["diff", m, dir + "/nope"])
        #expect(missing.status == 66)
        #expect(missing.stderr == "mixtera: \(dir)/nope: error: manifest directory does not exist [missing]\n")
        try FileManager.default.createDirectory(atPath: dir + "/empty", withIntermediateDirectories: true)
        TestSupport.write("{\"format_version\": \"9.0\"}\n", to: dir + "/v9/header.json")
        let v9 = try TestSupport.run(["diff", m, dir + "/v9"])
        #expect(v9.status == 65)
        #expect(v9.stderr.hasSuffix("[unsupported-version]\n"))
        let usage = try TestSupport.run(["diff", m])
        #expect(usage.status == 64)
    }

    // MARK: report

    /// Tags balance (void elements and `/>` aside); returns the first problem.
    static func tagProblem(_ html: String) -> String? {
        let void: Set<String> = ["meta", "br", "hr", "img", "input", "link"]
        var stack: [String] = []
        var rest = Substring(html)
        while let lt = rest.firstIndex(of: "<") {
            guard let gt = rest[lt...].firstIndex(of: ">") else { return "unclosed <" }
            let tag = rest[rest.index(after: lt)..<gt]
            rest = rest[rest.index(after: gt)...]
            if tag.hasPrefix("!") { continue }
            if tag.hasPrefix("/") {
                let name = String(tag.dropFirst())
                guard stack.popLast() == name else { return "unexpected </\(name)>" }
                continue
            }
            let name = String(tag.prefix { $0 != " " && $0 != "/" && $0 != "\n" })
            if tag.hasSuffix("/") || void.contains(name) { continue }
            stack.append(name)
        }
        return stack.isEmpty ? nil : "unclosed <\(stack.last!)>"
    }

    @Test func reportIsWellFormedDeterministicAndShowsComponentsAndSteps() throws {
        let (dir, c, m) = try Self.demo()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let r = try TestSupport.run(["report", "--manifest", m, "--catalog", c, "--out", dir + "/r.html"])
        #expect(r.status == 0, "\(r.stderr)")
        let html = try String(contentsOfFile: dir + "/r.html", encoding: .utf8)
        #expect(Self.tagProblem(html) == nil, "\(Self.tagProblem(html) ?? "")")
        #expect(html.hasPrefix("<!DOCTYPE html>"))
        for name in ["web", "code", "rest"] { #expect(html.contains("<title>\(name)</title></polygon>")) }
        #expect(html.contains(">training step</text>"))
        #expect(html.contains(">share of global batch</text>"))
        #expect(html.contains(">12</text>"))  // the last step tick
        #expect(html.contains("language"))  // catalog coverage
        #expect(!html.contains("<script"))
        #expect(
            !html.contains("http://")
                || !html.replacingOccurrences(of: "http://www.w3.org/2000/svg", with: "").contains("http://"))
        let again = try TestSupport.run(["report", "--manifest", m, "--catalog", c, "--out", dir + "/r2.html", "--json"])
        #expect(again.status == 0)
        #expect(FileManager.default.contents(atPath: dir + "/r.html") == FileManager.default.contents(atPath: dir + "/r2.html"))
        let missing = try TestSupport.run(["report", "--manifest", dir + "/nope", "--out", dir + "/x.html"])
        #expect(missing.status == 66)
        let unwritable = try TestSupport.run(["report", "--manifest", m, "--out", dir + "/no/such/dir/r.html"])
        #expect(unwritable.status == 73, "\(unwritable.stderr)")
    }

    // MARK: docs/cli.md

    @Test func cliReferenceMatchesHelp() throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["bash", TestSupport.packageRoot + "/scripts/gen-cli-doc.sh", "--stdout", TestSupport.binary]
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let generated = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        #expect(p.terminationStatus == 0)
        let docPath = TestSupport.packageRoot + "/docs/cli.md"
        let committed = FileManager.default.contents(atPath: docPath) ?? Data()
        if generated != committed {
            let tmp = TestSupport.temporaryDirectory("clidoc") + "/cli.md"
            try generated.write(to: URL(fileURLWithPath: tmp))
            let d = Process()
            d.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            d.arguments = ["diff", "-u", docPath, tmp]
            let dout = Pipe()
            d.standardOutput = dout
            try d.run()
            let diff = String(decoding: dout.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            d.waitUntilExit()
            Issue.record(
                "docs/cli.md is out of date with --help; regenerate with `swift build && scripts/gen-cli-doc.sh`:\n\(diff)")
        }
    }
}

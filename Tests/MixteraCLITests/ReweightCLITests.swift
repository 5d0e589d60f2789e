import Foundation
import MixteraTestSupport
import Testing

/// `explain` with token units and `reweight` through the binary.
@Suite(.serialized) struct ReweightCLITests {
    @Test func tokenExplainAndReweightAreDeterministic() throws {
        let dir = TestSupport.temporaryDirectory("cli-rw")
        let scan = try TestSupport.run(["scan", "--spec", "fixtures/specs/datasets.yaml", "--catalog", dir + "/c.sqlite", "-q"])
        #expect(scan.status == 0, "\(scan.stderr)")
        let text = try String(contentsOfFile: TestSupport.fixture("specs/build.yaml"), encoding: .utf8)
        TestSupport.write(text.replacingOccurrences(of: "unit: samples", with: "unit: tokens"), to: dir + "/tokens.yaml")
        let explain = try TestSupport.run([
            "explain", "--catalog", dir + "/c.sqlite", "--spec", dir + "/tokens.yaml", "--json", "--per-step", "--window", "4",
        ])
        #expect(explain.status == 0, "\(explain.stderr)")
        let j = try JSONSerialization.jsonObject(with: Data(explain.stdout.utf8)) as! [String: Any]
        #expect(j["unit"] as? String == "tokens")
        let comps = j["components"] as! [[String: Any]]
        let shares = comps.map { $0["realized_share"] as! Double }
        #expect(abs(shares.reduce(0, +) - 1) < 1e-5)
        #expect(comps.allSatisfy { ($0["planned_units"] as! Int) > 0 && $0["target_share"] is Double })
        let windows = j["windows"] as! [[String: Any]]
        #expect(windows.map { $0["from_step"] as! Int } == [0, 4, 8])
        let human = try TestSupport.run(["explain", "--catalog", dir + "/c.sqlite", "--spec", dir + "/tokens.yaml", "--per-step"])
        #expect(human.stdout.contains("weights are shares of tokens"))
        #expect(human.stdout.contains("tokens share per window of 2 steps (realized / target):"))

        let build = try TestSupport.run([
            "build-manifest", "--catalog", dir + "/c.sqlite", "--spec", dir + "/tokens.yaml", "--out", dir + "/m", "-q",
        ])
        #expect(build.status == 0, "\(build.stderr)")
        var lines: [String] = []
        for step in 0..<12 {
            for (k, base) in [("web", 3.0), ("code", 2.0), ("rest", 2.5)] {
                lines.append("{\"step\": \(step), \"component\": \"\(k)\", \"loss\": \(base + 4 / Double(step + 1))}")
            }
        }
        TestSupport.write(lines.joined(separator: "\n") + "\n", to: dir + "/losses.jsonl")
        for method in ["ado", "loss-proportional"] {
            var outputs: [Data] = []
            for i in 0..<2 {
                let r = try TestSupport.run([
                    "reweight", "--manifest", dir + "/m", "--feedback", dir + "/losses.jsonl", "--at-step", "6", "--method",
                    method,
                    "--out", dir + "/new-\(method)-\(i).yaml", "--json",
                ])
                #expect(r.status == 0, "\(r.stderr)")
                outputs.append(FileManager.default.contents(atPath: dir + "/new-\(method)-\(i).yaml")!)
            }
            #expect(outputs[0] == outputs[1])
            let cont = try TestSupport.run([
                "build-manifest", "--catalog", dir + "/c.sqlite", "--spec", dir + "/new-\(method)-0.yaml", "--out",
                dir + "/m-\(method)",
                "--continue-from", dir + "/m", "--at-step", "6", "-q",
            ])
            #expect(cont.status == 0, "\(cont.stderr)")
        }
        let bad = try TestSupport.run([
            "reweight", "--manifest", dir + "/m", "--feedback", dir + "/losses.jsonl", "--at-step", "6", "--method", "ado",
            "--param", "nope=1", "--out", dir + "/x.yaml",
        ])
        #expect(bad.status == 64)
        #expect(
            bad.stderr
                == "mixtera: error: method ado has no parameter \"nope\" (known: gamma1, gamma2, s, delta_min, warmup, tokens) [unknown-parameter]\n"
        )
    }
}

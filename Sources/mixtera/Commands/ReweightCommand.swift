import ArgumentParser
import Mixtera
import MixteraCore
import MixteraPlanner

#if canImport(Glibc)
    import Glibc
#endif

struct ReweightCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reweight",
        abstract: "Compute new mixture weights from training feedback and write a spec to continue the manifest with.",
        discussion: """
            Reads per-step, per-component losses logged by training (JSON Lines: {"step": 120, "component": "web",
            "loss": 2.31, "samples": 512, "tokens": 512000}; records of steps >= --at-step are ignored), computes
            new weights and writes the manifest's spec with a schedule entry at --at-step carrying them (6
            decimals, summing to 1). Same inputs give the same bytes. Methods and parameters (--param k=v):
              loss-proportional  window=100 temperature=1 min_prob=0.01
                                 weights ∝ (sample-weighted mean loss over the last `window` steps)^(1/temperature)
              ado                gamma1=0.1 gamma2=0.5 s=0.5 delta_min=0.01 warmup=0 tokens=0
                                 Adaptive Data Optimization (Jiang et al., ICLR 2025): per-component power-law
                                 fits L(n) = eps + beta n^-alpha, learning speed times credit, smoothed with the
                                 previous weights; tokens=1 fits against tokens seen instead of samples
            See docs/offline-mixing.md for the equations and a worked loop.
            Examples:
              mixtera reweight --manifest manifest --feedback losses.jsonl --at-step 5000 --method ado --out reweighted.yaml
              mixtera reweight --manifest manifest --feedback losses.jsonl --at-step 5000 --method loss-proportional --param temperature=2 --out reweighted.yaml
              mixtera build-manifest --catalog catalog.sqlite --spec reweighted.yaml --out manifest2 --continue-from manifest --at-step 5000
            """)

    @Option(help: "Manifest directory training ran on.") var manifest: String
    @Option(help: "Feedback file (JSON Lines, one record per step and component).") var feedback: String
    @Option(help: "The step the new weights start at (feedback from earlier steps is used).") var atStep: Int
    @Option(help: "ado or loss-proportional.") var method: String
    @Option(name: .customLong("param"), help: "A method parameter, name=value (repeatable).") var params: [String] = []
    @Option(help: "Output build spec (YAML).") var out: String
    @OptionGroup var output: OutputOptions

    func run() throws {
        guard let m = ReweightMethod(rawValue: method) else {
            throw ValidationError("--method must be ado or loss-proportional")
        }
        var parsed: [(String, Double)] = []
        for p in params {
            let parts = p.split(separator: "=", maxSplits: 1)
            guard parts.count == 2, let v = Double(parts[1]) else {
                throw ValidationError("--param must be name=number, e.g. --param temperature=2 (got \"\(p)\")")
            }
            parsed.append((String(parts[0]), v))
        }
        try ExitStatus.run(json: output.json) {
            let r = try Reweight.run(
                manifestPath: manifest, feedbackPath: feedback, atStep: atStep, method: m, parameters: parsed)
            let bytes = Array(r.specText.utf8)
            try FileSystem.writeAtomically(bytes, to: out)
            if output.json {
                let j = JSON.object([
                    ("method", .string(r.method.rawValue)), ("at_step", .int(Int64(r.atStep))),
                    ("parameters", .object(r.parameters.map { ($0.name, .double($0.value)) })),
                    ("feedback_records", .int(Int64(r.feedbackRecords))),
                    (
                        "components",
                        .array(
                            r.components.indices.map { k in
                                .object(
                                    [
                                        ("name", .string(r.components[k])), ("previous_weight", round6(r.previous[k])),
                                        ("weight", .double(r.weights[k])),
                                    ] + r.details[k].map { ($0.0, round6($0.1)) })
                            })
                    ),
                    ("out", .string(out)),
                ])
                print(j.serialized(pretty: true))
            } else if !output.quiet {
                let keys = r.details.first?.map(\.0) ?? []
                let rows = r.components.indices.map { k in
                    [
                        r.components[k], Reweight.sixDecimals(Reweight.roundToMillionths(r.previous)[k]),
                        Reweight.sixDecimals(r.weights[k]),
                    ]
                        + r.details[k].map { short($0.1) }
                }
                print("\(r.method.rawValue) at step \(r.atStep) from \(r.feedbackRecords) feedback records")
                print(
                    table(["component", "previous", "new"] + keys, rows, rightAligned: Set(1..<(3 + keys.count))), terminator: "")
                print(
                    "wrote \(out); continue with: mixtera build-manifest --catalog CATALOG --spec \(out) --out NEW --continue-from \(manifest) --at-step \(r.atStep)"
                )
            }
        }
    }

    func short(_ v: Double) -> String {
        if v == 0 { return "0" }
        if abs(v) >= 1e5 || abs(v) < 1e-3 {
            let e = Int(log10(abs(v)).rounded(.down))
            let mant = v / pow(10, Double(e))
            return String(format1x3(mant)) + "e" + String(e)
        }
        return format1x3(v)
    }

    func format1x3(_ v: Double) -> String {
        let r = (v * 1000).rounded() / 1000
        return String(r)
    }
}

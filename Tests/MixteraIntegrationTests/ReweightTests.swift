import Foundation
import Mixtera
import MixteraCore
import MixteraManifest
import MixteraPlanner
import MixteraSpec
import MixteraTestSupport
import Testing

/// `mixtera reweight` through the library, on manifests built from the bundled fixtures.
@Suite(.serialized) struct ReweightTests {
    /// Known per-component power laws L(n) = ε + β n^(−α): web has the most learnable loss left, rest the least.
    static let laws: [(name: String, epsilon: Double, beta: Double, alpha: Double)] = [
        ("web", 1.5, 8, 0.4), ("code", 2.0, 2, 0.4), ("rest", 3.0, 0.5, 0.3),
    ]

    /// A feedback file from the laws: each component sees `perStep` samples per step, losses exact to 1e-9.
    static func writeFeedback(
        _ path: String, steps: Int, perStep: Int = 10, laws: [(name: String, epsilon: Double, beta: Double, alpha: Double)] = laws
    ) {
        var lines: [String] = []
        for step in 0..<steps {
            for l in laws {
                let n = Double((step + 1) * perStep)
                let loss = ((l.epsilon + l.beta * pow(n, -l.alpha)) * 1e9).rounded() / 1e9
                lines.append(
                    "{\"step\": \(step), \"component\": \"\(l.name)\", \"loss\": \(loss), \"samples\": \(perStep), \"tokens\": \(perStep * 100)}"
                )
            }
        }
        TestSupport.write(lines.joined(separator: "\n") + "\n", to: path)
    }

    static func manifest(_ edit: @escaping (String) -> String = { $0 }) throws -> String {
        let dir = try EndToEndTests.scanned()
        let spec = try EndToEndTests.buildSpec(edit)
        _ = try Build.run(catalogPath: dir + "/c.sqlite", spec: spec, out: dir + "/m")
        return dir
    }

    static let equalWeights: @Sendable (String) -> String = { text in
        text.replacingOccurrences(of: "  unit: samples\n", with: "  unit: samples\n  normalize: true\n")
            .replacingOccurrences(of: "weight: 0.5}", with: "weight: 1}").replacingOccurrences(
                of: "weight: 0.2,", with: "weight: 1,"
            )
            .replacingOccurrences(of: "weight: 0.3}", with: "weight: 1}")
            .replacingOccurrences(of: "  - {at: 0, weights: {web: 0.5, code: 0.2, rest: 0.3}}\n", with: "")
            .replacingOccurrences(of: "  - {at: 8, weights: {web: 0.3, code: 0.2, rest: 0.5}, interpolate: linear}\n", with: "")
            .replacingOccurrences(of: "schedule:\n", with: "")
    }

    @Test func sameInputsGiveTheSameBytes() throws {
        let dir = try Self.manifest()
        Self.writeFeedback(dir + "/losses.jsonl", steps: 12)
        for method in ReweightMethod.allCases {
            let a = try Reweight.run(
                manifestPath: dir + "/m", feedbackPath: dir + "/losses.jsonl", atStep: 6, method: method, parameters: [])
            let b = try Reweight.run(
                manifestPath: dir + "/m", feedbackPath: dir + "/losses.jsonl", atStep: 6, method: method, parameters: [])
            #expect(Array(a.specText.utf8) == Array(b.specText.utf8))
            #expect(a.weights.reduce(0, +) == 1 || abs(a.weights.reduce(0, +) - 1) < 1e-12)
            #expect(a.weights.map { Int(($0 * 1e6).rounded()) }.reduce(0, +) == 1_000_000)
            #expect(a.specText.contains("  - {at: 6, weights: {web: \(Reweight.sixDecimals(a.weights[0])), code: "))
        }
        // Feedback of steps ≥ S does not matter.
        Self.writeFeedback(dir + "/short.jsonl", steps: 6)
        let full = try Reweight.run(
            manifestPath: dir + "/m", feedbackPath: dir + "/losses.jsonl", atStep: 6, method: .ado, parameters: [])
        let short = try Reweight.run(
            manifestPath: dir + "/m", feedbackPath: dir + "/short.jsonl", atStep: 6, method: .ado, parameters: [])
        #expect(full.weights == short.weights)
    }

    @Test func adoRecoversTheLawsAndFavoursTheMostLearnableComponent() throws {
        let dir = try Self.manifest(Self.equalWeights)
        Self.writeFeedback(dir + "/losses.jsonl", steps: 12)
        let r = try Reweight.run(
            manifestPath: dir + "/m", feedbackPath: dir + "/losses.jsonl", atStep: 12, method: .ado, parameters: [])
        for (k, law) in Self.laws.enumerated() {
            let d = Dictionary(uniqueKeysWithValues: r.details[k])
            #expect(abs(d["alpha"]! - law.alpha) < 0.01, "\(law.name): \(r.details[k])")
            #expect(abs(d["epsilon"]! - law.epsilon) < 0.02 * law.epsilon, "\(law.name): \(r.details[k])")
            #expect(d["n"] == 120)
        }
        // True −dL/dn at n = 120: α β n^(−α−1); web > code > rest, and the weights follow.
        let slopes = Self.laws.map { $0.alpha * $0.beta * pow(120, -$0.alpha - 1) }
        #expect(slopes[0] > slopes[1] && slopes[1] > slopes[2])
        #expect(r.weights[0] > r.weights[1] && r.weights[1] > r.weights[2], "\(r.weights)")
        #expect(r.weights[0] > 1.0 / 3 && r.weights[2] < 1.0 / 3)
        // Without smoothing or credit, the weights are the normalized learning speeds (prior is uniform).
        let pure = try Reweight.run(
            manifestPath: dir + "/m", feedbackPath: dir + "/losses.jsonl", atStep: 12, method: .ado,
            parameters: [("gamma2", 1), ("s", 0), ("delta_min", 0)])
        let total = slopes.reduce(0, +)
        for k in 0..<3 { #expect(abs(pure.weights[k] - slopes[k] / total) < 0.01, "\(pure.weights)") }
        // Fitting against tokens seen gives the same ordering.
        let tokens = try Reweight.run(
            manifestPath: dir + "/m", feedbackPath: dir + "/losses.jsonl", atStep: 12, method: .ado, parameters: [("tokens", 1)])
        #expect(tokens.weights[0] > tokens.weights[1] && tokens.weights[1] > tokens.weights[2])
    }

    @Test func adoKeepsTheMinimumProbability() throws {
        let dir = try Self.manifest(Self.equalWeights)
        // rest has (almost) nothing left to learn.
        Self.writeFeedback(
            dir + "/losses.jsonl", steps: 12, laws: [("web", 1.5, 8, 0.4), ("code", 2.0, 4, 0.4), ("rest", 3.0, 1e-6, 0.3)])
        let r = try Reweight.run(
            manifestPath: dir + "/m", feedbackPath: dir + "/losses.jsonl", atStep: 12, method: .ado,
            parameters: [("gamma2", 1), ("delta_min", 0.05)])
        #expect(r.weights[2] == 0.05)
        #expect(r.weights[0] > r.weights[1])
    }

    @Test func lossProportionalBasics() throws {
        let dir = try Self.manifest()
        func feedback(_ rows: [(Int, String, Double)]) -> String {
            let path = dir + "/lp-\(UUID().uuidString).jsonl"
            TestSupport.write(
                rows.map { "{\"step\": \($0.0), \"component\": \"\($0.1)\", \"loss\": \($0.2), \"samples\": 10}" }.joined(
                    separator: "\n"), to: path)
            return path
        }
        func run(_ path: String, _ params: [(String, Double)] = []) throws -> [Double] {
            try Reweight.run(
                manifestPath: dir + "/m", feedbackPath: path, atStep: 4, method: .lossProportional, parameters: params
            ).weights
        }
        let equal = feedback((0..<4).flatMap { s in [(s, "web", 2.0), (s, "code", 2.0), (s, "rest", 2.0)] })
        #expect(try run(equal) == [0.333334, 0.333333, 0.333333])
        let ratio = feedback((0..<4).flatMap { s in [(s, "web", 1.0), (s, "code", 2.0), (s, "rest", 3.0)] })
        #expect(try run(ratio) == [0.166667, 0.333333, 0.5])
        // Temperature flattens; a minimum probability floors.
        let hot = try run(ratio, [("temperature", 100)])
        #expect(hot.allSatisfy { abs($0 - 1.0 / 3) < 0.01 })
        let skewed = feedback((0..<4).flatMap { s in [(s, "web", 0.001), (s, "code", 2.0), (s, "rest", 2.0)] })
        #expect(try run(skewed, [("min_prob", 0.1)]) == [0.1, 0.45, 0.45])
        // Only the last `window` steps count.
        let drift = feedback(
            [(0, "web", 100.0), (0, "code", 1.0), (0, "rest", 1.0)]
                + (1..<4).flatMap { s in [(s, "web", 1.0), (s, "code", 1.0), (s, "rest", 2.0)] })
        #expect(try run(drift, [("window", 3)]) == [0.25, 0.25, 0.5])
    }

    @Test func badFeedbackIsReportedWithItsLine() throws {
        let dir = try Self.manifest()
        TestSupport.write(
            "{\"step\": 0, \"component\": \"web\", \"loss\": 2.0}\n{\"step\": 0, \"component\": \"wiki\", \"loss\": 2.0}\n",
            to: dir + "/bad.jsonl")
        #expect {
            _ = try Reweight.run(
                manifestPath: dir + "/m", feedbackPath: dir + "/bad.jsonl", atStep: 3, method: .ado, parameters: [])
        } throws: { e in
            let e = e as! PlanError
            return e.kind == "unknown-component" && e.location?.line == 2
                && e.message == "unknown component \"wiki\" (components: code, rest, web)"
        }
        TestSupport.write("{\"step\": 0, \"component\": \"web\", \"loss\": 2.0}\n", to: dir + "/few.jsonl")
        #expect {
            _ = try Reweight.run(
                manifestPath: dir + "/m", feedbackPath: dir + "/few.jsonl", atStep: 3, method: .lossProportional, parameters: [])
        } throws: { e in (e as! PlanError).kind == "missing-feedback" }
        #expect {
            _ = try Reweight.run(
                manifestPath: dir + "/m", feedbackPath: dir + "/few.jsonl", atStep: 3, method: .ado,
                parameters: [("temperature", 1)])
        } throws: { e in (e as! PlanError).kind == "unknown-parameter" && (e as! PlanError).category == .usage }
    }

    /// build (token-weighted) → feedback → reweight → continue: steps < S identical, no sample twice within an epoch.
    @Test(arguments: ["samples", "tokens"]) func feedbackLoopContinuesTheManifest(_ unit: String) throws {
        let dir = try Self.manifest { $0.replacingOccurrences(of: "unit: samples", with: "unit: \(unit)") }
        Self.writeFeedback(dir + "/losses.jsonl", steps: 12)
        let s = 5
        let r = try Reweight.run(
            manifestPath: dir + "/m", feedbackPath: dir + "/losses.jsonl", atStep: s, method: .ado, parameters: [])
        TestSupport.write(r.specText, to: dir + "/reweighted.yaml")
        let spec = try BuildSpec.parse(text: r.specText, path: dir + "/reweighted.yaml")
        #expect(spec.mixture.unit.rawValue == unit)
        let report = try Build.run(
            catalogPath: dir + "/c.sqlite", spec: spec, out: dir + "/m2", options: BuildOptions(continueFrom: (dir + "/m", s)))
        #expect(report.steps == 12)
        #expect(report.components.allSatisfy { $0.epochs == 1 })
        let a = try ManifestDirectory(path: dir + "/m")
        let b = try ManifestDirectory(path: dir + "/m2")
        #expect(b.header.specText == r.specText)
        var early = Set<String>()
        var late: [String] = []
        for rank in 0..<4 {
            let ra = try a.rankFile(rank)
            let rb = try b.rankFile(rank)
            for step in 0..<s {
                #expect(try ra.entries(step: step) == rb.entries(step: step))
                for e in try rb.entries(step: step) { for row in e.rows { early.insert("\(e.file):\(row)") } }
            }
            for step in s..<12 {
                let entries = try rb.entries(step: step)
                #expect(entries.allSatisfy { $0.component >= 3 })
                for e in entries { for row in e.rows { late.append("\(e.file):\(row)") } }
            }
        }
        #expect(early.count == s * 40)
        #expect(late.count == (12 - s) * 40)
        #expect(Set(late).count == late.count)
        #expect(early.isDisjoint(with: late))
        if unit == "samples" {
            // The new weights hold from S on, exactly as counts.
            let counts = Apportion.largestRemainder(total: 40, weights: r.weights.map(Apportion.quantize))
            #expect(b.header.mixtureLog.last?.counts == [0, 0, 0] + counts)
        } else {
            // Token shares of the continued steps track the new weights.
            let realized = report.components.map(\.plannedUnits)
            let total = Double(realized.reduce(0, +))
            for k in 0..<3 { #expect(abs(Double(realized[k]) / total - r.weights[k]) < 0.05, "\(realized) \(r.weights)") }
        }
    }
}

import MixteraCore
import MixteraPlanner
import MixteraSpec
import MixteraTestSupport
import Testing

/// Synthetic corpora with skewed per-sample token counts: short web, long books, very mixed code.
struct SkewedCorpus {
    var files: [(keys: [UInt32], quality: [Double], tokens: [Int64])]

    /// The global sample numbering the planner uses for these files (files in order).
    var space: SampleSpace {
        var sp = SampleSpace()
        for f in files { try! sp.append(sampleCount: f.keys.count) }
        return sp
    }
    let sources = ["web", "code", "books"]

    init(files: Int, samplesPerFile: Int, seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        self.files = (0..<files).map { _ in
            var keys: [UInt32] = []
            var q: [Double] = []
            var t: [Int64] = []
            for _ in 0..<samplesPerFile {
                let k = UInt32(1 + rng.nextBelow(3))
                keys.append(k)
                q.append(Double(rng.nextBelow(1000)) / 1000)
                switch k {
                case 1: t.append(Int64(rng.nextBelow(60)))  // short, some empty
                case 2: t.append(Int64(1 + rng.nextBelow(rng.nextBelow(4) == 0 ? 8000 : 300)))  // heavy tail
                default: t.append(Int64(2000 + rng.nextBelow(6000)))  // long
                }
            }
            return (keys, q, t)
        }
    }

    var dataset: PlannerDataset {
        PlannerDataset(
            name: "d", properties: [("source", .string), ("quality", .float)],
            keys: [(1, [.string("web")]), (2, [.string("code")]), (3, [.string("books")])])
    }

    func planner(_ yaml: String, withTokens: Bool = true) throws -> Planner {
        let spec = try BuildSpec.parse(text: yaml, path: "b.yaml")
        let p = try Planner(spec: spec, datasets: [dataset])
        for (i, f) in files.enumerated() {
            try p.addFile(
                fileIndex: i, dataset: 0, sampleKeys: f.keys, numeric: [.float(f.quality, nulls: nil)],
                units: withTokens ? f.tokens : nil)
        }
        return p
    }

    func tokens(_ r: SampleRef) -> Int64 { files[space.file(r)].tokens[Int(space.row(r))] }
    func source(_ r: SampleRef) -> Int { Int(files[space.file(r)].keys[Int(space.row(r))]) - 1 }

    /// Largest token count of a selected sample (quality ≥ 0.1), per source.
    var maxTokens: [Int64] {
        var m: [Int64] = [0, 0, 0]
        for f in files {
            for r in f.keys.indices where f.quality[r] >= 0.1 { m[Int(f.keys[r]) - 1] = max(m[Int(f.keys[r]) - 1], f.tokens[r]) }
        }
        return m
    }
}

@Suite struct UnitPlannerTests {
    static let components =
        "{unit: tokens, components: [{name: web, where: 'source == \"web\"', weight: 0.5}, {name: code, where: 'source == \"code\"', weight: 0.3}, {name: books, where: 'source == \"books\"', weight: 0.2}]}"

    /// Checks the documented bounds (docs/planner.md §Units) after every step, exactly (integers scaled by
    /// Q = 10^12) and independently from the per-step units and targets:
    /// realized_i − target_i ≤ U_i (the largest sample of component i) and target_i − realized_i ≤ U (the
    /// largest sample of any component), cumulatively; per step, |step units_i − step target_i| ≤ U_i + U.
    func checkTracking(_ corpus: SkewedCorpus, _ yaml: String, steps expected: Int?, seed: UInt64) throws {
        var plan = try corpus.planner(yaml).finish()
        let u = corpus.maxTokens
        let uMax = u.max()!
        let q = Int128(StepPlan.unitScale)
        var realized = [Int64](repeating: 0, count: 3)
        var target = [Double](repeating: 0, count: 3)
        var seen = Set<SampleRef>()
        var steps = 0
        while let step = plan.next() {
            #expect(step.counts.reduce(0, +) == plan.globalBatch, "seed \(seed)")
            for (k, refs) in step.samples.enumerated() {
                #expect(refs.count == step.counts[k])
                #expect(refs.reduce(Int64(0)) { $0 + corpus.tokens($1) } == step.units[k], "seed \(seed)")
                for r in refs {
                    #expect(corpus.source(r) == k)
                    if plan.summaries[k].epochs == 1 { #expect(seen.insert(r).inserted, "seed \(seed)") }
                }
            }
            let d = plan.unitDeficits
            for k in 0..<3 {
                #expect(-d[k] <= q * Int128(u[k]), "seed \(seed) step \(step.index) component \(k): over-served")
                #expect(d[k] <= q * Int128(uMax), "seed \(seed) step \(step.index) component \(k): under-served")
                realized[k] += step.units[k]
                target[k] += step.targetUnits[k]
                let slack = 1e-6 * max(1, target[k])
                #expect(Double(realized[k]) - target[k] <= Double(u[k]) + slack, "seed \(seed) step \(step.index)")
                #expect(target[k] - Double(realized[k]) <= Double(uMax) + slack, "seed \(seed) step \(step.index)")
                #expect(abs(Double(step.units[k]) - step.targetUnits[k]) <= Double(u[k] + uMax) + slack)
            }
            #expect(abs(step.targetUnits.reduce(0, +) - Double(step.units.reduce(0, +))) < 1e-3)
            steps += 1
        }
        if let expected { #expect(steps == expected, "seed \(seed): \(plan.endReason ?? "")") }
        #expect(plan.summaries.map(\.plannedUnits) == realized)
    }

    @Test func tokenSharesTrackTheWeightsOnSkewedCorpora() throws {
        for i in 0..<12 {
            let seed = TestSupport.seed &+ UInt64(i)
            let corpus = SkewedCorpus(files: 6, samplesPerFile: 400, seed: seed)
            let orders = ["{shuffle: none}", "{shuffle: files}", "{shuffle: blocks, block_size: 5}", "{shuffle: samples}"]
            let g = [8, 32, 64, 100][i % 4]
            try checkTracking(
                corpus,
                PlannerTests.yaml(
                    Self.components, steps: "60", g: g, d: g % 4 == 0 ? 4 : 1, order: orders[i % 4], policy: "repeat"),
                steps: 60, seed: seed)
        }
    }

    @Test func boundsHoldUnderALinearSchedule() throws {
        let schedule = """
            schedule:
              - {at: 0, weights: {web: 0.7, code: 0.2, books: 0.1}}
              - {at: 30, weights: {web: 0.1, code: 0.2, books: 0.7}, interpolate: linear}
              - {at: 40, weights: {web: 0.05, code: 0.5, books: 0.45}}
            """
        for i in 0..<4 {
            let seed = TestSupport.seed &+ 100 &+ UInt64(i)
            let corpus = SkewedCorpus(files: 5, samplesPerFile: 300, seed: seed)
            try checkTracking(
                corpus, PlannerTests.yaml(Self.components, steps: "50", g: 48, d: 4, policy: "repeat", schedule: schedule),
                steps: 50,
                seed: seed)
        }
    }

    @Test func aComponentLeavingTheMixtureRestartsTracking() throws {
        let schedule = """
            schedule:
              - {at: 0, weights: {web: 0.4, code: 0.3, books: 0.3}}
              - {at: 10, weights: {web: 0.0, code: 0.5, books: 0.5}}
            """
        let corpus = SkewedCorpus(files: 4, samplesPerFile: 300, seed: 17)
        var plan = try corpus.planner(
            PlannerTests.yaml(Self.components, steps: "20", g: 16, d: 4, policy: "repeat", schedule: schedule)
        ).finish()
        var steps = 0
        while let step = plan.next() {
            #expect(step.counts.reduce(0, +) == 16)
            if step.index >= 10 { #expect(step.counts[0] == 0) }
            steps += 1
        }
        #expect(steps == 20)
    }

    @Test func realizedTokenSharesConvergeToTheWeights() throws {
        let corpus = SkewedCorpus(files: 10, samplesPerFile: 500, seed: 99)
        var plan = try corpus.planner(PlannerTests.yaml(Self.components, steps: "200", g: 64, d: 4, policy: "repeat")).finish()
        var samplesPerComponent = [0, 0, 0]
        while let step = plan.next() { for k in 0..<3 { samplesPerComponent[k] += step.counts[k] } }
        let total = Double(plan.summaries.reduce(Int64(0)) { $0 + $1.plannedUnits })
        for (k, w) in [0.5, 0.3, 0.2].enumerated() {
            #expect(abs(Double(plan.summaries[k].plannedUnits) / total - w) < 0.01)
        }
        // Short web samples fill most slots: sample counts are far from the token weights.
        #expect(samplesPerComponent[0] > samplesPerComponent[2] * 10)
    }

    @Test func stopEndsBeforeTheStepThatNeedsAnEmptyComponent() throws {
        let corpus = SkewedCorpus(files: 3, samplesPerFile: 200, seed: 5)
        var plan = try corpus.planner(PlannerTests.yaml(Self.components, g: 32, d: 4)).finish()
        var seen = Set<SampleRef>()
        var steps = 0
        while let step = plan.next() {
            #expect(step.counts.reduce(0, +) == 32)
            for refs in step.samples { for r in refs { #expect(seen.insert(r).inserted) } }
            steps += 1
        }
        #expect(steps > 0)
        #expect(plan.endReason?.contains("has no samples left for step \(steps)") == true)
        #expect(plan.summaries.contains { $0.exhaustedAtStep == steps })
        #expect(plan.leftover == plan.summaries.reduce(0) { $0 + $1.selected } - seen.count)
    }

    @Test func redistributeKeepsEveryStepFullAndUsesTheData() throws {
        let corpus = SkewedCorpus(files: 3, samplesPerFile: 200, seed: 6)
        var plan = try corpus.planner(PlannerTests.yaml(Self.components, g: 16, d: 4, policy: "redistribute")).finish()
        var seen = Set<SampleRef>()
        while let step = plan.next() {
            #expect(step.counts.reduce(0, +) == 16)
            for refs in step.samples { for r in refs { #expect(seen.insert(r).inserted) } }
        }
        let selected = plan.summaries.reduce(0) { $0 + $1.selected }
        #expect(selected - seen.count < 16)
        #expect(plan.summaries.filter { $0.exhaustedAtStep != nil }.count >= 2)
    }

    @Test func continuationSkipsConsumedSamplesAndKeepsTheBounds() throws {
        let corpus = SkewedCorpus(files: 4, samplesPerFile: 300, seed: 7)
        let yaml = PlannerTests.yaml(
            Self.components, steps: "30", g: 32, d: 4, order: "{shuffle: blocks, block_size: 4}", policy: "repeat")
        let consumed: @Sendable (SampleRef) -> Bool = { r in r % 3 == 0 }
        var plan = try corpus.planner(yaml).finish(startStep: 10, consumed: consumed)
        let u = corpus.maxTokens
        let q = Int128(StepPlan.unitScale)
        var steps = 0
        while let step = plan.next() {
            #expect(step.index == 10 + steps)
            for (k, refs) in step.samples.enumerated() where plan.summaries[k].epochs == 1 {
                for r in refs { #expect(!consumed(r)) }
            }
            for k in 0..<3 {
                #expect(-plan.unitDeficits[k] <= q * Int128(u[k]))
                #expect(plan.unitDeficits[k] <= q * Int128(u.max()!))
            }
            steps += 1
        }
        #expect(steps == 20)
    }

    @Test func samplesPlansAreUnchangedAndReportUnitsAsSamples() throws {
        let corpus = SkewedCorpus(files: 3, samplesPerFile: 200, seed: 8)
        let samples = Self.components.replacingOccurrences(of: "unit: tokens", with: "unit: samples")
        var a = try corpus.planner(PlannerTests.yaml(samples, steps: "10", g: 20, d: 4, policy: "repeat")).finish()
        var b = try corpus.planner(PlannerTests.yaml(samples, steps: "10", g: 20, d: 4, policy: "repeat"), withTokens: false)
            .finish()
        while let x = a.next() {
            let y = b.next()!
            #expect(x.samples == y.samples)
            #expect(x.units == x.counts.map { Int64($0) })
            #expect(x.counts == [10, 6, 4])
            #expect(x.targetUnits == [10, 6, 4])
        }
    }

    @Test func tokensWithoutCountsIsAnError() throws {
        let corpus = SkewedCorpus(files: 1, samplesPerFile: 10, seed: 9)
        #expect {
            _ = try corpus.planner(PlannerTests.yaml(Self.components), withTokens: false)
        } throws: { e in
            let e = e as! PlanError
            return e.kind == "missing-tokens" && e.message.contains("dataset \"d\" has no per-sample token counts")
        }
    }
}

extension UnitPlannerTests {
    @Test func bytesWithoutTextIsAnError() throws {
        let corpus = SkewedCorpus(files: 1, samplesPerFile: 10, seed: 9)
        let yaml = PlannerTests.yaml(Self.components.replacingOccurrences(of: "unit: tokens", with: "unit: bytes"))
        #expect {
            _ = try corpus.planner(yaml, withTokens: false)
        } throws: { e in (e as! PlanError).kind == "missing-text" }
    }
}

import MixteraCore
import MixteraPlanner
import MixteraSpec
import MixteraTestSupport
import Testing

/// Synthetic catalogs: one dataset, categorical `source`, numeric `quality`.
struct Synthetic {
    var files: [(keys: [UInt32], quality: [Double])]

    /// The global sample numbering the planner uses for these files (files in order).
    var space: SampleSpace {
        var sp = SampleSpace()
        for f in files { try! sp.append(sampleCount: f.keys.count) }
        return sp
    }
    let sources = ["web", "code", "books"]

    init(files: Int, samplesPerFile: Int, seed: UInt64, skew: [UInt64] = [6, 2, 2]) {
        var rng = SplitMix64(seed: seed)
        let total = skew.reduce(0, +)
        self.files = (0..<files).map { _ in
            var keys: [UInt32] = []
            var q: [Double] = []
            for _ in 0..<samplesPerFile {
                let x = rng.nextBelow(total)
                keys.append(x < skew[0] ? 1 : x < skew[0] + skew[1] ? 2 : 3)
                q.append(Double(rng.nextBelow(1000)) / 1000)
            }
            return (keys, q)
        }
    }

    var dataset: PlannerDataset {
        PlannerDataset(
            name: "d", properties: [("source", .string), ("quality", .float)],
            keys: [(1, [.string("web")]), (2, [.string("code")]), (3, [.string("books")])])
    }

    func plan(_ yaml: String) throws -> (StepPlan, Planner) {
        let spec = try BuildSpec.parse(text: yaml, path: "b.yaml")
        let p = try Planner(spec: spec, datasets: [dataset])
        for (i, f) in files.enumerated() {
            try p.addFile(fileIndex: i, dataset: 0, sampleKeys: f.keys, numeric: [.float(f.quality, nulls: nil)])
        }
        return (try p.finish(), p)
    }

    func source(_ r: SampleRef) -> String { sources[Int(files[space.file(r)].keys[Int(space.row(r))]) - 1] }
}

@Suite struct ApportionTests {
    @Test func sumsExactlyAndStaysWithinOneOfTheQuota() {
        var rng = SplitMix64(seed: TestSupport.seed)
        for _ in 0..<2000 {
            let n = 1 + Int(rng.nextBelow(8))
            let weights = (0..<n).map { _ in Double(rng.nextBelow(1000)) / 1000 }
            guard weights.reduce(0, +) > 0 else { continue }
            let g = 1 + Int(rng.nextBelow(5000))
            let q = weights.map(Apportion.quantize)
            let counts = Apportion.largestRemainder(total: g, weights: q)
            #expect(counts.reduce(0, +) == g, "seed \(TestSupport.seed)")
            let sum = q.reduce(0, +)
            for (c, w) in zip(counts, q) {
                let floor = Int(UInt128(w) * UInt128(g) / UInt128(sum))
                #expect(c == floor || c == floor + 1)
            }
        }
    }

    @Test func tiesGoToDeclaredOrder() {
        #expect(Apportion.largestRemainder(total: 1, weights: [UInt64](arrayLiteral: 1, 1, 1)) == [1, 0, 0])
        #expect(Apportion.largestRemainder(total: 2, weights: [UInt64](arrayLiteral: 1, 1, 1)) == [1, 1, 0])
        #expect(Apportion.largestRemainder(total: 10, weights: [5, 2, 3].map { UInt64($0) }) == [5, 2, 3])
    }
}

@Suite struct PlannerTests {
    static func yaml(
        _ mixture: String, steps: String = "until_exhausted", g: Int = 64, d: Int = 4, order: String = "{shuffle: samples}",
        policy: String = "stop", schedule: String = ""
    ) -> String {
        """
        query: 'quality >= 0.1'
        mixture: \(mixture)
        training: {global_batch: \(g), data_parallel: \(d), steps: \(steps)}
        order: \(order)
        seed: 7
        on_exhausted: \(policy)
        \(schedule)
        """
    }

    static let components =
        "{components: [{name: web, where: 'source == \"web\"', weight: 0.5}, {name: code, where: 'source == \"code\"', weight: 0.3}, {name: rest, where: 'true', weight: 0.2}]}"

    @Test(arguments: ["{shuffle: none}", "{shuffle: files}", "{shuffle: blocks, block_size: 7}", "{shuffle: samples}"])
    func stopEndsAtTheFirstDeficitAndNoSampleRepeats(_ order: String) throws {
        let s = Synthetic(files: 9, samplesPerFile: 300, seed: TestSupport.seed)
        var (plan, planner) = try s.plan(Self.yaml(Self.components, order: order))
        var seen = Set<SampleRef>()
        var remaining = plan.summaries.map(\.selected)
        var steps = 0
        while let step = plan.next() {
            #expect(step.counts == Apportion.largestRemainder(total: 64, weights: [0.5, 0.3, 0.2].map(Apportion.quantize)))
            for (k, refs) in step.samples.enumerated() {
                #expect(refs.count == step.counts[k])
                remaining[k] -= refs.count
                for r in refs {
                    #expect(seen.insert(r).inserted)
                    #expect(s.files[s.space.file(r)].quality[Int(s.space.row(r))] >= 0.1)
                    if k == 0 { #expect(s.source(r) == "web") }
                    if k == 1 { #expect(s.source(r) == "code") }
                    if k == 2 { #expect(s.source(r) == "books") }
                }
            }
            steps += 1
        }
        // The plan ended exactly when some component could not supply its count.
        let counts = Apportion.largestRemainder(total: 64, weights: [0.5, 0.3, 0.2].map(Apportion.quantize))
        #expect(zip(remaining, counts).contains { $0 < $1 })
        #expect(steps == plan.summaries.indices.map { plan.summaries[$0].selected / counts[$0] }.min())
        #expect(planner.selectedTotal == plan.summaries.reduce(0) { $0 + $1.selected })
    }

    @Test func redistributeConservesTheGlobalBatchUntilEverythingIsUsed() throws {
        let s = Synthetic(files: 5, samplesPerFile: 200, seed: TestSupport.seed &+ 1)
        var (plan, _) = try s.plan(Self.yaml(Self.components, policy: "redistribute"))
        var total = 0
        var seen = Set<SampleRef>()
        while let step = plan.next() {
            #expect(step.counts.reduce(0, +) == 64)
            for refs in step.samples { for r in refs { #expect(seen.insert(r).inserted) } }
            total += 64
        }
        let selected = plan.summaries.reduce(0) { $0 + $1.selected }
        #expect(selected - total < 64)
        #expect(plan.leftover == selected - total)
    }

    @Test func repeatStartsNewReshuffledEpochs() throws {
        let s = Synthetic(files: 2, samplesPerFile: 100, seed: 3)
        var (plan, _) = try s.plan(Self.yaml(Self.components, steps: "40", policy: "repeat"))
        var perEpoch: [Int: Set<SampleRef>] = [:]
        var consumed = [0, 0, 0]
        var firstEpoch: [SampleRef] = []
        var secondEpoch: [SampleRef] = []
        while let step = plan.next() {
            for (k, refs) in step.samples.enumerated() {
                for r in refs {
                    let epoch = consumed[k] / plan.summaries[k].selected
                    // No sample twice within one epoch of its component.
                    #expect(perEpoch[k * 1000 + epoch, default: []].insert(r).inserted)
                    if k == 0 && epoch == 0 { firstEpoch.append(r) }
                    if k == 0 && epoch == 1 { secondEpoch.append(r) }
                    consumed[k] += 1
                }
            }
        }
        #expect(plan.stepsPlanned == 40)
        #expect(plan.summaries[0].epochs > 1)
        #expect(plan.summaries[0].exhaustedAtStep != nil)
        #expect(Array(secondEpoch.prefix(20)) != Array(firstEpoch.prefix(20)))
    }

    @Test func schedulesHitTheirWeightsExactlyAtTheirSteps() throws {
        let s = Synthetic(files: 20, samplesPerFile: 500, seed: 5)
        let schedule = """
            schedule:
              - {at: 0, weights: {web: 0.5, code: 0.3, rest: 0.2}}
              - {at: 10, weights: {web: 0.2, code: 0.3, rest: 0.5}, interpolate: linear}
              - {at: 15, weights: {web: 0.1, code: 0.1, rest: 0.8}}
            """
        var (plan, _) = try s.plan(Self.yaml(Self.components, steps: "20", policy: "repeat", schedule: schedule))
        var byStep: [[Int]] = []
        while let step = plan.next() { byStep.append(step.counts) }
        let at = { (w: [Double]) in Apportion.largestRemainder(total: 64, weights: w.map(Apportion.quantize)) }
        #expect(byStep[0] == at([0.5, 0.3, 0.2]))
        #expect(byStep[10] == at([0.2, 0.3, 0.5]))
        #expect(byStep[14] == at([0.2, 0.3, 0.5]))
        #expect(byStep[15] == at([0.1, 0.1, 0.8]))
        #expect(byStep[5] == at([0.35, 0.3, 0.35]))  // halfway along the ramp
        for c in byStep { #expect(c.reduce(0, +) == 64) }
    }

    @Test func naturalMixtureIsProportionalToTheSelection() throws {
        let s = Synthetic(files: 4, samplesPerFile: 250, seed: 11)
        var (plan, _) = try s.plan(Self.yaml("{natural: true}", steps: "3", g: 100, d: 1))
        let names = plan.summaries.map(\.name)
        #expect(names == ["dataset=d,source=books", "dataset=d,source=code", "dataset=d,source=web"])
        let total = plan.summaries.reduce(0) { $0 + $1.selected }
        let step = plan.next()!
        for (k, c) in step.counts.enumerated() {
            let exact = Double(plan.summaries[k].selected) * 100 / Double(total)
            #expect(abs(Double(c) - exact) < 1)
        }
    }

    @Test func sortByConsumesInCurriculumOrder() throws {
        let s = Synthetic(files: 3, samplesPerFile: 200, seed: 13)
        var (plan, _) = try s.plan(Self.yaml(Self.components, order: "{shuffle: none, sort_by: quality desc}"))
        var last = [Double](repeating: .infinity, count: 3)
        var lastRef = [SampleRef](repeating: 0, count: 3)
        while let step = plan.next() {
            for (k, refs) in step.samples.enumerated() {
                for r in refs {
                    let q = s.files[s.space.file(r)].quality[Int(s.space.row(r))]
                    #expect(q <= last[k])
                    // Ties keep catalog order.
                    if q == last[k] { #expect(r > lastRef[k]) }
                    last[k] = q
                    lastRef[k] = r
                }
            }
        }
        #expect(throws: PlanError.self) { try s.plan(Self.yaml(Self.components, order: "{shuffle: samples, sort_by: quality}")) }
    }

    @Test func byMixtureValidatesValues() throws {
        let s = Synthetic(files: 1, samplesPerFile: 100, seed: 1)
        #expect {
            try s.plan(Self.yaml("{by: source, weights: {web: 0.5, poetry: 0.5}}"))
        } throws: { e in
            (e as! PlanError).message == "by value \"poetry\" does not occur in the selection"
        }
        #expect {
            try s.plan(Self.yaml("{by: language, weights: {en: 1.0}}"))
        } throws: { e in
            (e as! PlanError).kind == "unknown-property"
        }
    }

    @Test func weightsMustSumToOneUnlessNormalized() throws {
        let s = Synthetic(files: 1, samplesPerFile: 100, seed: 1)
        #expect(throws: PlanError.self) {
            try s.plan(Self.yaml("{components: [{name: a, where: 'true', weight: 0.7}, {name: b, where: 'true', weight: 0.7}]}"))
        }
        _ = try s.plan(
            Self.yaml(
                "{normalize: true, components: [{name: a, where: 'source == \"web\"', weight: 7}, {name: b, where: 'true', weight: 3}]}"
            ))
    }
}

@Suite struct RankSplitTests {
    @Test func everyRankGetsBAndTheUnionIsIndependentOfD() throws {
        let s = Synthetic(files: 6, samplesPerFile: 400, seed: TestSupport.seed)
        var reference: [[SampleRef]] = []
        for d in [1, 2, 4, 8] {
            var (plan, _) = try s.plan(PlannerTests.yaml(PlannerTests.components, steps: "12", d: d, policy: "repeat"))
            var steps: [[SampleRef]] = []
            while let step = plan.next() {
                let split = RankSplit.split(step, dataParallel: d)
                var union: [SampleRef] = []
                for rank in split {
                    #expect(rank.reduce(0) { $0 + $1.refs.count } == 64 / d)
                    for chunk in rank { union.append(contentsOf: chunk.refs) }
                }
                // Stratified: each rank holds floor or ceil of c_k / D of component k.
                for rank in split {
                    for (k, c) in step.counts.enumerated() {
                        let n = rank.filter { $0.component == k }.reduce(0) { $0 + $1.refs.count }
                        #expect(n == c / d || n == c / d + 1)
                    }
                }
                steps.append(union.sorted())
            }
            if reference.isEmpty { reference = steps } else { #expect(steps == reference) }
        }
    }
}

@Suite struct FastClassificationTests {
    @Test func rankChunksMatchTheFullSplit() throws {
        let s = Synthetic(files: 3, samplesPerFile: 500, seed: TestSupport.seed)
        var (plan, _) = try s.plan(PlannerTests.yaml("{by: source, weights: {web: 0.5, code: 0.3, books: 0.2}}", g: 64, d: 4))
        var steps = 0
        while let step = plan.next() {
            for d in [1, 3, 4, 7, 64, 100] {
                let split = RankSplit.split(step, dataParallel: d)
                for rank in 0..<d {
                    let chunks = RankSplit.chunks(step, dataParallel: d, rank: rank)
                    #expect(chunks.map(\.component) == split[rank].map(\.component))
                    #expect(chunks.map { Array($0.refs) } == split[rank].map { Array($0.refs) })
                }
            }
            steps += 1
        }
        #expect(steps > 3)
    }

    /// More than 255 natural components: the one-byte-per-sample component table gives way to direct
    /// selections mid-file; every sample still lands in the component of its key.
    @Test func naturalMixtureWithMoreThan255Components() throws {
        let keyCount = 300
        var rng = SplitMix64(seed: TestSupport.seed)
        let files: [[UInt32]] = (0..<3).map { _ in (0..<2000).map { _ in UInt32(1 + rng.nextBelow(UInt64(keyCount))) } }
        let dataset = PlannerDataset(
            name: "d", properties: [("source", .string), ("quality", .float)],
            keys: (1...keyCount).map { (UInt32($0), [PropertyValue.string("s\($0)")]) })
        let spec = try BuildSpec.parse(
            text: """
                mixture: {natural: true}
                training: {global_batch: 300, data_parallel: 1, steps: 4}
                order: {shuffle: samples}
                seed: 3
                on_exhausted: repeat
                """, path: "b.yaml")
        let p = try Planner(spec: spec, datasets: [dataset])
        var space = SampleSpace()
        for (i, keys) in files.enumerated() {
            try space.append(sampleCount: keys.count)
            try p.addFile(
                fileIndex: i, dataset: 0, sampleKeys: keys,
                numeric: [.float([Double](repeating: 0.5, count: keys.count), nulls: nil)])
        }
        var plan = try p.finish()
        var perKey = [Int](repeating: 0, count: keyCount + 1)
        for keys in files { for k in keys { perKey[Int(k)] += 1 } }
        #expect(plan.summaries.reduce(0) { $0 + $1.selected } == 6000)
        for c in plan.summaries {
            let k = Int(c.name.split(separator: "=").last!.dropFirst())!
            #expect(c.selected == perKey[k], "\(c.name)")
        }
        while let step = plan.next() {
            for (i, refs) in step.samples.enumerated() {
                let k = Int(plan.summaries[i].name.split(separator: "=").last!.dropFirst())!
                for r in refs { #expect(Int(files[space.file(r)][Int(space.row(r))]) == k) }
            }
        }
    }
}

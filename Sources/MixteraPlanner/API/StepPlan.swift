import MixteraCore
import MixteraSpec

/// Per-component outcome of planning, for `explain` and the manifest header.
public struct ComponentSummary: Sendable {
    public var name: String
    public var filter: String
    public var weight: Double
    public var policy: ExhaustionPolicy
    public var selected: Int
    public var planned: Int = 0
    /// Epochs started (1 = never wrapped).
    public var epochs: Int = 1
    /// First step at which the component's first epoch could not supply its count.
    public var exhaustedAtStep: Int?
    /// Units planned (samples, tokens or text bytes, per the mixture's unit).
    public var plannedUnits: Int64 = 0
    /// Units the weights asked for: Σ over planned units u of (this component's weight at that step) × u
    /// (for samples: Σ over steps of weight × G).
    public var targetUnits: Double = 0
}

/// One planned step: per component, the samples it contributes to the global batch, in order.
public struct PlannedStep: Sendable {
    public var index: Int
    public var counts: [Int]
    public var samples: [[SampleRef]]
    /// Per component, the units (samples, tokens or text bytes) of its samples in this step.
    public var units: [Int64] = []
    /// Per component, the units its weight asked for in this step (they sum to Σ `units`).
    public var targetUnits: [Double] = []
}

/// Generates global batches step by step under the schedule and exhaustion policies
/// (docs/planner.md §Exhaustion). Memory: the component streams plus one step.
public struct StepPlan: Sendable {
    public private(set) var summaries: [ComponentSummary]
    public let warnings: [String]
    public let globalBatch: Int
    public let dataParallel: Int
    /// What the weights are shares of (docs/planner.md §Units).
    public let unit: MixtureUnit
    /// Normalized weights sum to this (`Apportion.scale`): targets are kept in units × `unitScale`.
    public static let unitScale = 1_000_000_000_000
    /// Unit mode: per component, target − realized since the last reset, in units × `unitScale`.
    private var deficit: [Int128] = []
    /// Per component, the target units accrued since the plan started, in units × `unitScale`.
    private var accrued: [Int128] = []
    /// Unit mode: components taken out of the mixture (`redistribute` after their epoch ran out).
    private var inactive: [Bool] = []
    let maxSteps: Int?
    let weights: WeightSchedule
    var streams: [ComponentStream]

    /// Component `c`'s selected samples in the order its stream numbers them — catalog order (ascending) unless
    /// `sort_by` — or nil with `shuffle: samples`, whose stream reshuffles them. Shares the stream's storage.
    public func members(_ c: Int) -> [SampleRef]? { streams[c].mode == .samples ? nil : streams[c].order }
    private var step = 0
    private var finished = false
    private var cachedCounts: [Int] = []
    private var countsValidUntil = -1
    /// Why the plan ended, when it ended before `maxSteps`.
    public private(set) var endReason: String?
    /// Samples that were still available but could not fill a complete step.
    public private(set) var leftover = 0

    init(
        components: [ResolvedComponent], streams: [ComponentStream], weights: WeightSchedule, training: TrainingSpec,
        warnings: [String], startStep: Int = 0, unit: MixtureUnit = .samples
    ) {
        self.unit = unit
        deficit = Array(repeating: 0, count: components.count)
        accrued = Array(repeating: 0, count: components.count)
        inactive = Array(repeating: false, count: components.count)
        step = startStep
        self.startStep = startStep
        summaries = components.enumerated().map { i, c in
            ComponentSummary(name: c.name, filter: c.filterText, weight: c.weight, policy: c.policy, selected: streams[i].count)
        }
        self.streams = streams
        self.weights = weights
        globalBatch = training.globalBatch
        dataParallel = training.dataParallel
        if case .fixed(let n) = training.steps { maxSteps = n } else { maxSteps = nil }
        var w = warnings
        let counts0 = Apportion.largestRemainder(total: training.globalBatch, weights: weights.weights(at: startStep))
        for (i, c) in counts0.enumerated() where c == 0 && components[i].weight > 0 {
            w.append(
                "component \"\(components[i].name)\" rounds to 0 samples per step at step \(startStep) (weight \(components[i].weight), global batch \(training.globalBatch))"
            )
        }
        self.warnings = w
    }

    /// The first step this plan produces (non-zero for continuations).
    public let startStep: Int
    /// Steps produced so far.
    public var stepsPlanned: Int { step - startStep }

    /// Per-component counts for a step, before exhaustion adjustments.
    public mutating func targetCounts(_ s: Int) -> [Int] {
        if s <= countsValidUntil && s >= countsValidFrom { return cachedCounts }
        cachedCounts = Apportion.largestRemainder(total: globalBatch, weights: weights.weights(at: s))
        countsValidFrom = s
        countsValidUntil = weights.isConstant(from: s) - 1
        return cachedCounts
    }
    private var countsValidFrom = 0

    /// Weights at step `s` normalized to sum to `unitScale` exactly (largest remainder), with the
    /// weights of `inactive` components set to 0 first. All zero when nothing with weight is left.
    func normalizedWeights(_ s: Int, excluding inactive: [Bool] = []) -> [Int128] {
        var w = weights.weights(at: s)
        for i in inactive.indices where inactive[i] { w[i] = 0 }
        return Apportion.largestRemainder(total: Self.unitScale, weights: w).map { Int128($0) }
    }

    /// The next global batch, or nil when the plan has ended.
    public mutating func next() -> PlannedStep? {
        if finished { return nil }
        if let m = maxSteps, step >= m {
            finished = true
            return nil
        }
        if maxSteps == nil && untilExhaustedDone() {
            finished = true
            endReason = "every component was exhausted at least once"
            leftover = streams.reduce(0) { $0 + $1.remainingInEpoch }
            return nil
        }
        if unit != .samples { return nextByUnits() }
        var counts = targetCounts(step)
        let n = counts.count
        // Deficits.
        var deficit = 0
        for i in 0..<n {
            let avail = streams[i].remainingInEpoch
            if counts[i] > avail {
                if summaries[i].exhaustedAtStep == nil && streams[i].epoch == 0 { summaries[i].exhaustedAtStep = step }
                switch summaries[i].policy {
                case .stop:
                    return end(
                        "component \"\(summaries[i].name)\" cannot fill step \(step) (needs \(counts[i]), has \(avail)) and its policy is stop"
                    )
                case .redistribute:
                    deficit += counts[i] - avail
                    counts[i] = avail
                case .repeat:
                    break  // wraps into a new epoch while taking
                }
            }
        }
        if deficit > 0 {
            // Give the deficit to components with spare samples, in proportion to their counts this step.
            while deficit > 0 {
                var spare = [Int](repeating: 0, count: n)
                var weightsForSpare = [UInt128](repeating: 0, count: n)
                var any = false
                for i in 0..<n {
                    let s = summaries[i].policy == .repeat ? Int.max : streams[i].remainingInEpoch - counts[i]
                    if s > 0 {
                        spare[i] = s
                        weightsForSpare[i] = UInt128(max(counts[i], 0))
                        any = true
                    }
                }
                if !any {
                    return end("not enough samples left to fill step \(step) after redistributing")
                }
                if weightsForSpare.allSatisfy({ $0 == 0 }) {
                    for i in 0..<n where spare[i] > 0 { weightsForSpare[i] = 1 }
                }
                let extra = Apportion.largestRemainder(total: deficit, weights: weightsForSpare)
                var placed = 0
                for i in 0..<n {
                    let e = min(extra[i], spare[i])
                    counts[i] += e
                    placed += e
                }
                deficit -= placed
                if placed == 0 { return end("not enough samples left to fill step \(step) after redistributing") }
            }
        }
        var samples: [[SampleRef]] = Array(repeating: [], count: n)
        for i in 0..<n {
            samples[i].reserveCapacity(counts[i])
            var need = counts[i]
            while need > 0 {
                let got = streams[i].take(need, into: &samples[i])
                need -= got
                if need > 0 {
                    // Only `repeat` components get here (others were capped above).
                    if streams[i].count == 0 { break }
                    streams[i].nextEpoch()
                    summaries[i].epochs = streams[i].epoch + 1
                }
            }
            if streams[i].remainingInEpoch == 0 && summaries[i].exhaustedAtStep == nil && streams[i].epoch == 0
                && summaries[i].policy == .repeat
            {
                summaries[i].exhaustedAtStep = step
            }
            summaries[i].planned += counts[i]
            summaries[i].plannedUnits += Int64(counts[i])
        }
        // Targets: weight × G per component (what the weights asked for, before exhaustion adjustments).
        let w = normalizedWeights(step)
        var target = [Double](repeating: 0, count: n)
        for i in 0..<n {
            let t = w[i] * Int128(globalBatch)
            accrued[i] += t
            target[i] = Double(t) / Double(Self.unitScale)
            summaries[i].targetUnits = Double(accrued[i]) / Double(Self.unitScale)
        }
        let out = PlannedStep(
            index: step, counts: counts, samples: samples, units: counts.map { Int64($0) }, targetUnits: target)
        step += 1
        return out
    }

    /// One step under `unit: tokens | bytes` (docs/planner.md §Units): the G slots are filled one at a time.
    /// With normalized weights w_i (Σ w = Q = `unitScale`) and deficits d_i = Q × (target_i − realized_i),
    /// a slot goes to the component with the earliest virtual finish among those not ahead of their target:
    /// among d_i ≥ 0 and w_i > 0, the smallest (Q × u_i − d_i) / w_i, where u_i is the units of the sample
    /// it would take next (ties: lower index). Taking a sample of u units adds w_j × u to every d_j and
    /// subtracts Q × u from the taker's. This is WF²Q (Bennett & Zhang 1996) with every component backlogged.
    private mutating func nextByUnits() -> PlannedStep? {
        let n = summaries.count
        let saved = (streams, summaries, deficit, accrued, inactive)
        func restore(_ p: inout StepPlan) {
            (p.streams, p.summaries, p.deficit, p.accrued, p.inactive) = saved
        }
        var w = normalizedWeights(step, excluding: inactive)
        // A component that leaves the mixture (its weight became 0) can no longer receive what it is owed:
        // tracking restarts so the deficits of the components left sum to 0 again.
        if (0..<n).contains(where: { w[$0] == 0 && deficit[$0] != 0 }) {
            for i in 0..<n { deficit[i] = 0 }
        }
        var counts = [Int](repeating: 0, count: n)
        var units = [Int64](repeating: 0, count: n)
        var samples: [[SampleRef]] = Array(repeating: [], count: n)
        // The size of each component's next sample (nil: its epoch is empty); refreshed after it changes.
        var nextUnits = (0..<n).map { streams[$0].peekUnits() }
        var slot = 0
        while slot < globalBatch {
            // Components whose current epoch is empty: repeat wraps, redistribute leaves the mixture, stop ends
            // the plan once it is due (not ahead of its target).
            var changed = false
            for i in 0..<n where !inactive[i] && w[i] > 0 && nextUnits[i] == nil {
                switch summaries[i].policy {
                case .repeat where streams[i].count > 0:
                    if summaries[i].exhaustedAtStep == nil && streams[i].epoch == 0 { summaries[i].exhaustedAtStep = step }
                    streams[i].nextEpoch()
                    summaries[i].epochs = streams[i].epoch + 1
                    nextUnits[i] = streams[i].peekUnits()
                case .repeat, .redistribute:
                    if summaries[i].exhaustedAtStep == nil && streams[i].epoch == 0 { summaries[i].exhaustedAtStep = step }
                    inactive[i] = true
                    changed = true
                case .stop:
                    if deficit[i] >= 0 {
                        let name = summaries[i].name
                        let exhausted = summaries[i].exhaustedAtStep
                        restore(&self)
                        if exhausted == nil && streams[i].epoch == 0 { summaries[i].exhaustedAtStep = step }
                        return end("component \"\(name)\" has no samples left for step \(step) and its policy is stop")
                    }
                }
            }
            if changed {
                // The mixture continues over the components left, with tracking restarted.
                w = normalizedWeights(step, excluding: inactive)
                for i in 0..<n { deficit[i] = 0 }
                if w.allSatisfy({ $0 == 0 }) {
                    restore(&self)
                    return end("not enough samples left to fill step \(step) after redistributing")
                }
                continue
            }
            var best = -1
            var bestNum: Int128 = 0
            var bestUnits: UInt32 = 0
            for i in 0..<n where !inactive[i] && w[i] > 0 && deficit[i] >= 0 {
                guard let u = nextUnits[i] else { continue }
                let num = Int128(Self.unitScale) * Int128(u) - deficit[i]
                if best < 0 || num * w[best] < bestNum * w[i] {
                    best = i
                    bestNum = num
                    bestUnits = u
                }
            }
            guard best >= 0 else {
                // Unreachable: Σ d over components with weight is 0, so one has d ≥ 0 (and samples, or it ended the plan).
                restore(&self)
                return end("no component can fill step \(step)")
            }
            let got = streams[best].take(1, into: &samples[best])
            precondition(got == 1)
            nextUnits[best] = streams[best].peekUnits()
            let u = Int128(bestUnits)
            for j in 0..<n where w[j] > 0 {
                let t = w[j] * u
                deficit[j] += t
                accrued[j] += t
            }
            deficit[best] -= Int128(Self.unitScale) * u
            counts[best] += 1
            units[best] += Int64(bestUnits)
            if streams[best].remainingInEpoch == 0 && summaries[best].exhaustedAtStep == nil && streams[best].epoch == 0
                && summaries[best].policy == .repeat
            {
                summaries[best].exhaustedAtStep = step
            }
            slot += 1
        }
        for i in 0..<n {
            summaries[i].planned += counts[i]
            summaries[i].plannedUnits += units[i]
            summaries[i].targetUnits = Double(accrued[i]) / Double(Self.unitScale)
        }
        let out = PlannedStep(
            index: step, counts: counts, samples: samples, units: units,
            targetUnits: (0..<n).map { Double(accrued[$0] - saved.3[$0]) / Double(Self.unitScale) })
        step += 1
        return out
    }

    /// Unit mode: per component, Q × (target − realized) units since tracking last restarted (for tests).
    public var unitDeficits: [Int128] { deficit }

    private func untilExhaustedDone() -> Bool {
        // until_exhausted with only repeat components: stop once every component finished an epoch.
        summaries.indices.allSatisfy { i in
            summaries[i].policy == .repeat && (streams[i].epoch > 0 || streams[i].remainingInEpoch == 0)
        } && !summaries.isEmpty
    }

    private mutating func end(_ reason: String) -> PlannedStep? {
        finished = true
        if maxSteps == nil {
            endReason = "data exhausted: " + reason
        } else {
            endReason = reason
        }
        leftover = streams.reduce(0) { $0 + $1.remainingInEpoch }
        return nil
    }
}

/// The stratified split of a global batch over data-parallel ranks (docs/planner.md §Ranks).
public enum RankSplit {
    /// Component k's `c_k` samples are cut into D contiguous chunks in rank order; chunk sizes are
    /// `q_k = c_k / D` plus one "extra" for `c_k mod D` ranks. Extras are dealt cyclically: a cursor
    /// starts at rank 0 for component 0 and continues across components, so every rank receives
    /// exactly `b = G / D` samples. A rank's micro-batch is its chunks concatenated in component order.
    public static func split(_ step: PlannedStep, dataParallel d: Int) -> [[(component: Int, refs: ArraySlice<SampleRef>)]] {
        var out = Array(repeating: [(component: Int, refs: ArraySlice<SampleRef>)](), count: d)
        var cursor = 0
        for (k, refs) in step.samples.enumerated() {
            let c = refs.count
            let q = c / d
            let r = c % d
            var extra = [Bool](repeating: false, count: d)
            for j in 0..<r { extra[(cursor + j) % d] = true }
            cursor = (cursor + r) % d
            var pos = refs.startIndex
            for rank in 0..<d {
                let size = q + (extra[rank] ? 1 : 0)
                if size > 0 { out[rank].append((k, refs[pos..<(pos + size)])) }
                pos += size
            }
        }
        return out
    }

    /// Rank `rank`'s chunks of the split (the same as `split(step, dataParallel: d)[rank]`), computed
    /// without the other ranks'.
    public static func chunks(_ step: PlannedStep, dataParallel d: Int, rank: Int) -> [(
        component: Int, refs: ArraySlice<SampleRef>
    )] {
        var out: [(component: Int, refs: ArraySlice<SampleRef>)] = []
        var cursor = 0
        for (k, refs) in step.samples.enumerated() {
            let c = refs.count
            let q = c / d
            let r = c % d
            // Extras go to ranks cursor, cursor + 1, …, cursor + r − 1 (mod d).
            let extrasBefore: Int
            if cursor + r <= d {
                extrasBefore = min(max(rank - cursor, 0), r)
            } else {
                extrasBefore = min(rank, cursor + r - d) + max(0, rank - cursor)
            }
            let size = q + ((rank - cursor + d) % d < r ? 1 : 0)
            let start = refs.startIndex + rank * q + extrasBefore
            if size > 0 { out.append((k, refs[start..<(start + size)])) }
            cursor = (cursor + r) % d
        }
        return out
    }
}

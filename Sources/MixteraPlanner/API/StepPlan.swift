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
}

/// One planned step: per component, the samples it contributes to the global batch, in order.
public struct PlannedStep: Sendable {
    public var index: Int
    public var counts: [Int]
    public var samples: [[SampleRef]]
}

/// Generates global batches step by step under the schedule and exhaustion policies
/// (docs/planner.md §Exhaustion). Memory: the component streams plus one step.
public struct StepPlan: Sendable {
    public private(set) var summaries: [ComponentSummary]
    public let warnings: [String]
    public let globalBatch: Int
    public let dataParallel: Int
    let maxSteps: Int?
    let weights: WeightSchedule
    var streams: [ComponentStream]
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
        warnings: [String], startStep: Int = 0
    ) {
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
            w.append("component \"\(components[i].name)\" rounds to 0 samples per step at step \(startStep) (weight \(components[i].weight), global batch \(training.globalBatch))")
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
                    return end("component \"\(summaries[i].name)\" cannot fill step \(step) (needs \(counts[i]), has \(avail)) and its policy is stop")
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
        }
        let out = PlannedStep(index: step, counts: counts, samples: samples)
        step += 1
        return out
    }

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
}

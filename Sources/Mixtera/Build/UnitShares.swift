import MixteraPlanner
import MixteraSpec

/// Target vs realized shares of the mixture's unit over a range of steps (`explain`, docs/planner.md §Units).
public struct ShareWindow: Sendable {
    public var fromStep: Int
    public var toStep: Int
    /// Per component: units realized, units the weights asked for, and both as shares of the window's units.
    public var units: [Int64]
    public var targetUnits: [Double]
    public var realizedShare: [Double]
    public var targetShare: [Double]
    /// Largest |realized − target| units over the components.
    public var maxDeviationUnits: Double
}

extension PlanReport {
    /// Overall per-component shares: (target, realized) of the planned units.
    public var shares: [(target: Double, realized: Double)] {
        let total = components.reduce(Int64(0)) { $0 + $1.plannedUnits }
        let targetTotal = components.reduce(0.0) { $0 + $1.targetUnits }
        return components.map { c in
            (
                targetTotal > 0 ? c.targetUnits / targetTotal : 0,
                total > 0 ? Double(c.plannedUnits) / Double(total) : 0
            )
        }
    }

    /// Per-step unit totals grouped into windows of `size` steps (needs `perStep`); nil without them.
    public func shareWindows(size: Int) -> [ShareWindow]? {
        guard let units = perStepUnits, let targets = perStepTargetUnits, size > 0 else { return nil }
        var out: [ShareWindow] = []
        var start = 0
        while start < units.count {
            let end = min(units.count, start + size)
            let n = components.count
            var u = [Int64](repeating: 0, count: n)
            var t = [Double](repeating: 0, count: n)
            for s in start..<end {
                for k in 0..<n {
                    u[k] += units[s][k]
                    t[k] += targets[s][k]
                }
            }
            let total = u.reduce(0, +)
            let tTotal = t.reduce(0, +)
            out.append(
                ShareWindow(
                    fromStep: firstStep + start, toStep: firstStep + end - 1, units: u, targetUnits: t,
                    realizedShare: u.map { total > 0 ? Double($0) / Double(total) : 0 },
                    targetShare: t.map { tTotal > 0 ? $0 / tTotal : 0 },
                    maxDeviationUnits: zip(u, t).map { abs(Double($0) - $1) }.max() ?? 0))
            start = end
        }
        return out
    }

    /// The default window: a tenth of the plan (at least one step).
    public var defaultWindow: Int { max(1, (steps - firstStep + 9) / 10) }
}

/// Exact integer apportionment (docs/planner.md §Counts).
///
/// Weights are quantized to integers `W_i = round(w_i × 10^12)`; component i's quota of `total` is
/// `W_i × total / ΣW`, computed with 128-bit integers. Each gets the floor of its quota; the
/// `total − Σ floor` leftover units go to the largest remainders `(W_i × total) mod ΣW`, ties broken by
/// lower index (declared order). The result sums to `total` exactly (when ΣW > 0).
public enum Apportion {
    public static let scale: Double = 1e12

    /// Quantizes a weight (≥ 0, finite) to integer units of 10^-12.
    public static func quantize(_ w: Double) -> UInt64 {
        UInt64((w * scale).rounded(.toNearestOrEven))
    }

    public static func largestRemainder(total: Int, weights: [UInt64]) -> [Int] {
        largestRemainder(total: total, weights: weights.map { UInt128($0) })
    }

    public static func largestRemainder(total: Int, weights: [UInt128]) -> [Int] {
        let sum = weights.reduce(UInt128(0), +)
        guard sum > 0, total > 0 else { return Array(repeating: 0, count: weights.count) }
        var counts = [Int](repeating: 0, count: weights.count)
        var remainders = [UInt128](repeating: 0, count: weights.count)
        var assigned = 0
        for (i, w) in weights.enumerated() {
            let p = w * UInt128(total)
            counts[i] = Int(p / sum)
            remainders[i] = p % sum
            assigned += counts[i]
        }
        var leftover = total - assigned
        if leftover > 0 {
            let order = weights.indices.sorted { a, b in
                remainders[a] != remainders[b] ? remainders[a] > remainders[b] : a < b
            }
            for i in order where leftover > 0 {
                counts[i] += 1
                leftover -= 1
            }
        }
        return counts
    }
}

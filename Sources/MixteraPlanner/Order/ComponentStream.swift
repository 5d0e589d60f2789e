import MixteraCore
import MixteraSpec

/// A sample reference: the sample's global index in catalog order (file `f`'s rows start at
/// `SampleSpace.bases[f]`). Four bytes, so planning holds about 4 bytes per selected sample.
public typealias SampleRef = UInt32

/// Maps global sample indices to (file, row) and back. Files are added in catalog order.
public struct SampleSpace: Sendable {
    /// `bases[f]` is the first global index of file `f`; the last element is the total.
    public private(set) var bases: [UInt32] = [0]

    public init() {}

    public var fileCount: Int { bases.count - 1 }

    /// Appends the next file's sample count.
    /// - Throws: `PlanError` when the total passes 2^32 − 1 samples.
    public mutating func append(sampleCount: Int) throws(PlanError) {
        let total = UInt64(bases[bases.count - 1]) + UInt64(sampleCount)
        guard total <= UInt64(UInt32.max) else {
            throw PlanError(
                "too-many-samples",
                "the catalog holds more than 4294967295 samples; plan subsets (a query or dataset split) per manifest",
                at: nil)
        }
        bases.append(UInt32(total))
    }

    @inline(__always) public func ref(file: Int, row: Int64) -> SampleRef { bases[file] &+ UInt32(truncatingIfNeeded: row) }

    /// The file holding `r` (binary search over the file bases).
    @inline(__always) public func file(_ r: SampleRef) -> Int {
        var lo = 0
        var hi = bases.count - 1  // bases[lo] <= r < bases[hi]
        while hi - lo > 1 {
            let mid = (lo + hi) >> 1
            if bases[mid] <= r { lo = mid } else { hi = mid }
        }
        // Skip empty files that share the base.
        while lo + 1 < bases.count - 1 && bases[lo + 1] <= r { lo += 1 }
        return lo
    }

    @inline(__always) public func row(_ r: SampleRef) -> Int64 { Int64(r - bases[file(r)]) }
}

/// The consumption order of one component's samples (docs/planner.md §Order).
///
/// `base` is the component's selection in catalog order (dataset name, file path bytewise, row), or
/// sorted by `sort_by`. Epoch e (0-based) is ordered by the mode:
/// - `none`: base order every epoch.
/// - `files`: the runs of base belonging to one file are permuted by Fisher–Yates with
///   `SplitMix64(derive(seed, component, e))`; rows inside a run keep their order.
/// - `blocks`: base is cut into blocks of `block_size` consecutive samples (the last may be shorter);
///   blocks are permuted likewise.
/// - `samples`: epoch 0 is a Fisher–Yates permutation of base; epoch e+1 permutes epoch e's order
///   again with its own derived seed.
struct ComponentStream {
    let mode: ShuffleMode
    let seed: UInt64
    let component: Int
    private(set) var order: [SampleRef]
    /// Per sample of `order` (same index), its size in the mixture's unit (tokens or text bytes); empty
    /// when the mixture is in samples. Permuted together with `order`.
    private(set) var units: [UInt32]
    private var segments: [(start: Int, count: Int)] = []
    private var segmentOrder: [Int32] = []
    private var segmentCursor = 0
    private var inSegment = 0
    private(set) var epoch = 0
    /// Samples consumed in the current epoch.
    private(set) var position = 0

    var count: Int { order.count }
    /// Samples left in the current epoch (epoch 0 does not count excluded samples).
    var remainingInEpoch: Int { order.count - position - (epoch == 0 ? excludedCount - excludedPassed : 0) }
    private var excludedPassed = 0

    /// Samples epoch 0 skips (already consumed before a continuation point); later epochs use all.
    private let excluded: (@Sendable (SampleRef) -> Bool)?
    private var excludedCount = 0

    init(
        base: consuming [SampleRef], space: SampleSpace, mode: ShuffleMode, blockSize: Int, seed: UInt64, component: Int,
        excluded: (@Sendable (SampleRef) -> Bool)? = nil, units: consuming [UInt32] = []
    ) {
        // `base` and `units` are consumed: the shuffles below permute them in place, without a copy.
        order = consume base
        self.units = consume units
        precondition(self.units.isEmpty || self.units.count == order.count)
        self.excluded = excluded
        self.mode = mode
        self.seed = seed
        self.component = component
        if let excluded { excludedCount = order.reduce(0) { $0 + (excluded($1) ? 1 : 0) } }
        switch mode {
        case .files:
            var i = 0
            while i < order.count {
                let f = space.file(order[i])
                var j = i + 1
                while j < order.count && space.file(order[j]) == f { j += 1 }
                segments.append((i, j - i))
                i = j
            }
        case .blocks:
            var i = 0
            while i < order.count {
                segments.append((i, min(blockSize, order.count - i)))
                i += blockSize
            }
        case .none, .samples: break
        }
        startEpoch(0)
    }

    private mutating func startEpoch(_ e: Int) {
        epoch = e
        position = 0
        excludedPassed = 0
        segmentCursor = 0
        inSegment = 0
        var rng = SplitMix64(seed: SplitMix64.derive(seed, UInt64(component), UInt64(e)))
        switch mode {
        case .none: break
        case .samples:
            if units.isEmpty {
                rng.shuffle(&order)
            } else {
                // The same Fisher–Yates swaps as `rng.shuffle(&order)`, applied to both arrays.
                var i = order.count - 1
                while i > 0 {
                    let j = Int(rng.nextBelow(UInt64(i + 1)))
                    if i != j {
                        order.swapAt(i, j)
                        units.swapAt(i, j)
                    }
                    i -= 1
                }
            }
        case .files, .blocks:
            segmentOrder = (0..<segments.count).map { Int32($0) }
            rng.shuffle(&segmentOrder)
        }
    }

    mutating func nextEpoch() { startEpoch(epoch + 1) }

    /// Index in `order` of the next sample of the current epoch (valid while `position < order.count`).
    private var nextIndex: Int {
        switch mode {
        case .none, .samples: return position
        case .files, .blocks: return segments[Int(segmentOrder[segmentCursor])].start + inSegment
        }
    }

    /// The size (in the mixture's unit) of the sample `take` would return next, or nil when the current
    /// epoch has none left. Skips samples excluded by a continuation (which `take` would skip too).
    mutating func peekUnits() -> UInt32? {
        if epoch == 0, let excluded, excludedCount > excludedPassed {
            while remainingInEpoch > 0 && excluded(order[nextIndex]) {
                advanceRaw()
                excludedPassed += 1
            }
        }
        guard remainingInEpoch > 0 else { return nil }
        return units[nextIndex]
    }

    private mutating func advanceRaw() {
        switch mode {
        case .none, .samples: break
        case .files, .blocks:
            inSegment += 1
            if inSegment == segments[Int(segmentOrder[segmentCursor])].count {
                segmentCursor += 1
                inSegment = 0
            }
        }
        position += 1
    }

    /// Appends up to `n` samples of the current epoch to `out`; returns how many.
    mutating func take(_ n: Int, into out: inout [SampleRef]) -> Int {
        if epoch == 0, let excluded, excludedCount > 0 {
            // Slow path for continuations: walk one sample at a time, skipping excluded ones.
            var got = 0
            var one: [SampleRef] = []
            while got < n && remainingInEpoch > 0 {
                one.removeAll(keepingCapacity: true)
                _ = takeRaw(1, into: &one)
                if excluded(one[0]) {
                    excludedPassed += 1
                } else {
                    out.append(one[0])
                    got += 1
                }
            }
            return got
        }
        return takeRaw(n, into: &out)
    }

    private mutating func takeRaw(_ n: Int, into out: inout [SampleRef]) -> Int {
        let k = min(n, order.count - position)
        switch mode {
        case .none, .samples:
            out.append(contentsOf: order[position..<(position + k)])
        case .files, .blocks:
            var left = k
            while left > 0 {
                let seg = segments[Int(segmentOrder[segmentCursor])]
                let avail = seg.count - inSegment
                let t = min(avail, left)
                out.append(contentsOf: order[(seg.start + inSegment)..<(seg.start + inSegment + t)])
                inSegment += t
                left -= t
                if inSegment == seg.count {
                    segmentCursor += 1
                    inSegment = 0
                }
            }
        }
        position += k
        return k
    }
}

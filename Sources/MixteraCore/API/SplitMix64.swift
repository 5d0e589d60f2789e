/// The PRNG behind every shuffle in mixtera: SplitMix64 (Steele, Lea, Flood 2014).
///
/// State advances by the golden-gamma constant `0x9E3779B97F4A7C15`; output is the state mixed by
/// `z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9; z = (z ^ (z >> 27)) * 0x94D049BB133111EB; z ^ (z >> 31)`.
/// Bounded draws use rejection sampling on the top bits (`nextBelow`), and shuffles are the
/// Fisher–Yates variant documented in `docs/determinism.md`. Never replaced by stdlib randomness,
/// whose algorithms may change between releases.
public struct SplitMix64: Sendable {
    public var state: UInt64

    public init(seed: UInt64) { state = seed }

    @inlinable public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A uniform integer in `0..<bound` by rejection: draw `x = next()`, accept when
    /// `x < bound * floor(2^64 / bound)` (computed as `x >= (2^64 mod bound)` on the complement), return `x % bound`.
    @inlinable public mutating func nextBelow(_ bound: UInt64) -> UInt64 {
        precondition(bound > 0, "bound must be positive")
        // threshold = 2^64 mod bound
        let threshold = (0 &- bound) % bound
        while true {
            let x = next()
            if x >= threshold { return x % bound }
        }
    }

    /// Shuffles `array` in place: for i from count-1 down to 1, swap i with `nextBelow(i + 1)`.
    @inlinable public mutating func shuffle<T>(_ array: inout [T]) {
        guard array.count > 1 else { return }
        var i = array.count - 1
        while i > 0 {
            let j = Int(nextBelow(UInt64(i + 1)))
            if i != j { array.swapAt(i, j) }
            i -= 1
        }
    }

    /// Derives an independent seed from a base seed and a list of integers (component, epoch, …),
    /// by feeding each through the SplitMix64 finaliser. Stable across processes and releases.
    public static func derive(_ base: UInt64, _ parts: UInt64...) -> UInt64 {
        var g = SplitMix64(seed: base)
        var out = g.next()
        for p in parts {
            g = SplitMix64(seed: out ^ (p &* 0xD1B5_4A32_D192_ED03))
            out = g.next()
        }
        return out
    }
}

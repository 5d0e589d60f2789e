import MixteraSpec

/// Exact comparisons between Int64 and Double values, and bytewise UTF-8 string comparison.
///
/// Three-way results are -1, 0, 1, or 2 when unordered (a NaN is involved).
enum NumberOrder {
    static let twoTo63 = 9_223_372_036_854_775_808.0

    /// The value as Int64 when it is integral and in range (-0.0 gives 0), else nil.
    @inline(__always)
    static func exactInt64(_ d: Double) -> Int64? {
        guard d >= -twoTo63, d < twoTo63, d.rounded(.towardZero) == d else { return nil }
        return Int64(d)
    }

    @inline(__always)
    static func compare(_ a: Int64, _ b: Int64) -> Int { a < b ? -1 : (a == b ? 0 : 1) }

    @inline(__always)
    static func compare(_ a: Double, _ b: Double) -> Int {
        if a < b { return -1 }
        if a > b { return 1 }
        return a == b ? 0 : 2
    }

    /// Compares an Int64 with a Double exactly (no rounding of large integers).
    @inline(__always)
    static func compare(_ i: Int64, _ d: Double) -> Int {
        if d.isNaN { return 2 }
        if d >= twoTo63 { return -1 }
        if d < -twoTo63 { return 1 }
        let t = d.rounded(.towardZero)
        let ti = Int64(t)
        if i < ti { return -1 }
        if i > ti { return 1 }
        if d > t { return -1 }
        if d < t { return 1 }
        return 0
    }

    @inline(__always)
    static func compare(_ d: Double, _ i: Int64) -> Int {
        let c = compare(i, d)
        return c == 2 ? 2 : -c
    }

    static func binarySearch<T: Comparable>(_ a: [T], _ v: T) -> Bool {
        var lo = 0
        var hi = a.count
        while lo < hi {
            let mid = (lo + hi) >> 1
            if a[mid] < v { lo = mid + 1 } else { hi = mid }
        }
        return lo < a.count && a[lo] == v
    }

    /// Bytewise comparison of UTF-8 encodings (not Unicode canonical equivalence).
    static func compareUTF8(_ a: String, _ b: String) -> Int {
        var a = a
        var b = b
        return a.withUTF8 { pa in
            b.withUTF8 { pb in
                let n = min(pa.count, pb.count)
                var i = 0
                while i < n {
                    let x = pa[i]
                    let y = pb[i]
                    if x != y { return x < y ? -1 : 1 }
                    i += 1
                }
                return pa.count < pb.count ? -1 : (pa.count == pb.count ? 0 : 1)
            }
        }
    }

    @inline(__always)
    static func equalUTF8(_ a: String, _ b: String) -> Bool {
        a.utf8.count == b.utf8.count && compareUTF8(a, b) == 0
    }

    /// Membership in a list sorted by ``compareUTF8(_:_:)``.
    static func containsUTF8(_ sorted: [String], _ v: String) -> Bool {
        var lo = 0
        var hi = sorted.count
        while lo < hi {
            let mid = (lo + hi) >> 1
            if compareUTF8(sorted[mid], v) < 0 { lo = mid + 1 } else { hi = mid }
        }
        return lo < sorted.count && compareUTF8(sorted[lo], v) == 0
    }
}

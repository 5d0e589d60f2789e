#if canImport(Glibc)
    import Glibc
#endif

/// Number rules for properties (documented in docs/dataset-spec.md):
/// - `int` accepts a JSON number written as an integer (`-12`, no fraction or exponent) within the
///   signed 64-bit range, or a string holding exactly such an integer (`"2021"`); anything else is a
///   type mismatch, and an integer beyond 64 bits is `number-out-of-range` (never silently rounded).
/// - `float` accepts any JSON number, or a string holding a JSON number; values are IEEE-754 doubles
///   (round to nearest, as `strtod`).
enum NumberParsing {
    static func parseInt(_ b: UnsafeRawBufferPointer) -> Int64? {
        var i = 0
        let n = b.count
        guard n > 0 else { return nil }
        var negative = false
        if b[0] == UInt8(ascii: "-") {
            negative = true
            i = 1
        }
        guard i < n, n - i <= 19 else { return nil }
        var v: UInt64 = 0
        while i < n {
            let c = b[i]
            guard c >= 48 && c <= 57 else { return nil }
            v = v &* 10 &+ UInt64(c - 48)
            i += 1
        }
        if negative {
            if v > UInt64(Int64.max) + 1 { return nil }
            return v == UInt64(Int64.max) + 1 ? Int64.min : -Int64(v)
        }
        if v > UInt64(Int64.max) { return nil }
        return Int64(v)
    }

    static func looksIntegral(_ b: UnsafeRawBufferPointer) -> Bool {
        var i = b.first == UInt8(ascii: "-") ? 1 : 0
        guard i < b.count else { return false }
        while i < b.count {
            guard b[i] >= 48 && b[i] <= 57 else { return false }
            i += 1
        }
        return true
    }

    static func parseDouble(_ b: UnsafeRawBufferPointer) -> Double? {
        // Validate JSON number grammar, then convert with strtod on a NUL-terminated copy.
        guard b.count > 0, b.count < 512 else { return nil }
        var ok = true
        var i = 0
        let n = b.count
        if b[i] == UInt8(ascii: "-") { i += 1 }
        func digits() -> Bool {
            let s = i
            while i < n, b[i] >= 48, b[i] <= 57 { i += 1 }
            return i > s
        }
        ok = digits()
        if ok, i < n, b[i] == UInt8(ascii: ".") {
            i += 1
            ok = digits()
        }
        if ok, i < n, b[i] | 0x20 == UInt8(ascii: "e") {
            i += 1
            if i < n, b[i] == UInt8(ascii: "+") || b[i] == UInt8(ascii: "-") { i += 1 }
            ok = digits()
        }
        guard ok, i == n else { return nil }
        return withUnsafeTemporaryAllocation(of: CChar.self, capacity: n + 1) { tmp in
            for j in 0..<n { tmp[j] = CChar(bitPattern: b[j]) }
            tmp[n] = 0
            return strtod(tmp.baseAddress!, nil)
        }
    }
}

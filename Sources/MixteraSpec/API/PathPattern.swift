/// Glob and capture patterns over `/`-separated relative paths.
///
/// Glob syntax: `*` matches any run of characters except `/`, `?` one such character, `**` any number of
/// whole path components (including none), `{name}` (capture patterns only) one path component's
/// characters up to the next literal, captured under `name`. Matching is on bytes and anchored at both ends.
public enum PathPattern {
    public static func captureNames(_ pattern: String) -> [String] {
        var names: [String] = []
        var current: String?
        for ch in pattern {
            if ch == "{" {
                current = ""
            } else if ch == "}" {
                if let c = current, !c.isEmpty { names.append(c) }
                current = nil
            } else if current != nil {
                current!.append(ch)
            }
        }
        return names
    }

    /// True when `path` matches the glob.
    public static func matches(_ pattern: String, _ path: String) -> Bool {
        {
            var caps: [(String, String)] = []; return match(Array(pattern.utf8), 0, Array(path.utf8), 0, captures: &caps)
        }()
    }

    /// Returns the captured values when `path` matches a capture pattern. A pattern without a leading
    /// `**/` matches a suffix of the path made of whole components, so `{source}/*.jsonl` matches
    /// `web/a.jsonl` and `2024/web/a.jsonl`.
    public static func capture(_ pattern: String, _ path: String) -> [String: String]? {
        let p = Array(pattern.utf8)
        let s = Array(path.utf8)
        var starts = [0]
        for (i, c) in s.enumerated() where c == UInt8(ascii: "/") { starts.append(i + 1) }
        for start in starts {
            var caps: [(String, String)] = []
            if match(p, 0, s, start, captures: &caps) {
                var out: [String: String] = [:]
                for (k, v) in caps { out[k] = v }
                return out
            }
        }
        return nil
    }

    private static func match(
        _ p: [UInt8], _ pi: Int, _ s: [UInt8], _ si: Int, captures: inout [(String, String)]
    ) -> Bool {
        matchRec(p, pi, s, si, &captures)
    }

    private static let slash = UInt8(ascii: "/")

    private static func matchRec(_ p: [UInt8], _ pi: Int, _ s: [UInt8], _ si: Int, _ caps: inout [(String, String)])
        -> Bool
    {
        if pi == p.count { return si == s.count }
        let c = p[pi]
        if c == UInt8(ascii: "*") {
            if pi + 1 < p.count && p[pi + 1] == UInt8(ascii: "*") {
                // `**/` matches zero or more whole components; a trailing `**` matches the rest.
                var next = pi + 2
                if next < p.count && p[next] == slash { next += 1 }
                if next == p.count { return true }
                var k = si
                while true {
                    if matchRec(p, next, s, k, &caps) { return true }
                    guard let nextSlash = s[k...].firstIndex(of: slash) else { return false }
                    k = nextSlash + 1
                }
            }
            var k = si
            while true {
                if matchRec(p, pi + 1, s, k, &caps) { return true }
                if k == s.count || s[k] == slash { return false }
                k += 1
            }
        }
        if c == UInt8(ascii: "?") {
            guard si < s.count, s[si] != slash else { return false }
            return matchRec(p, pi + 1, s, si + 1, &caps)
        }
        if c == UInt8(ascii: "{"), let close = p[pi...].firstIndex(of: UInt8(ascii: "}")) {
            let name = String(decoding: p[(pi + 1)..<close], as: UTF8.self)
            var k = si + 1
            while k <= s.count {
                if s[k - 1] == slash { return false }
                let saved = caps.count
                caps.append((name, String(decoding: s[si..<k], as: UTF8.self)))
                if matchRec(p, close + 1, s, k, &caps) { return true }
                caps.removeSubrange(saved...)
                k += 1
            }
            return false
        }
        guard si < s.count, s[si] == c else { return false }
        return matchRec(p, pi + 1, s, si + 1, &caps)
    }
}

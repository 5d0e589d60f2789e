import CMixteraSIMD
import MixteraCore
#if canImport(Glibc)
    import Glibc
#endif

/// The byte-level JSON parser of the scan hot loop.
///
/// It validates a whole line as JSON (RFC 8259 grammar: strings with valid escapes and no raw control
/// characters, numbers, literals, nesting up to `maxDepth`) and, in the same pass, records the spans
/// of the values at the requested paths. It allocates nothing per line once warmed up: spans are
/// written into reusable arrays. Strings are not UTF-8-validated here; extracted values are, when
/// converted.
struct JSONFieldExtractor {
    enum ValueKind: UInt8 {
        case missing = 0, null, string, number, trueValue, falseValue, object, array
    }

    struct Span {
        var kind: ValueKind
        var start: Int32  // first byte of the value (for strings: after the opening quote)
        var end: Int32  // one past the last byte (for strings: the closing quote)
        var escaped: Bool
    }

    struct LineError: Error {
        var offset: Int
        var message: String
    }

    /// Trie over the requested paths.
    struct Node {
        var keys: [([UInt8], Int)] = []
        var indices: [(Int, Int)] = []
        var wildcard: Int?
        /// Slots that take the value found at this node.
        var slots: [Int] = []
        var isEmpty: Bool { keys.isEmpty && indices.isEmpty && wildcard == nil }
    }

    private(set) var nodes: [Node] = [Node()]
    let slotCount: Int
    /// Single value per slot (the last one seen wins; duplicate keys follow JSON "last wins").
    var single: [Span]
    /// Multi-valued slots (paths through `[*]`): spans per slot, in document order.
    var multi: [[Span]]
    var isMulti: [Bool]
    let maxDepth = 256

    init(paths: [[JSONPathSegment]]) {
        slotCount = paths.count
        single = Array(repeating: Span(kind: .missing, start: 0, end: 0, escaped: false), count: paths.count)
        multi = Array(repeating: [], count: paths.count)
        isMulti = paths.map { $0.contains(.wildcard) }
        for (slot, path) in paths.enumerated() {
            var n = 0
            for seg in path {
                switch seg {
                case .key(let k):
                    if let e = nodes[n].keys.first(where: { $0.0 == k }) {
                        n = e.1
                    } else {
                        nodes.append(Node())
                        nodes[n].keys.append((k, nodes.count - 1))
                        n = nodes.count - 1
                    }
                case .index(let i):
                    if let e = nodes[n].indices.first(where: { $0.0 == i }) {
                        n = e.1
                    } else {
                        nodes.append(Node())
                        nodes[n].indices.append((i, nodes.count - 1))
                        n = nodes.count - 1
                    }
                case .wildcard:
                    if let w = nodes[n].wildcard {
                        n = w
                    } else {
                        nodes.append(Node())
                        nodes[n].wildcard = nodes.count - 1
                        n = nodes.count - 1
                    }
                }
            }
            nodes[n].slots.append(slot)
        }
    }

    /// Parses one line. The line must not contain its terminating newline.
    mutating func parse(_ line: UnsafeRawBufferPointer) throws(LineError) {
        for s in 0..<slotCount {
            single[s].kind = .missing
            if isMulti[s] { multi[s].removeAll(keepingCapacity: true) }
        }
        guard let base = line.baseAddress?.assumingMemoryBound(to: UInt8.self) else {
            throw LineError(offset: 0, message: "empty line")
        }
        var p = Parser(b: base, n: line.count, i: 0)
        p.skipWS()
        guard p.i < p.n else { throw LineError(offset: 0, message: "empty line") }
        if p.b[p.i] != UInt8(ascii: "{") {
            throw LineError(offset: p.i, message: "record is not a JSON object")
        }
        try parseValue(&p, node: 0, depth: 0)
        p.skipWS()
        if p.i != p.n { throw LineError(offset: p.i, message: "unexpected content after the JSON object") }
    }

    private mutating func record(node: Int, _ span: Span) {
        for s in nodes[node].slots {
            if isMulti[s] { multi[s].append(span) } else { single[s] = span }
        }
    }

    private mutating func parseValue(_ p: inout Parser, node: Int?, depth: Int) throws(LineError) {
        guard p.i < p.n else { throw LineError(offset: p.i, message: "unexpected end of line, expected a value") }
        let c = p.b[p.i]
        let start = p.i
        let target = node.flatMap { nodes[$0].slots.isEmpty && nodes[$0].isEmpty ? nil : $0 }
        switch c {
        case UInt8(ascii: "\""):
            let esc = try p.skipString()
            if let t = target {
                record(node: t, Span(kind: .string, start: Int32(start + 1), end: Int32(p.i - 1), escaped: esc))
            }
        case UInt8(ascii: "{"):
            if depth >= maxDepth { throw LineError(offset: start, message: "nesting deeper than \(maxDepth)") }
            try parseObject(&p, node: target, depth: depth + 1)
            if let t = target, !nodes[t].slots.isEmpty {
                record(node: t, Span(kind: .object, start: Int32(start), end: Int32(p.i), escaped: false))
            }
        case UInt8(ascii: "["):
            if depth >= maxDepth { throw LineError(offset: start, message: "nesting deeper than \(maxDepth)") }
            try parseArray(&p, node: target, depth: depth + 1)
            if let t = target, !nodes[t].slots.isEmpty {
                record(node: t, Span(kind: .array, start: Int32(start), end: Int32(p.i), escaped: false))
            }
        case UInt8(ascii: "t"):
            try p.expectLiteral("true")
            if let t = target { record(node: t, Span(kind: .trueValue, start: Int32(start), end: Int32(p.i), escaped: false)) }
        case UInt8(ascii: "f"):
            try p.expectLiteral("false")
            if let t = target { record(node: t, Span(kind: .falseValue, start: Int32(start), end: Int32(p.i), escaped: false)) }
        case UInt8(ascii: "n"):
            try p.expectLiteral("null")
            if let t = target { record(node: t, Span(kind: .null, start: Int32(start), end: Int32(p.i), escaped: false)) }
        default:
            if c == UInt8(ascii: "-") || (c >= 48 && c <= 57) {
                try p.skipNumber()
                if let t = target { record(node: t, Span(kind: .number, start: Int32(start), end: Int32(p.i), escaped: false)) }
            } else {
                throw LineError(offset: start, message: "unexpected character \(Parser.describe(c)), expected a value")
            }
        }
    }

    private mutating func parseObject(_ p: inout Parser, node: Int?, depth: Int) throws(LineError) {
        p.i += 1  // {
        p.skipWS()
        if p.i < p.n && p.b[p.i] == UInt8(ascii: "}") {
            p.i += 1
            return
        }
        let hasKeys = node.map { !nodes[$0].keys.isEmpty } ?? false
        while true {
            guard p.i < p.n, p.b[p.i] == UInt8(ascii: "\"") else {
                throw LineError(offset: p.i, message: p.i < p.n ? "expected a string key" : "unexpected end of line in object")
            }
            let keyStart = p.i + 1
            let esc = try p.skipString()
            let keyEnd = p.i - 1
            var child: Int?
            if hasKeys, let node {
                child = matchKey(node: node, p: p, start: keyStart, end: keyEnd, escaped: esc)
            }
            p.skipWS()
            guard p.i < p.n, p.b[p.i] == UInt8(ascii: ":") else {
                throw LineError(offset: p.i, message: "expected ':' after object key")
            }
            p.i += 1
            p.skipWS()
            try parseValue(&p, node: child, depth: depth)
            p.skipWS()
            guard p.i < p.n else { throw LineError(offset: p.i, message: "unexpected end of line in object") }
            let c = p.b[p.i]
            p.i += 1
            if c == UInt8(ascii: "}") { return }
            if c != UInt8(ascii: ",") {
                throw LineError(offset: p.i - 1, message: "expected ',' or '}' in object, found \(Parser.describe(c))")
            }
            p.skipWS()
        }
    }

    private func matchKey(node: Int, p: Parser, start: Int, end: Int, escaped: Bool) -> Int? {
        let len = end - start
        if !escaped {
            for (k, child) in nodes[node].keys where k.count == len {
                var equal = true
                k.withUnsafeBufferPointer { kb in
                    for j in 0..<len where kb[j] != p.b[start + j] {
                        equal = false
                        break
                    }
                }
                if equal { return child }
            }
            return nil
        }
        let decoded = JSONString.unescape(UnsafeRawBufferPointer(start: p.b + start, count: len))
        return nodes[node].keys.first(where: { $0.0 == decoded })?.1
    }

    private mutating func parseArray(_ p: inout Parser, node: Int?, depth: Int) throws(LineError) {
        p.i += 1  // [
        p.skipWS()
        if p.i < p.n && p.b[p.i] == UInt8(ascii: "]") {
            p.i += 1
            return
        }
        var index = 0
        while true {
            var child: Int?
            if let node {
                if let w = nodes[node].wildcard { child = w }
                if let e = nodes[node].indices.first(where: { $0.0 == index }) {
                    // An explicit index and a wildcard at the same level: the index wins for that element.
                    child = e.1
                }
            }
            try parseValue(&p, node: child, depth: depth)
            p.skipWS()
            guard p.i < p.n else { throw LineError(offset: p.i, message: "unexpected end of line in array") }
            let c = p.b[p.i]
            p.i += 1
            if c == UInt8(ascii: "]") { return }
            if c != UInt8(ascii: ",") {
                throw LineError(offset: p.i - 1, message: "expected ',' or ']' in array, found \(Parser.describe(c))")
            }
            p.skipWS()
            index += 1
        }
    }
}

/// Cursor over one line's bytes.
struct Parser {
    let b: UnsafePointer<UInt8>
    let n: Int
    var i: Int

    @inline(__always) mutating func skipWS() {
        while i < n {
            let c = b[i]
            if c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09 { i += 1 } else { return }
        }
    }

    static func describe(_ c: UInt8) -> String {
        if c >= 0x20 && c < 0x7F { return "'\(Character(Unicode.Scalar(c)))'" }
        return "byte 0x" + String(c, radix: 16, uppercase: true)
    }

    mutating func expectLiteral(_ lit: StaticString) throws(JSONFieldExtractor.LineError) {
        let len = lit.utf8CodeUnitCount
        let lp = lit.utf8Start
        guard i + len <= n else { throw .init(offset: i, message: "invalid literal, expected \(lit)") }
        for j in 0..<len where b[i + j] != lp[j] {
            throw .init(offset: i + j, message: "invalid literal, expected \(lit)")
        }
        i += len
    }

    /// Skips a string starting at the opening quote; leaves `i` after the closing quote.
    /// Returns whether it contained escapes.
    @inline(__always) mutating func skipString() throws(JSONFieldExtractor.LineError) -> Bool {
        let open = i
        i += 1
        var escaped = false
        while true {
            // The plain run up to the next quote, backslash or control byte (SSE2, 16 bytes a step).
            i += mixtera_find_string_special(b + i, n - i)
            guard i < n else { throw .init(offset: open, message: "unterminated string") }
            let c = b[i]
            if c == UInt8(ascii: "\"") {
                i += 1
                return escaped
            }
            if c == UInt8(ascii: "\\") {
                escaped = true
                guard i + 1 < n else { throw .init(offset: i, message: "unterminated string") }
                let e = b[i + 1]
                switch e {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"),
                    UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                    i += 2
                case UInt8(ascii: "u"):
                    guard i + 6 <= n else { throw .init(offset: i, message: "truncated \\u escape") }
                    for j in 2..<6 where JSONString.hexValue(b[i + j]) == nil {
                        throw .init(offset: i, message: "invalid \\u escape")
                    }
                    i += 6
                default:
                    throw .init(offset: i, message: "invalid escape \\\(Character(Unicode.Scalar(e)))")
                }
                continue
            }
            if c < 0x20 {
                throw .init(offset: i, message: "unescaped control character \(Parser.describe(c)) in string")
            }
            i += 1
        }
    }

    mutating func skipNumber() throws(JSONFieldExtractor.LineError) {
        let start = i
        if b[i] == UInt8(ascii: "-") { i += 1 }
        guard i < n, b[i] >= 48, b[i] <= 57 else { throw .init(offset: start, message: "invalid number") }
        if b[i] == 48 {
            i += 1
        } else {
            while i < n, b[i] >= 48, b[i] <= 57 { i += 1 }
        }
        if i < n, b[i] == UInt8(ascii: ".") {
            i += 1
            guard i < n, b[i] >= 48, b[i] <= 57 else { throw .init(offset: start, message: "invalid number") }
            while i < n, b[i] >= 48, b[i] <= 57 { i += 1 }
        }
        if i < n, b[i] | 0x20 == UInt8(ascii: "e") {
            i += 1
            if i < n, b[i] == UInt8(ascii: "+") || b[i] == UInt8(ascii: "-") { i += 1 }
            guard i < n, b[i] >= 48, b[i] <= 57 else { throw .init(offset: start, message: "invalid number") }
            while i < n, b[i] >= 48, b[i] <= 57 { i += 1 }
        }
        if i < n {
            let c = b[i]
            let ok =
                c == 0x20 || c == 0x09 || c == 0x0D || c == 0x0A || c == UInt8(ascii: ",")
                || c == UInt8(ascii: "}") || c == UInt8(ascii: "]")
            if !ok { throw .init(offset: i, message: "invalid number") }
        }
    }
}

/// JSON string helpers.
enum JSONString {
    @inline(__always) static func hexValue(_ c: UInt8) -> UInt32? {
        switch c {
        case 48...57: return UInt32(c - 48)
        case 65...70: return UInt32(c - 55)
        case 97...102: return UInt32(c - 87)
        default: return nil
        }
    }

    /// Decodes the escapes of a validated JSON string body (between the quotes). Lone surrogates become U+FFFD.
    static func unescape(_ s: UnsafeRawBufferPointer) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(s.count)
        unescape(s, into: &out)
        return out
    }

    /// Appends the decoded bytes of a validated JSON string body to `out`; the runs between escapes are
    /// copied with one append each.
    static func unescape(_ s: UnsafeRawBufferPointer, into out: inout [UInt8]) {
        walk(s, into: &out, canonical: false)
    }

    /// Appends the canonical JSON string for a validated JSON string body (between the quotes) — the
    /// bytes of `JSON.writeString(unescape(s))`, without the quotes — in one pass: the runs between
    /// escapes are copied as they are (validation guarantees they hold no quote, backslash or control
    /// byte), short escapes are kept, `\/` becomes `/`, and `\uXXXX` becomes UTF-8 unless it decodes to a
    /// byte that `JSON.writeString` escapes.
    public static func appendCanonical(_ s: UnsafeRawBufferPointer, into out: inout [UInt8]) {
        walk(s, into: &out, canonical: true)
    }

    /// The escape walk shared by `unescape` (decoded bytes) and `appendCanonical` (canonical JSON).
    @inline(__always) private static func walk(_ s: UnsafeRawBufferPointer, into out: inout [UInt8], canonical: Bool) {
        var i = 0
        let n = s.count
        while i < n {
            if s[i] != UInt8(ascii: "\\") {
                let next = memchr(s.baseAddress! + i, 0x5C, n - i).map { s.baseAddress!.distance(to: UnsafeRawPointer($0)) } ?? n
                out.append(contentsOf: UnsafeRawBufferPointer(rebasing: s[i..<next]))
                i = next
                continue
            }
            let e = s[i + 1]
            i += 2
            switch e {
            case UInt8(ascii: "u"):
                let cp = codePoint(s, at: &i)
                if canonical && (cp < 0x20 || cp == 0x22 || cp == 0x5C) {
                    withUnsafeBytes(of: UInt8(cp)) { JSON.writeStringBody($0, into: &out) }
                } else {
                    appendUTF8(&out, cp)
                }
            case UInt8(ascii: "/"): out.append(e)
            case _ where canonical:
                // \" \\ \b \f \n \r \t are already the canonical escapes of the bytes they stand for.
                out.append(0x5C)
                out.append(e)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            default: out.append(e)
            }
        }
    }

    /// The code point of the `\uXXXX` escape whose hex digits start at `i` (a surrogate pair when a low
    /// surrogate escape follows a high one; a lone surrogate becomes U+FFFD); advances `i` past it.
    private static func codePoint(_ s: UnsafeRawBufferPointer, at i: inout Int) -> UInt32 {
        func hex4(_ at: Int) -> UInt32 {
            var v: UInt32 = 0
            for j in 0..<4 { v = v << 4 | (hexValue(s[at + j]) ?? 0) }
            return v
        }
        let cp = hex4(i)
        i += 4
        if cp >= 0xDC00 && cp < 0xE000 { return 0xFFFD }
        guard cp >= 0xD800 && cp < 0xDC00 else { return cp }
        guard i + 6 <= s.count && s[i] == UInt8(ascii: "\\") && s[i + 1] == UInt8(ascii: "u") else { return 0xFFFD }
        let lo = hex4(i + 2)
        guard lo >= 0xDC00 && lo < 0xE000 else { return 0xFFFD }
        i += 6
        return 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00)
    }

    /// UTF-8 byte length of the decoded string, without building it.
    static func decodedLength(_ s: UnsafeRawBufferPointer) -> Int {
        var len = 0
        var i = 0
        let n = s.count
        while i < n {
            if s[i] != UInt8(ascii: "\\") {
                len += 1
                i += 1
                continue
            }
            if s[i + 1] != UInt8(ascii: "u") {
                len += 1
                i += 2
                continue
            }
            var v: UInt32 = 0
            for j in 0..<4 { v = v << 4 | (hexValue(s[i + 2 + j]) ?? 0) }
            i += 6
            if v >= 0xD800 && v < 0xDC00, i + 6 <= n, s[i] == UInt8(ascii: "\\"), s[i + 1] == UInt8(ascii: "u") {
                var lo: UInt32 = 0
                for j in 0..<4 { lo = lo << 4 | (hexValue(s[i + 2 + j]) ?? 0) }
                if lo >= 0xDC00 && lo < 0xE000 {
                    len += 4
                    i += 6
                    continue
                }
            }
            len += v < 0x80 ? 1 : v < 0x800 ? 2 : 3
        }
        return len
    }

    static func appendUTF8(_ out: inout [UInt8], _ cp: UInt32) {
        switch cp {
        case 0..<0x80: out.append(UInt8(cp))
        case 0x80..<0x800:
            out.append(UInt8(0xC0 | (cp >> 6)))
            out.append(UInt8(0x80 | (cp & 0x3F)))
        case 0x800..<0x10000:
            out.append(UInt8(0xE0 | (cp >> 12)))
            out.append(UInt8(0x80 | ((cp >> 6) & 0x3F)))
            out.append(UInt8(0x80 | (cp & 0x3F)))
        default:
            out.append(UInt8(0xF0 | (cp >> 18)))
            out.append(UInt8(0x80 | ((cp >> 12) & 0x3F)))
            out.append(UInt8(0x80 | ((cp >> 6) & 0x3F)))
            out.append(UInt8(0x80 | (cp & 0x3F)))
        }
    }
}

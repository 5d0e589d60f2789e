import CMixteraSIMD
/// A JSON value with ordered object keys, and a deterministic serializer and strict parser.
///
/// Used for manifest headers, `--json` output and replay lines: output never depends on dictionary
/// order. Doubles print as Swift's shortest round-trip form; non-finite doubles print as `null`.
public enum JSON: Sendable, Equatable {
    case null
    case bool(Bool)
    case int(Int64)
    case double(Double)
    case string(String)
    case array([JSON])
    case object([(String, JSON)])

    public static func == (a: JSON, b: JSON) -> Bool {
        switch (a, b) {
        case (.null, .null): return true
        case (.bool(let x), .bool(let y)): return x == y
        case (.int(let x), .int(let y)): return x == y
        case (.double(let x), .double(let y)): return x == y
        case (.string(let x), .string(let y)): return x == y
        case (.array(let x), .array(let y)): return x == y
        case (.object(let x), .object(let y)):
            return x.count == y.count && zip(x, y).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        default: return false
        }
    }

    public subscript(key: String) -> JSON? {
        if case .object(let kv) = self { return kv.first { $0.0 == key }?.1 }
        return nil
    }

    public var stringValue: String? { if case .string(let s) = self { return s } else { return nil } }
    public var intValue: Int64? {
        switch self {
        case .int(let i): return i
        case .double(let d) where d == d.rounded() && abs(d) < 9e15: return Int64(d)
        default: return nil
        }
    }
    public var doubleValue: Double? {
        switch self {
        case .int(let i): return Double(i)
        case .double(let d): return d
        default: return nil
        }
    }
    public var boolValue: Bool? { if case .bool(let b) = self { return b } else { return nil } }
    public var arrayValue: [JSON]? { if case .array(let a) = self { return a } else { return nil } }

    /// Compact serialization (no spaces), or pretty with two-space indentation.
    public func serialized(pretty: Bool = false) -> String {
        var out: [UInt8] = []
        write(into: &out, pretty: pretty, indent: 0)
        return String(decoding: out, as: UTF8.self)
    }

    public func write(into out: inout [UInt8], pretty: Bool = false, indent: Int = 0) {
        switch self {
        case .null: out.append(contentsOf: "null".utf8)
        case .bool(let b): out.append(contentsOf: (b ? "true" : "false").utf8)
        case .int(let i): out.append(contentsOf: String(i).utf8)
        case .double(let d):
            if d.isFinite {
                if d == d.rounded() && abs(d) < 1e15 {
                    out.append(contentsOf: String(Int64(d)).utf8)
                    out.append(contentsOf: ".0".utf8)
                } else {
                    out.append(contentsOf: String(d).utf8)
                }
            } else {
                out.append(contentsOf: "null".utf8)
            }
        case .string(let s): JSON.writeString(s.utf8, into: &out)
        case .array(let a):
            if a.isEmpty {
                out.append(contentsOf: "[]".utf8)
                return
            }
            out.append(UInt8(ascii: "["))
            // Pretty output keeps an array of scalars on one line (`[1, 2, 3]`); arrays holding arrays or
            // objects put each element on its own line.
            let inline = pretty && a.allSatisfy(\.isScalar)
            for (i, v) in a.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                if inline {
                    if i > 0 { out.append(UInt8(ascii: " ")) }
                } else if pretty {
                    newline(&out, indent + 1)
                }
                v.write(into: &out, pretty: pretty, indent: indent + 1)
            }
            if pretty && !inline { newline(&out, indent) }
            out.append(UInt8(ascii: "]"))
        case .object(let kv):
            if kv.isEmpty {
                out.append(contentsOf: "{}".utf8)
                return
            }
            out.append(UInt8(ascii: "{"))
            for (i, (k, v)) in kv.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                if pretty { newline(&out, indent + 1) }
                JSON.writeString(k.utf8, into: &out)
                out.append(UInt8(ascii: ":"))
                if pretty { out.append(UInt8(ascii: " ")) }
                v.write(into: &out, pretty: pretty, indent: indent + 1)
            }
            if pretty { newline(&out, indent) }
            out.append(UInt8(ascii: "}"))
        }
    }

    /// Neither an array nor an object.
    var isScalar: Bool {
        switch self {
        case .array, .object: false
        default: true
        }
    }

    private func newline(_ out: inout [UInt8], _ indent: Int) {
        out.append(0x0A)
        for _ in 0..<(indent * 2) { out.append(0x20) }
    }

    /// Writes a JSON string literal: `"` `\` and control characters escaped (`\n`, `\t`, `\r`, `\b`,
    /// `\f`, else `\u00XX`); everything else, including non-ASCII UTF-8, verbatim.
    public static func writeString(_ bytes: some Sequence<UInt8>, into out: inout [UInt8]) {
        if let done = bytes.withContiguousStorageIfAvailable({ buffer -> Bool in
            writeString(UnsafeRawBufferPointer(buffer), into: &out)
            return true
        }), done {
            return
        }
        writeString(Array(bytes), into: &out)
    }

    /// The byte-level implementation: copies runs of bytes that need no escape in one append.
    /// Appends the decimal digits of `v`.
    @inlinable public static func writeInt(_ v: Int64, into out: inout [UInt8]) {
        if v < 0 {
            out.append(UInt8(ascii: "-"))
            if v == .min {
                out.append(contentsOf: "9223372036854775808".utf8)
                return
            }
        }
        var x = UInt64(v.magnitude)
        var digits: (UInt64, UInt64) = (0, 0)
        var count = 0
        withUnsafeMutableBytes(of: &digits) { d in
            repeat {
                d[15 - count] = UInt8(48 + x % 10)
                x /= 10
                count += 1
            } while x > 0
            out.append(contentsOf: UnsafeRawBufferPointer(rebasing: d[(16 - count)..<16]))
        }
    }

    public static func writeString(_ bytes: UnsafeRawBufferPointer, into out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        writeStringBody(bytes, into: &out)
        out.append(UInt8(ascii: "\""))
    }

    /// `writeString` without the quotes.
    public static func writeStringBody(_ bytes: UnsafeRawBufferPointer, into out: inout [UInt8]) {
        let n = bytes.count
        guard let base = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return }
        // Copy the runs that need no escape (no quote, backslash or control byte), found 16 bytes at a time.
        var i = 0
        while i < n {
            let run = mixtera_find_string_special(base + i, n - i)
            if run > 0 { out.append(contentsOf: UnsafeRawBufferPointer(start: base + i, count: run)) }
            i += run
            if i < n {
                appendEscape(bytes[i], into: &out)
                i += 1
            }
        }
    }

    private static func appendEscape(_ c: UInt8, into out: inout [UInt8]) {
        out.append(0x5C)
        switch c {
        case UInt8(ascii: "\""): out.append(0x22)
        case UInt8(ascii: "\\"): out.append(0x5C)
        case 0x0A: out.append(UInt8(ascii: "n"))
        case 0x0D: out.append(UInt8(ascii: "r"))
        case 0x09: out.append(UInt8(ascii: "t"))
        case 0x08: out.append(UInt8(ascii: "b"))
        case 0x0C: out.append(UInt8(ascii: "f"))
        default:
            let hex: StaticString = "0123456789abcdef"
            let h = hex.utf8Start
            out.append(UInt8(ascii: "u"))
            out.append(0x30)
            out.append(0x30)
            out.append(h[Int(c >> 4)])
            out.append(h[Int(c & 15)])
        }
    }

    public struct ParseError: Error, Sendable, Equatable {
        public var offset: Int
        public var message: String
    }

    /// Parses a JSON document (RFC 8259; depth limited to 512).
    public static func parse(_ bytes: [UInt8]) throws(ParseError) -> JSON {
        var p = JSONParser(b: bytes)
        p.ws()
        let v = try p.value(depth: 0)
        p.ws()
        if p.i != bytes.count { throw ParseError(offset: p.i, message: "unexpected content after the value") }
        return v
    }
}

private struct JSONParser {
    let b: [UInt8]
    var i = 0

    init(b: [UInt8]) { self.b = b }

    mutating func ws() {
        while i < b.count, b[i] == 0x20 || b[i] == 0x0A || b[i] == 0x0D || b[i] == 0x09 { i += 1 }
    }

    func fail(_ m: String) -> JSON.ParseError { JSON.ParseError(offset: i, message: m) }

    mutating func value(depth: Int) throws(JSON.ParseError) -> JSON {
        guard depth < 512 else { throw fail("nesting too deep") }
        guard i < b.count else { throw fail("unexpected end of input") }
        switch b[i] {
        case UInt8(ascii: "{"):
            i += 1
            var kv: [(String, JSON)] = []
            ws()
            if i < b.count, b[i] == UInt8(ascii: "}") {
                i += 1
                return .object(kv)
            }
            while true {
                ws()
                guard i < b.count, b[i] == UInt8(ascii: "\"") else { throw fail("expected a string key") }
                let k = try string()
                ws()
                guard i < b.count, b[i] == UInt8(ascii: ":") else { throw fail("expected ':'") }
                i += 1
                ws()
                kv.append((k, try value(depth: depth + 1)))
                ws()
                guard i < b.count else { throw fail("unexpected end of input") }
                if b[i] == UInt8(ascii: "}") {
                    i += 1
                    return .object(kv)
                }
                guard b[i] == UInt8(ascii: ",") else { throw fail("expected ',' or '}'") }
                i += 1
            }
        case UInt8(ascii: "["):
            i += 1
            var a: [JSON] = []
            ws()
            if i < b.count, b[i] == UInt8(ascii: "]") {
                i += 1
                return .array(a)
            }
            while true {
                ws()
                a.append(try value(depth: depth + 1))
                ws()
                guard i < b.count else { throw fail("unexpected end of input") }
                if b[i] == UInt8(ascii: "]") {
                    i += 1
                    return .array(a)
                }
                guard b[i] == UInt8(ascii: ",") else { throw fail("expected ',' or ']'") }
                i += 1
            }
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "t"): try lit("true"); return .bool(true)
        case UInt8(ascii: "f"): try lit("false"); return .bool(false)
        case UInt8(ascii: "n"): try lit("null"); return .null
        default: return try number()
        }
    }

    mutating func lit(_ s: String) throws(JSON.ParseError) {
        let u = Array(s.utf8)
        guard i + u.count <= b.count, Array(b[i..<(i + u.count)]) == u else { throw fail("invalid literal") }
        i += u.count
    }

    mutating func number() throws(JSON.ParseError) -> JSON {
        let s = i
        var isInt = true
        if i < b.count, b[i] == UInt8(ascii: "-") { i += 1 }
        while i < b.count {
            let c = b[i]
            if c >= 48 && c <= 57 {
                i += 1
            } else if c == UInt8(ascii: ".") || c == UInt8(ascii: "e") || c == UInt8(ascii: "E") || c == UInt8(ascii: "+")
                || c == UInt8(ascii: "-")
            {
                isInt = false
                i += 1
            } else {
                break
            }
        }
        let text = String(decoding: b[s..<i], as: UTF8.self)
        if isInt, let v = Int64(text) { return .int(v) }
        guard let d = Double(text), s < i else { i = s; throw fail("invalid number") }
        return .double(d)
    }

    mutating func string() throws(JSON.ParseError) -> String {
        i += 1
        var out: [UInt8] = []
        while true {
            guard i < b.count else { throw fail("unterminated string") }
            let c = b[i]
            if c == UInt8(ascii: "\"") {
                i += 1
                return String(decoding: out, as: UTF8.self)
            }
            if c < 0x20 { throw fail("control character in string") }
            if c != UInt8(ascii: "\\") {
                out.append(c)
                i += 1
                continue
            }
            guard i + 1 < b.count else { throw fail("unterminated string") }
            let e = b[i + 1]
            i += 2
            switch e {
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "u"):
                var cp = try hex4()
                // A high surrogate pairs with a following low one; one followed by anything else is lone (U+FFFD),
                // and the next escape may start a pair of its own.
                while cp >= 0xD800 && cp < 0xDC00, i + 1 < b.count, b[i] == 0x5C, b[i + 1] == UInt8(ascii: "u") {
                    i += 2
                    let next = try hex4()
                    if next >= 0xDC00 && next < 0xE000 {
                        cp = 0x10000 + ((cp - 0xD800) << 10) + (next - 0xDC00)
                        break
                    }
                    out.append(contentsOf: [0xEF, 0xBF, 0xBD])
                    cp = next
                }
                let scalar = Unicode.Scalar(cp) ?? "\u{FFFD}"
                out.append(contentsOf: String(Character(scalar)).utf8)
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(e)
            default: throw fail("invalid escape")
            }
        }
    }

    mutating func hex4() throws(JSON.ParseError) -> UInt32 {
        guard i + 4 <= b.count else { throw fail("truncated \\u escape") }
        var v: UInt32 = 0
        for _ in 0..<4 {
            let c = b[i]
            let d: UInt32
            switch c {
            case 48...57: d = UInt32(c - 48)
            case 65...70: d = UInt32(c - 55)
            case 97...102: d = UInt32(c - 87)
            default: throw fail("invalid \\u escape")
            }
            v = v << 4 | d
            i += 1
        }
        return v
    }
}

/// A compiled property path into a JSON record: `a.b.c`, `a[0]`, `a[*].name`, `a\.b` (escaped dot),
/// `["a.b"]` (quoted key).
public enum JSONPathSegment: Sendable, Hashable {
    case key([UInt8])
    case index(Int)
    case wildcard
}

public struct JSONPathSyntaxError: Error, Sendable {
    public var message: String
}

public enum JSONPath {
    /// Parses a path. Keys are split on `.`; `\` escapes the next character; `[N]` indexes an array,
    /// `[*]` fans out over all elements, `["key"]` is a quoted key that may contain dots and brackets.
    public static func parse(_ text: String) throws(JSONPathSyntaxError) -> [JSONPathSegment] {
        let s = Array(text.utf8)
        var out: [JSONPathSegment] = []
        var i = 0
        var key: [UInt8] = []
        var keyOpen = false
        func flush() {
            if keyOpen { out.append(.key(key)) }
            key = []
            keyOpen = false
        }
        while i < s.count {
            let c = s[i]
            switch c {
            case UInt8(ascii: "\\"):
                guard i + 1 < s.count else { throw JSONPathSyntaxError(message: "path ends with a backslash") }
                key.append(s[i + 1])
                keyOpen = true
                i += 2
            case UInt8(ascii: "."):
                if !keyOpen && (out.isEmpty || i + 1 >= s.count) {
                    throw JSONPathSyntaxError(message: "empty key in path \"\(text)\"")
                }
                flush()
                i += 1
                if i < s.count && s[i] == UInt8(ascii: ".") {
                    throw JSONPathSyntaxError(message: "empty key in path \"\(text)\"")
                }
            case UInt8(ascii: "["):
                flush()
                guard let close = s[i...].firstIndex(of: UInt8(ascii: "]")) else {
                    throw JSONPathSyntaxError(message: "unclosed [ in path \"\(text)\"")
                }
                let inner = Array(s[(i + 1)..<close])
                if inner == [UInt8(ascii: "*")] {
                    out.append(.wildcard)
                } else if inner.count >= 2, inner.first == UInt8(ascii: "\""), inner.last == UInt8(ascii: "\"") {
                    out.append(.key(Array(inner[1..<(inner.count - 1)])))
                } else if !inner.isEmpty, inner.allSatisfy({ $0 >= 48 && $0 <= 57 }), inner.count < 10,
                    let n = Int(String(decoding: inner, as: UTF8.self))
                {
                    out.append(.index(n))
                } else {
                    throw JSONPathSyntaxError(
                        message: "bad index [\(String(decoding: inner, as: UTF8.self))] in path \"\(text)\"")
                }
                i = close + 1
            default:
                key.append(c)
                keyOpen = true
                i += 1
            }
        }
        flush()
        if out.isEmpty { throw JSONPathSyntaxError(message: "empty path") }
        return out
    }
}

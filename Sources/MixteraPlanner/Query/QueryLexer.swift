import MixteraCore

/// A comparison operator.
enum CompareOp: UInt8, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    case equal, notEqual, less, lessOrEqual, greater, greaterOrEqual

    var description: String {
        switch self {
        case .equal: return "=="
        case .notEqual: return "!="
        case .less: return "<"
        case .lessOrEqual: return "<="
        case .greater: return ">"
        case .greaterOrEqual: return ">="
        }
    }

    /// True for `<`, `<=`, `>`, `>=`.
    var isOrdering: Bool { self != .equal && self != .notEqual }

    /// Applies the operator to a three-way comparison result (-1, 0, 1; 2 = unordered, i.e. NaN).
    @inline(__always)
    func holds(_ order: Int) -> Bool {
        switch self {
        case .equal: return order == 0
        case .notEqual: return order != 0
        case .less: return order == -1
        case .lessOrEqual: return order == -1 || order == 0
        case .greater: return order == 1
        case .greaterOrEqual: return order == 1 || order == 0
        }
    }
}

enum QueryKeyword: String, CaseIterable {
    case and, or, not, `in`, has, `is`, null, `true`, `false`
}

struct QueryToken {
    enum Kind: Equatable {
        case identifier(String)
        case keyword(QueryKeyword)
        case string(String)
        case int(Int64)
        case float(Double)
        case compare(CompareOp)
        case leftParen, rightParen, leftBracket, rightBracket, comma
        case end
    }

    var kind: Kind
    /// 0-based offset in Unicode scalars.
    var offset: Int
    /// The source text of the token.
    var text: String

    /// How messages name the token.
    var quoted: String {
        switch kind {
        case .end: return "end of expression"
        case .string(let s): return "string \(QueryRendering.quote(s))"
        case .int, .float: return "number \(text)"
        default: return "\"\(text)\""
        }
    }
}

/// Splits an expression into tokens. Offsets count Unicode scalars.
struct QueryLexer {
    let scalars: [Unicode.Scalar]
    let start: DataLocation?
    var position = 0

    init(_ text: String, start: DataLocation?) {
        scalars = Array(text.unicodeScalars)
        self.start = start
    }

    func fail(_ message: String, at offset: Int) -> QueryError {
        QueryError.at(.syntax, message, offset: offset, start: start)
    }

    func text(_ from: Int, _ to: Int) -> String {
        var s = String.UnicodeScalarView()
        s.append(contentsOf: scalars[from..<to])
        return String(s)
    }

    static func isIdentifierStart(_ c: Unicode.Scalar) -> Bool {
        (c >= "a" && c <= "z") || (c >= "A" && c <= "Z") || c == "_"
    }

    static func isIdentifierContinue(_ c: Unicode.Scalar) -> Bool {
        isIdentifierStart(c) || isDigit(c)
    }

    static func isDigit(_ c: Unicode.Scalar) -> Bool { c >= "0" && c <= "9" }

    func peek(_ ahead: Int = 0) -> Unicode.Scalar? {
        position + ahead < scalars.count ? scalars[position + ahead] : nil
    }

    mutating func tokenize() throws(QueryError) -> [QueryToken] {
        var tokens: [QueryToken] = []
        while true {
            let token = try next()
            tokens.append(token)
            if token.kind == .end { return tokens }
        }
    }

    mutating func next() throws(QueryError) -> QueryToken {
        while let c = peek(), c == " " || c == "\t" || c == "\n" || c == "\r" { position += 1 }
        let begin = position
        guard let c = peek() else { return QueryToken(kind: .end, offset: begin, text: "") }
        func simple(_ kind: QueryToken.Kind, _ length: Int) -> QueryToken {
            position += length
            return QueryToken(kind: kind, offset: begin, text: text(begin, begin + length))
        }
        switch c {
        case "(": return simple(.leftParen, 1)
        case ")": return simple(.rightParen, 1)
        case "[": return simple(.leftBracket, 1)
        case "]": return simple(.rightBracket, 1)
        case ",": return simple(.comma, 1)
        case "=":
            if peek(1) == "=" { return simple(.compare(.equal), 2) }
            throw fail("unexpected \"=\"; use \"==\" to test equality", at: begin)
        case "!":
            if peek(1) == "=" { return simple(.compare(.notEqual), 2) }
            throw fail("unexpected \"!\"; use \"not\" or \"!=\"", at: begin)
        case "<":
            if peek(1) == "=" { return simple(.compare(.lessOrEqual), 2) }
            if peek(1) == ">" { throw fail("unexpected \"<>\"; use \"!=\"", at: begin) }
            return simple(.compare(.less), 1)
        case ">":
            if peek(1) == "=" { return simple(.compare(.greaterOrEqual), 2) }
            return simple(.compare(.greater), 1)
        case "&":
            throw fail(peek(1) == "&" ? "unexpected \"&&\"; use \"and\"" : "unexpected character \"&\"", at: begin)
        case "|":
            throw fail(peek(1) == "|" ? "unexpected \"||\"; use \"or\"" : "unexpected character \"|\"", at: begin)
        case "\"", "'": return try lexString(quote: c)
        case "`": return try lexQuotedIdentifier()
        default: break
        }
        if Self.isDigit(c) || (c == "-" && peek(1).map(Self.isDigit) == true) { return try lexNumber() }
        if Self.isIdentifierStart(c) {
            while let d = peek(), Self.isIdentifierContinue(d) { position += 1 }
            let word = text(begin, position)
            if let keyword = QueryKeyword(rawValue: word) {
                return QueryToken(kind: .keyword(keyword), offset: begin, text: word)
            }
            return QueryToken(kind: .identifier(word), offset: begin, text: word)
        }
        throw fail("unexpected character \(QueryRendering.quote(String(c)))", at: begin)
    }

    mutating func lexQuotedIdentifier() throws(QueryError) -> QueryToken {
        let begin = position
        position += 1
        while let c = peek(), c != "`" { position += 1 }
        guard peek() == "`" else { throw fail("unterminated quoted property name", at: begin) }
        let name = text(begin + 1, position)
        position += 1
        if name.isEmpty { throw fail("empty quoted property name", at: begin) }
        return QueryToken(kind: .identifier(name), offset: begin, text: text(begin, position))
    }

    mutating func lexNumber() throws(QueryError) -> QueryToken {
        let begin = position
        if peek() == "-" { position += 1 }
        func digits() -> Int {
            let s = position
            while let d = peek(), Self.isDigit(d) { position += 1 }
            return position - s
        }
        _ = digits()
        var isFloat = false
        var wellFormed = true
        if peek() == "." {
            isFloat = true
            position += 1
            if digits() == 0 { wellFormed = false }
        }
        if peek() == "e" || peek() == "E" {
            isFloat = true
            position += 1
            if peek() == "+" || peek() == "-" { position += 1 }
            if digits() == 0 { wellFormed = false }
        }
        // A number runs into a letter, digit, `_` or `.`: report the whole run.
        if let c = peek(), Self.isIdentifierContinue(c) || c == "." { wellFormed = false }
        if !wellFormed {
            while let c = peek(), Self.isIdentifierContinue(c) || c == "." { position += 1 }
            throw fail("invalid number literal \"\(text(begin, position))\"", at: begin)
        }
        let source = text(begin, position)
        if isFloat {
            guard let value = Double(source), value.isFinite else {
                throw fail("float literal \(source) is out of range", at: begin)
            }
            return QueryToken(kind: .float(value), offset: begin, text: source)
        }
        guard let value = Int64(source) else {
            throw fail("integer literal \(source) is out of range for int64", at: begin)
        }
        return QueryToken(kind: .int(value), offset: begin, text: source)
    }

    mutating func lexString(quote: Unicode.Scalar) throws(QueryError) -> QueryToken {
        let begin = position
        position += 1
        var value = String.UnicodeScalarView()
        while true {
            guard let c = peek() else { throw fail("unterminated string literal", at: begin) }
            if c == quote {
                position += 1
                return QueryToken(kind: .string(String(value)), offset: begin, text: text(begin, position))
            }
            if c != "\\" {
                value.append(c)
                position += 1
                continue
            }
            let escapeStart = position
            guard let e = peek(1) else { throw fail("unterminated string literal", at: begin) }
            position += 2
            switch e {
            case "\"": value.append("\"")
            case "'": value.append("'")
            case "\\": value.append("\\")
            case "n": value.append("\n")
            case "t": value.append("\t")
            case "r": value.append("\r")
            case "u":
                let high = try hex4(escapeStart)
                if (0xD800...0xDBFF).contains(high) {
                    guard peek() == "\\", peek(1) == "u" else {
                        throw badUnicode(escapeStart, position, "unpaired surrogate")
                    }
                    position += 2
                    let low = try hex4(escapeStart)
                    guard (0xDC00...0xDFFF).contains(low) else {
                        throw badUnicode(escapeStart, position, "unpaired surrogate")
                    }
                    let combined = 0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00)
                    // Always valid: 0x10000...0x10FFFF.
                    if let s = Unicode.Scalar(combined) { value.append(s) }
                } else if let s = Unicode.Scalar(high) {
                    value.append(s)
                } else {
                    throw badUnicode(escapeStart, position, "unpaired surrogate")
                }
            default:
                // Messages stay on one line: a control or non-ASCII character is named by code point.
                let hex = String(e.value, radix: 16, uppercase: true)
                let shown =
                    e.value >= 0x20 && e.value < 0x7F
                    ? "\"\\\(e)\"" : "\"\\\" followed by U+\(String(repeating: "0", count: max(0, 4 - hex.count)) + hex)"
                throw fail("invalid escape sequence \(shown) in string literal", at: escapeStart)
            }
        }
    }

    func badUnicode(_ from: Int, _ to: Int, _ reason: String) -> QueryError {
        fail("invalid unicode escape \"\(text(from, to))\" in string literal (\(reason))", at: from)
    }

    /// Reads the 4 hex digits after `\u`.
    mutating func hex4(_ escapeStart: Int) throws(QueryError) -> UInt32 {
        var v: UInt32 = 0
        for _ in 0..<4 {
            guard let c = peek(), let d = Self.hexValue(c) else {
                throw badUnicode(escapeStart, position, "expected 4 hex digits")
            }
            v = v << 4 | d
            position += 1
        }
        return v
    }

    static func hexValue(_ c: Unicode.Scalar) -> UInt32? {
        switch c {
        case "0"..."9": return c.value - 48
        case "a"..."f": return c.value - 87
        case "A"..."F": return c.value - 55
        default: return nil
        }
    }
}

import MixteraCore

/// A literal as written, with its offset.
struct QueryLiteral {
    enum Value {
        case string(String)
        case int(Int64)
        case float(Double)
        case bool(Bool)
    }

    var value: Value
    var offset: Int
    var text: String

    /// The literal's type name as used in messages.
    var typeName: String {
        switch value {
        case .string: return "string"
        case .int: return "int"
        case .float: return "float"
        case .bool: return "bool"
        }
    }

    /// `int 5`, `string "en"`: how messages name the literal.
    var named: String {
        switch value {
        case .string(let s): return "string \(QueryRendering.quote(s))"
        default: return "\(typeName) \(text)"
        }
    }
}

/// The untyped syntax tree, before names and types are checked against a schema.
indirect enum QuerySyntax {
    enum Operation {
        case compare(CompareOp, QueryLiteral, operatorOffset: Int)
        case isIn([QueryLiteral], negated: Bool, operatorOffset: Int, listOffset: Int)
        case has(QueryLiteral, operatorOffset: Int)
        case isNull(negated: Bool)
    }

    case constant(Bool)
    case not(QuerySyntax)
    case and([QuerySyntax])
    case or([QuerySyntax])
    case predicate(name: String, nameOffset: Int, Operation)
}

/// Recursive-descent parser for the grammar in `docs/query-language.md`.
struct QueryParser {
    /// Deepest nesting of parentheses and `not` accepted (docs/security.md): deeper expressions are a
    /// `syntax` error instead of exhausting the stack of this recursive-descent parser and of the
    /// recursive passes over the tree.
    static let maxNestingDepth = 256

    let tokens: [QueryToken]
    let start: DataLocation?
    var index = 0
    var depth = 0

    static func parse(_ text: String, start: DataLocation?) throws(QueryError) -> QuerySyntax {
        var lexer = QueryLexer(text, start: start)
        var parser = QueryParser(tokens: try lexer.tokenize(), start: start)
        if parser.current.kind == .end {
            throw parser.fail("empty expression", at: parser.current)
        }
        let tree = try parser.parseOr()
        if parser.current.kind != .end {
            throw parser.fail("expected \"and\" or \"or\" but found \(parser.current.quoted)", at: parser.current)
        }
        return tree
    }

    var current: QueryToken { tokens[index] }

    mutating func advance() -> QueryToken {
        let t = tokens[index]
        if index < tokens.count - 1 { index += 1 }
        return t
    }

    func fail(_ message: String, at token: QueryToken) -> QueryError {
        QueryError.at(.syntax, message, offset: token.offset, start: start)
    }

    mutating func parseOr() throws(QueryError) -> QuerySyntax {
        var items = [try parseAnd()]
        while current.kind == .keyword(.or) {
            _ = advance()
            items.append(try parseAnd())
        }
        return items.count == 1 ? items[0] : .or(items)
    }

    mutating func parseAnd() throws(QueryError) -> QuerySyntax {
        var items = [try parseNot()]
        while current.kind == .keyword(.and) {
            _ = advance()
            items.append(try parseNot())
        }
        return items.count == 1 ? items[0] : .and(items)
    }

    mutating func parseNot() throws(QueryError) -> QuerySyntax {
        if current.kind == .keyword(.not) {
            let token = advance()
            try enter(token)
            defer { depth -= 1 }
            return .not(try parseNot())
        }
        return try parsePrimary()
    }

    /// Counts one level of nesting at `token`, failing past ``maxNestingDepth``.
    mutating func enter(_ token: QueryToken) throws(QueryError) {
        depth += 1
        if depth > Self.maxNestingDepth {
            throw fail("expression nested deeper than \(Self.maxNestingDepth) levels", at: token)
        }
    }

    mutating func parsePrimary() throws(QueryError) -> QuerySyntax {
        let token = advance()
        switch token.kind {
        case .leftParen:
            try enter(token)
            defer { depth -= 1 }
            let inner = try parseOr()
            guard current.kind == .rightParen else {
                throw fail("expected \")\" but found \(current.quoted)", at: current)
            }
            _ = advance()
            return inner
        case .keyword(.true): return .constant(true)
        case .keyword(.false): return .constant(false)
        case .identifier(let name): return try parsePredicate(name: name, nameOffset: token.offset)
        default:
            throw fail(
                "expected a property name, \"(\", \"not\", \"true\" or \"false\" but found \(token.quoted)", at: token)
        }
    }

    mutating func parsePredicate(name: String, nameOffset: Int) throws(QueryError) -> QuerySyntax {
        let op = advance()
        switch op.kind {
        case .compare(let compareOp):
            let literal = try parseScalar(after: "\"\(op.text)\"")
            return .predicate(
                name: name, nameOffset: nameOffset, .compare(compareOp, literal, operatorOffset: op.offset))
        case .keyword(.in):
            return try parseIn(name: name, nameOffset: nameOffset, negated: false, operatorOffset: op.offset)
        case .keyword(.not):
            guard current.kind == .keyword(.in) else {
                throw fail("expected \"in\" after \"not\" but found \(current.quoted)", at: current)
            }
            _ = advance()
            return try parseIn(name: name, nameOffset: nameOffset, negated: true, operatorOffset: op.offset)
        case .keyword(.has):
            let literal = try parseScalar(after: "\"has\"")
            return .predicate(name: name, nameOffset: nameOffset, .has(literal, operatorOffset: op.offset))
        case .keyword(.is):
            var negated = false
            if current.kind == .keyword(.not) {
                negated = true
                _ = advance()
            }
            guard current.kind == .keyword(.null) else {
                let after = negated ? "is not" : "is"
                throw fail("expected \"null\" after \"\(after)\" but found \(current.quoted)", at: current)
            }
            _ = advance()
            return .predicate(name: name, nameOffset: nameOffset, .isNull(negated: negated))
        default:
            throw fail(
                "expected an operator (==, !=, <, <=, >, >=, in, not in, has, is) after property "
                    + "\(QueryRendering.quote(name)) but found \(op.quoted)", at: op)
        }
    }

    mutating func parseIn(name: String, nameOffset: Int, negated: Bool, operatorOffset: Int) throws(QueryError)
        -> QuerySyntax
    {
        let opName = negated ? "not in" : "in"
        let open = advance()
        guard open.kind == .leftBracket else {
            throw fail("expected \"[\" after \"\(opName)\" but found \(open.quoted)", at: open)
        }
        var items: [QueryLiteral] = []
        if current.kind == .rightBracket {
            _ = advance()
        } else {
            while true {
                items.append(try parseScalar(after: nil))
                let sep = advance()
                if sep.kind == .rightBracket { break }
                guard sep.kind == .comma else {
                    throw fail("expected \",\" or \"]\" in list but found \(sep.quoted)", at: sep)
                }
            }
        }
        return .predicate(
            name: name, nameOffset: nameOffset,
            .isIn(items, negated: negated, operatorOffset: operatorOffset, listOffset: open.offset))
    }

    /// A string, number or boolean literal; `after` names the operator (nil inside a list).
    mutating func parseScalar(after: String?) throws(QueryError) -> QueryLiteral {
        let token = advance()
        switch token.kind {
        case .string(let s): return QueryLiteral(value: .string(s), offset: token.offset, text: token.text)
        case .int(let v): return QueryLiteral(value: .int(v), offset: token.offset, text: token.text)
        case .float(let v): return QueryLiteral(value: .float(v), offset: token.offset, text: token.text)
        case .keyword(.true): return QueryLiteral(value: .bool(true), offset: token.offset, text: token.text)
        case .keyword(.false): return QueryLiteral(value: .bool(false), offset: token.offset, text: token.text)
        case .keyword(.null):
            if let after {
                throw fail("cannot compare with null using \(after); use \"is null\" or \"is not null\"", at: token)
            }
            throw fail("null is not allowed in a list; use \"is null\"", at: token)
        case .leftBracket:
            if let after {
                throw fail(
                    after == "\"has\""
                        ? "expected a string after \"has\" but found \"[\""
                        : "expected a string, number or boolean after \(after) but found \"[\"; use \"in\" for lists",
                    at: token)
            }
            throw fail("nested lists are not allowed", at: token)
        default:
            if let after {
                throw fail("expected a string, number or boolean after \(after) but found \(token.quoted)", at: token)
            }
            throw fail("expected a string, number or boolean in list but found \(token.quoted)", at: token)
        }
    }
}

import MixteraCore
import MixteraSpec

/// Resolves property names and checks operator and literal types against a ``QuerySchema``.
struct QueryChecker {
    let schema: QuerySchema
    let start: DataLocation?

    func fail(_ code: QueryError.Kind, _ message: String, at offset: Int) -> QueryError {
        QueryError.at(code, message, offset: offset, start: start)
    }

    func check(_ syntax: QuerySyntax) throws(QueryError) -> QueryNode {
        switch syntax {
        case .constant(let b): return .constant(b)
        case .not(let x): return .not(try check(x))
        case .and(let xs):
            var items: [QueryNode] = []
            for x in xs {
                let c = try check(x)
                if case .and(let inner) = c { items.append(contentsOf: inner) } else { items.append(c) }
            }
            return .and(items)
        case .or(let xs):
            var items: [QueryNode] = []
            for x in xs {
                let c = try check(x)
                if case .or(let inner) = c { items.append(contentsOf: inner) } else { items.append(c) }
            }
            return .or(items)
        case .predicate(let name, let nameOffset, let operation):
            return .test(try checkPredicate(name: name, nameOffset: nameOffset, operation))
        }
    }

    func checkPredicate(name: String, nameOffset: Int, _ operation: QuerySyntax.Operation) throws(QueryError)
        -> QueryTest
    {
        guard let index = schema.index(of: name) else {
            throw fail(.unknownProperty, unknownPropertyMessage(name), at: nameOffset)
        }
        let type = schema[index].type
        let quotedName = QueryRendering.quote(name)
        func test(_ kind: QueryTest.Kind) -> QueryTest {
            QueryTest(property: index, kind: kind, categorical: type.isCategorical)
        }
        func mismatch(_ literal: QueryLiteral, _ suffix: String = "") -> QueryError {
            fail(
                .typeMismatch, "cannot compare \(type.rawValue) property \(quotedName) with \(literal.named)\(suffix)",
                at: literal.offset)
        }

        switch operation {
        case .isNull(let negated):
            return test(.isNull(negated: negated))

        case .compare(let op, let literal, _):
            switch (type, literal.value) {
            case (.string, .string(let s)):
                return test(.string(op, s))
            case (.int, .int(let v)), (.float, .int(let v)):
                return test(.number(op, .int(v)))
            case (.int, .float(let v)), (.float, .float(let v)):
                return test(.number(op, .float(v)))
            case (.bool, .bool(let b)):
                guard !op.isOrdering else {
                    throw mismatch(literal, " using \"\(op)\" (only numbers and strings are ordered)")
                }
                return test(.bool(op, b))
            case (.stringList, _):
                throw mismatch(literal, "; use \"has\" to test list membership")
            default:
                throw mismatch(literal)
            }

        case .has(let literal, let operatorOffset):
            guard type == .stringList else {
                throw fail(
                    .typeMismatch,
                    "operator \"has\" needs a list<string> property but \(quotedName) has type \(type.rawValue)",
                    at: operatorOffset)
            }
            guard case .string(let s) = literal.value else {
                throw fail(
                    .typeMismatch,
                    "cannot test list<string> property \(quotedName) for \(literal.named) with \"has\" "
                        + "(expected a string)", at: literal.offset)
            }
            return test(.has(s))

        case .isIn(let literals, let negated, let operatorOffset, let listOffset):
            let opName = negated ? "not in" : "in"
            if type == .stringList {
                throw fail(
                    .typeMismatch,
                    "operator \"\(opName)\" is not defined for list<string> property \(quotedName); use \"has\"",
                    at: operatorOffset)
            }
            if literals.isEmpty {
                throw fail(.emptyList, "empty list after \"\(opName)\" for property \(quotedName)", at: listOffset)
            }
            switch type {
            case .string:
                var values: [String] = []
                for l in literals {
                    guard case .string(let s) = l.value else { throw mismatch(l, " in list") }
                    values.append(s)
                }
                values.sort { NumberOrder.compareUTF8($0, $1) < 0 }
                var unique: [String] = []
                for v in values where unique.last.map({ NumberOrder.compareUTF8($0, v) != 0 }) ?? true {
                    unique.append(v)
                }
                return test(.stringIn(unique, negated: negated))
            case .bool:
                var hasFalse = false
                var hasTrue = false
                for l in literals {
                    guard case .bool(let b) = l.value else { throw mismatch(l, " in list") }
                    if b { hasTrue = true } else { hasFalse = true }
                }
                return test(.boolIn(containsFalse: hasFalse, containsTrue: hasTrue, negated: negated))
            case .int, .float:
                var numbers: [NumberLiteral] = []
                for l in literals {
                    switch l.value {
                    case .int(let v): numbers.append(.int(v))
                    case .float(let v): numbers.append(.float(v))
                    default: throw mismatch(l, " in list")
                    }
                }
                return test(.numberIn(NumberSet(numbers), negated: negated))
            case .stringList:
                preconditionFailure("unreachable: list<string> handled above")
            }
        }
    }

    func unknownPropertyMessage(_ name: String) -> String {
        let known = schema.properties.map(\.name).sorted { NumberOrder.compareUTF8($0, $1) < 0 }
        var message = "unknown property \(QueryRendering.quote(name))"
        if let suggestion = Self.closestName(to: name, in: known) {
            message += " (did you mean \(QueryRendering.quote(suggestion))?)"
        }
        if known.isEmpty {
            message += "; no properties are declared"
        } else {
            message += "; known properties: " + known.joined(separator: ", ")
        }
        return message
    }

    /// The known name with the smallest edit distance (case-insensitive), when that distance is at most
    /// 2 and less than half the name's length; ties go to the first name in sorted order.
    static func closestName(to name: String, in sortedNames: [String]) -> String? {
        let target = Array(name.lowercased().unicodeScalars)
        var best: (name: String, distance: Int)?
        for candidate in sortedNames {
            let d = editDistance(target, Array(candidate.lowercased().unicodeScalars))
            if d <= 2, d * 2 < max(target.count, 2), best.map({ d < $0.distance }) ?? true {
                best = (candidate, d)
            }
        }
        return best?.name
    }

    /// Levenshtein distance with adjacent transpositions counted as one edit.
    static func editDistance(_ a: [Unicode.Scalar], _ b: [Unicode.Scalar]) -> Int {
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var prev2 = [Int](repeating: 0, count: b.count + 1)
        var prev = Array(0...b.count)
        var cur = [Int](repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            cur[0] = i
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                var v = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
                if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] { v = min(v, prev2[j - 2] + 1) }
                cur[j] = v
            }
            (prev2, prev, cur) = (prev, cur, prev2)
        }
        return prev[b.count]
    }
}

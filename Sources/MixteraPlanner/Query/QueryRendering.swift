/// Renders typed expressions as normalized text (for `explain` and messages).
///
/// Normal form: keywords lowercase, single spaces, `and`/`or` flattened, parentheses only where
/// precedence needs them (an `or` inside an `and`) and around every operand of `not` that is not a
/// constant; strings double-quoted with escapes; `in` lists sorted (strings by UTF-8 bytes, numbers
/// by value) without duplicates. The output parses back to an equivalent query.
enum QueryRendering {
    /// Double-quotes a string, escaping `"`, `\`, newline, tab, carriage return and other control
    /// characters (`\u00XX`).
    static func quote(_ s: String) -> String {
        var out = "\""
        for c in s.unicodeScalars {
            switch c {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            default:
                if c.value < 0x20 || c.value == 0x7F {
                    let hex = String(c.value, radix: 16, uppercase: true)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(c)
                }
            }
        }
        return out + "\""
    }

    /// A property name, in backticks when it is a keyword or not a plain identifier.
    static func name(_ n: String) -> String {
        var plain = !n.isEmpty && QueryKeyword(rawValue: n) == nil
        for (i, c) in n.unicodeScalars.enumerated() where plain {
            plain = i == 0 ? QueryLexer.isIdentifierStart(c) : QueryLexer.isIdentifierContinue(c)
        }
        return plain ? n : "`\(n)`"
    }

    static func number(_ n: NumberLiteral) -> String {
        switch n {
        case .int(let i): return String(i)
        case .float(let d): return d.description
        }
    }

    static func render(_ node: QueryNode, names: [String]) -> String {
        switch node {
        case .constant(let b): return b ? "true" : "false"
        case .not(let x):
            if case .constant = x { return "not " + render(x, names: names) }
            return "not (" + render(x, names: names) + ")"
        case .or(let xs):
            return xs.map { render($0, names: names) }.joined(separator: " or ")
        case .and(let xs):
            return xs.map { x in
                if case .or = x { return "(" + render(x, names: names) + ")" }
                return render(x, names: names)
            }.joined(separator: " and ")
        case .test(let t): return render(t, names: names)
        }
    }

    static func render(_ t: QueryTest, names: [String]) -> String {
        let p = name(names[t.property])
        func list(_ items: [String], negated: Bool) -> String {
            "\(p) \(negated ? "not in" : "in") [" + items.joined(separator: ", ") + "]"
        }
        switch t.kind {
        case .isNull(let negated): return "\(p) is \(negated ? "not null" : "null")"
        case .string(let op, let s): return "\(p) \(op) \(quote(s))"
        case .stringIn(let items, let negated): return list(items.map(quote), negated: negated)
        case .bool(let op, let b): return "\(p) \(op) \(b)"
        case .boolIn(let f, let tr, let negated):
            return list((f ? ["false"] : []) + (tr ? ["true"] : []), negated: negated)
        case .number(let op, let n): return "\(p) \(op) \(number(n))"
        case .numberIn(let set, let negated):
            // Merge the two sorted halves by exact value.
            var out: [String] = []
            var i = 0
            var j = 0
            while i < set.ints.count || j < set.floats.count {
                if j == set.floats.count
                    || (i < set.ints.count && NumberOrder.compare(set.ints[i], set.floats[j]) < 0)
                {
                    out.append(String(set.ints[i]))
                    i += 1
                } else {
                    out.append(set.floats[j].description)
                    j += 1
                }
            }
            return list(out, negated: negated)
        case .has(let s): return "\(p) has \(quote(s))"
        }
    }
}

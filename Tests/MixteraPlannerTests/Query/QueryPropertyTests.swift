import Foundation
import MixteraCore
import MixteraSpec
import Testing

@testable import MixteraPlanner

/// SplitMix64, written out here so the tests do not depend on the code under test.
struct TestRandom {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
    mutating func chance(_ percent: Int) -> Bool { below(100) < percent }
    mutating func pick<T>(_ items: [T]) -> T { items[below(items.count)] }
}

/// A generated expression and an independent reference evaluator for it.
indirect enum GenExpr {
    enum Literal {
        case string(String)
        case int(Int64)
        case float(Double)
        case bool(Bool)
    }

    case constant(Bool)
    case not(GenExpr)
    case and(GenExpr, GenExpr)
    case or(GenExpr, GenExpr)
    case compare(Int, String, Literal)
    case isIn(Int, [Literal], negated: Bool)
    case has(Int, String)
    case isNull(Int, negated: Bool)

    static let strings = ["", "en", "de", "\u{E9}", "e\u{301}", "Z", "a\"b", "it's", "tab\t", "日本"]
    static let ints: [Int64] = [0, 1, -1, 2, 2020, 9_007_199_254_740_992, 9_007_199_254_740_993, .max, .min]
    static let floats: [Double] = [
        0.0, -0.0, 0.5, 1.0, 2.0, -1.5, 2020.25, 9_007_199_254_740_992.0, 9.3e18, 9_223_372_036_854_775_808.0,
        -9_223_372_036_854_775_808.0, 1e300, 0.1,
    ]

    // MARK: Generation

    static func generate(_ r: inout TestRandom, schema: QuerySchema, depth: Int) -> GenExpr {
        if depth > 0, r.chance(55) {
            switch r.below(3) {
            case 0: return .not(generate(&r, schema: schema, depth: depth - 1))
            case 1:
                return .and(generate(&r, schema: schema, depth: depth - 1), generate(&r, schema: schema, depth: depth - 1))
            default:
                return .or(generate(&r, schema: schema, depth: depth - 1), generate(&r, schema: schema, depth: depth - 1))
            }
        }
        if r.chance(4) { return .constant(r.chance(50)) }
        let p = r.below(schema.count)
        if r.chance(12) { return .isNull(p, negated: r.chance(50)) }
        func literal(for type: PropertyType) -> Literal {
            switch type {
            case .string: return .string(r.pick(strings))
            case .bool: return .bool(r.chance(50))
            case .int, .float: return r.chance(50) ? .int(r.pick(ints)) : .float(r.pick(floats))
            case .stringList: return .string(r.pick(strings))
            }
        }
        let type = schema[p].type
        switch type {
        case .stringList: return .has(p, r.pick(strings))
        case .bool:
            if r.chance(30) { return .isIn(p, (0...r.below(3)).map { _ in literal(for: type) }, negated: r.chance(50)) }
            return .compare(p, r.pick(["==", "!="]), literal(for: type))
        default:
            if r.chance(30) { return .isIn(p, (0...r.below(4)).map { _ in literal(for: type) }, negated: r.chance(50)) }
            return .compare(p, r.pick(["==", "!=", "<", "<=", ">", ">="]), literal(for: type))
        }
    }

    static func value(_ r: inout TestRandom, _ type: PropertyType) -> PropertyValue {
        if r.chance(15) { return .null }
        switch type {
        case .string: return .string(r.pick(strings))
        case .bool: return .bool(r.chance(50))
        case .int: return .int(r.chance(80) ? r.pick(ints) : Int64(bitPattern: r.next()))
        case .float:
            if r.chance(5) { return .float(.nan) }
            return .float(r.chance(80) ? r.pick(floats) : Double(Int64(bitPattern: r.next())) / 1e6)
        case .stringList: return .stringList((0..<r.below(4)).map { _ in r.pick(strings) })
        }
    }

    // MARK: Rendering (random spelling: quotes, spacing, redundant parentheses)

    func render(_ r: inout TestRandom, names: [String], precedence: Int = 0) -> String {
        let ws = r.chance(20) ? "  " : " "
        var text: String
        var own: Int
        switch self {
        case .constant(let b):
            (text, own) = (b ? "true" : "false", 3)
        case .not(let x):
            (text, own) = ("not" + ws + x.render(&r, names: names, precedence: 3), 3)
        case .and(let a, let b):
            text = a.render(&r, names: names, precedence: 2) + ws + "and" + ws + b.render(&r, names: names, precedence: 2)
            own = 2
        case .or(let a, let b):
            text = a.render(&r, names: names, precedence: 1) + ws + "or" + ws + b.render(&r, names: names, precedence: 1)
            own = 1
        case .compare(let p, let op, let l):
            (text, own) = (names[p] + ws + op + ws + Self.render(l, &r), 3)
        case .isIn(let p, let ls, let negated):
            let items = ls.map { Self.render($0, &r) }.joined(separator: "," + ws)
            (text, own) = (names[p] + (negated ? " not in " : " in ") + "[" + items + "]", 3)
        case .has(let p, let s):
            (text, own) = (names[p] + " has " + Self.render(.string(s), &r), 3)
        case .isNull(let p, let negated):
            (text, own) = (names[p] + (negated ? " is not null" : " is null"), 3)
        }
        if own < precedence || r.chance(8) { text = "(" + text + ")" }
        return text
    }

    static func render(_ l: Literal, _ r: inout TestRandom) -> String {
        switch l {
        case .int(let i): return String(i)
        case .float(let d): return d.description
        case .bool(let b): return b ? "true" : "false"
        case .string(let s):
            let single = r.chance(50)
            var out = single ? "'" : "\""
            for c in s.unicodeScalars {
                switch c {
                case "\\": out += "\\\\"
                case "\"" where !single: out += "\\\""
                case "'" where single: out += "\\'"
                case "\t": out += r.chance(50) ? "\\t" : "\\u0009"
                default:
                    if c.value > 127, r.chance(50) {
                        out += "\\u" + String(format: "%04X", c.value)
                    } else {
                        out.unicodeScalars.append(c)
                    }
                }
            }
            return out + (single ? "'" : "\"")
        }
    }

    // MARK: Reference semantics (straightforward, independent of the implementation)

    /// -1, 0, 1, or nil when unordered (NaN).
    static func order(_ v: PropertyValue, _ l: Literal) -> Int? {
        switch (v, l) {
        case (.string(let a), .string(let b)):
            let x = Array(a.utf8)
            let y = Array(b.utf8)
            return x == y ? 0 : (x.lexicographicallyPrecedes(y) ? -1 : 1)
        case (.bool(let a), .bool(let b)): return a == b ? 0 : 1
        case (.int(let a), .int(let b)): return a == b ? 0 : (a < b ? -1 : 1)
        case (.int(let a), .float(let b)): return intVersusDouble(a, b)
        case (.float(let a), .int(let b)): return intVersusDouble(b, a).map { -$0 }
        case (.float(let a), .float(let b)):
            if a.isNaN || b.isNaN { return nil }
            return a == b ? 0 : (a < b ? -1 : 1)
        default: fatalError("generator produced an ill-typed comparison")
        }
    }

    static func intVersusDouble(_ i: Int64, _ d: Double) -> Int? {
        if d.isNaN { return nil }
        if let di = Int64(exactly: d) { return i == di ? 0 : (i < di ? -1 : 1) }
        if d >= 0x1p63 { return -1 }
        if d < -0x1p63 { return 1 }
        // d is not integral, so |d| < 2^52; Double(i) keeps the order even when rounded.
        let x = Double(i)
        return x < d ? -1 : 1
    }

    func reference(_ values: [PropertyValue]) -> Bool {
        switch self {
        case .constant(let b): return b
        case .not(let x): return !x.reference(values)
        case .and(let a, let b): return a.reference(values) && b.reference(values)
        case .or(let a, let b): return a.reference(values) || b.reference(values)
        case .isNull(let p, let negated):
            if case .null = values[p] { return !negated }
            return negated
        case .compare(let p, let op, let l):
            if case .null = values[p] { return false }
            let o = Self.order(values[p], l)
            switch op {
            case "==": return o == 0
            case "!=": return o != 0
            case "<": return o == -1
            case "<=": return o == -1 || o == 0
            case ">": return o == 1
            default: return o == 1 || o == 0
            }
        case .isIn(let p, let ls, let negated):
            if case .null = values[p] { return false }
            let found = ls.contains { Self.order(values[p], $0) == 0 }
            return found != negated
        case .has(let p, let s):
            guard case .stringList(let items) = values[p] else { return false }
            return items.contains { Array($0.utf8) == Array(s.utf8) }
        }
    }
}

@Suite struct QueryPropertyTests {
    static let schema = QuerySchema([
        ("s", .string), ("t", .string), ("l", .stringList), ("b", .bool), ("i", .int), ("j", .int), ("f", .float),
        ("g", .float),
    ])

    static var seed: UInt64 {
        if let text = ProcessInfo.processInfo.environment["MIXTERA_TEST_SEED"], let s = UInt64(text) { return s }
        return 0x5EED_0001
    }

    @Test func specializeThenEvaluateMatchesReference() throws {
        let seed = Self.seed
        print("QueryPropertyTests seed: \(seed) (replay with MIXTERA_TEST_SEED=\(seed))")
        var r = TestRandom(state: seed)
        let schema = Self.schema
        let names = schema.properties.map(\.name)
        var mismatches = 0
        for _ in 0..<1500 {
            let expr = GenExpr.generate(&r, schema: schema, depth: r.below(5))
            let text = expr.render(&r, names: names)
            let query = try CompiledQuery.compile(text, schema: schema, at: nil)
            let normal = try CompiledQuery.compile(query.description, schema: schema, at: nil)
            #expect(normal.description == query.description, "normal form is not stable for \(text)")
            for _ in 0..<40 {
                let values = schema.properties.map { GenExpr.value(&r, $0.type) }
                let expected = expr.reference(values)
                let byIndex = Dictionary(uniqueKeysWithValues: values.enumerated().map { ($0, $1) })
                let got = QueryFixtures.evaluate(query, byIndex, schema: schema)
                let gotNormal = normal.evaluate { values[$0] }
                if got != expected || gotNormal != expected {
                    mismatches += 1
                    Issue.record(
                        "seed \(seed): \(text) with \(values): expected \(expected), got \(got) (normal \(gotNormal))")
                    if mismatches > 5 { return }
                }
            }
        }
    }
}

import MixteraCore
import MixteraSpec

/// A type-checked query or filter expression (see `docs/query-language.md`).
///
/// Evaluation is split the way the catalog stores properties: ``specialize(categorical:)`` evaluates
/// everything that depends only on categorical properties (string, bool, list<string>) of one
/// distinct combination, and returns a ``Residual`` over the numeric properties (int, float) that
/// is then evaluated per sample.
public struct CompiledQuery: Sendable, Hashable, CustomStringConvertible {
    let root: QueryNode
    let names: [String]

    /// The query `true`: selects everything.
    public static let always = CompiledQuery(root: .constant(true), names: [])

    /// Parses and type-checks `text` against `schema`.
    ///
    /// - Parameter location: where the expression text starts (path, line and column of its first
    ///   character, after any opening YAML quote). Error locations keep the path and line and add the
    ///   offending token's 0-based offset (in Unicode scalars) to the column.
    /// - Throws: `QueryError` with kind `syntax`, `unknown-property`, `type-mismatch` or `empty-list`.
    ///   Syntax errors anywhere in the text are reported before name and type errors.
    public static func compile(_ text: String, schema: QuerySchema, at location: DataLocation?) throws(QueryError)
        -> CompiledQuery
    {
        let syntax = try QueryParser.parse(text, start: location)
        let root = try QueryChecker(schema: schema, start: location).check(syntax)
        return CompiledQuery(root: root, names: schema.properties.map(\.name))
    }

    /// Indices of every property the expression mentions, sorted ascending.
    public var referencedProperties: [Int] {
        var set = Set<Int>()
        root.collectProperties(into: &set)
        return set.sorted()
    }

    /// True when the expression is the constant `true` (written as such, not simplified).
    public var isAlwaysTrue: Bool { root == .constant(true) }

    /// The normalized expression text (see `docs/query-language.md`, "Normal form").
    public var description: String { QueryRendering.render(root, names: names) }

    public static func == (a: CompiledQuery, b: CompiledQuery) -> Bool { a.root == b.root && a.names == b.names }
    public func hash(into hasher: inout Hasher) { hasher.combine(root) }

    /// Partial evaluation given the values of the categorical properties of one distinct combination.
    ///
    /// `categorical` is called only with indices of categorical properties the query references,
    /// possibly not for all of them (evaluation short-circuits) and possibly more than once for one.
    /// It must return `.null` or a value of the property's type.
    public func specialize(categorical: (Int) -> PropertyValue) -> Residual {
        let node = Self.specialize(root, categorical)
        switch node {
        case .constant(true): return .alwaysTrue
        case .constant(false): return .alwaysFalse
        default: return .numeric(NumericPredicate(node, names: names))
        }
    }

    /// Evaluates the whole expression for one sample. `value` is called with referenced property
    /// indices (categorical and numeric).
    public func evaluate(_ value: (Int) -> PropertyValue) -> Bool {
        switch specialize(categorical: value) {
        case .alwaysTrue: return true
        case .alwaysFalse: return false
        case .numeric(let predicate): return predicate.evaluate(value)
        }
    }

    /// Folds categorical tests to constants and simplifies; the result is a constant or contains no
    /// constants and only numeric tests. Allocates only when numeric tests remain.
    static func specialize(_ node: QueryNode, _ categorical: (Int) -> PropertyValue) -> QueryNode {
        switch node {
        case .constant: return node
        case .test(let t):
            return t.categorical ? .constant(evaluateCategorical(t, categorical(t.property))) : node
        case .not(let x):
            switch specialize(x, categorical) {
            case .constant(let b): return .constant(!b)
            case .not(let y): return y
            case let y: return .not(y)
            }
        case .and(let xs): return junction(xs, isAnd: true, categorical)
        case .or(let xs): return junction(xs, isAnd: false, categorical)
        }
    }

    private static func junction(_ xs: [QueryNode], isAnd: Bool, _ categorical: (Int) -> PropertyValue)
        -> QueryNode
    {
        var kept: [QueryNode]? = nil
        for x in xs {
            let s = specialize(x, categorical)
            switch s {
            case .constant(let b):
                // `false` decides an `and`, `true` decides an `or`; the other constant is neutral.
                if b != isAnd { return .constant(b) }
            case .and(let inner) where isAnd: kept = (kept ?? []) + inner
            case .or(let inner) where !isAnd: kept = (kept ?? []) + inner
            default: kept = (kept ?? []) + [s]
            }
        }
        guard let kept else { return .constant(isAnd) }
        if kept.count == 1 { return kept[0] }
        return isAnd ? .and(kept) : .or(kept)
    }

    static func evaluateCategorical(_ t: QueryTest, _ value: PropertyValue) -> Bool {
        if case .isNull(let negated) = t.kind {
            if case .null = value { return !negated }
            return negated
        }
        if case .null = value { return false }
        switch (t.kind, value) {
        case (.string(let op, let lit), .string(let v)):
            if op == .equal { return NumberOrder.equalUTF8(v, lit) }
            if op == .notEqual { return !NumberOrder.equalUTF8(v, lit) }
            return op.holds(NumberOrder.compareUTF8(v, lit))
        case (.stringIn(let items, let negated), .string(let v)):
            return NumberOrder.containsUTF8(items, v) != negated
        case (.bool(let op, let lit), .bool(let v)):
            return (v == lit) == (op == .equal)
        case (.boolIn(let f, let tr, let negated), .bool(let v)):
            return (v ? tr : f) != negated
        case (.has(let lit), .stringList(let items)):
            return items.contains { NumberOrder.equalUTF8($0, lit) }
        default:
            preconditionFailure("query: value \(value) does not match the type of property \(t.property)")
        }
    }
}

/// What remains of a query once the categorical properties of one distinct combination are known.
public enum Residual: Sendable, Hashable, CustomStringConvertible {
    /// Every sample of the combination matches.
    case alwaysTrue
    /// No sample of the combination matches.
    case alwaysFalse
    /// Samples match when the predicate over their numeric properties holds.
    case numeric(NumericPredicate)

    public var description: String {
        switch self {
        case .alwaysTrue: return "true"
        case .alwaysFalse: return "false"
        case .numeric(let p): return p.description
        }
    }
}

import MixteraSpec

/// A number literal, kept as written (int or float).
enum NumberLiteral: Sendable, Hashable {
    case int(Int64)
    case float(Double)
}

/// A set of numbers for `in`, normalized so membership is exact: integral values that fit in Int64
/// are in `ints`, every other value in `floats`. Both sorted ascending, without duplicates.
struct NumberSet: Sendable, Hashable {
    var ints: [Int64]
    var floats: [Double]

    init(_ literals: [NumberLiteral]) {
        var ints: [Int64] = []
        var floats: [Double] = []
        for l in literals {
            switch l {
            case .int(let i): ints.append(i)
            case .float(let d):
                if let i = NumberOrder.exactInt64(d) { ints.append(i) } else { floats.append(d) }
            }
        }
        self.ints = Array(Set(ints)).sorted()
        self.floats = Array(Set(floats)).sorted()
    }

    @inline(__always)
    func contains(_ value: Int64) -> Bool { NumberOrder.binarySearch(ints, value) }

    @inline(__always)
    func contains(_ value: Double) -> Bool {
        if let i = NumberOrder.exactInt64(value) { return NumberOrder.binarySearch(ints, i) }
        return NumberOrder.binarySearch(floats, value)
    }
}

/// One test of one property, with checked types.
struct QueryTest: Sendable, Hashable {
    enum Kind: Sendable, Hashable {
        case isNull(negated: Bool)
        case string(CompareOp, String)
        /// Sorted by UTF-8 bytes, without duplicates.
        case stringIn([String], negated: Bool)
        /// Operator is `==` or `!=`.
        case bool(CompareOp, Bool)
        case boolIn(containsFalse: Bool, containsTrue: Bool, negated: Bool)
        case number(CompareOp, NumberLiteral)
        case numberIn(NumberSet, negated: Bool)
        case has(String)
    }

    var property: Int
    var kind: Kind
    /// Whether the property is categorical (string, bool, list<string>).
    var categorical: Bool
}

/// The typed expression tree. `and`/`or` are flattened and have at least two items.
indirect enum QueryNode: Sendable, Hashable {
    case constant(Bool)
    case not(QueryNode)
    case and([QueryNode])
    case or([QueryNode])
    case test(QueryTest)

    func collectProperties(into set: inout Set<Int>) {
        switch self {
        case .constant: break
        case .not(let x): x.collectProperties(into: &set)
        case .and(let xs), .or(let xs): for x in xs { x.collectProperties(into: &set) }
        case .test(let t): set.insert(t.property)
        }
    }
}

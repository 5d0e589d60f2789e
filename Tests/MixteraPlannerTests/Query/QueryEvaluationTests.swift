import MixteraCore
import MixteraSpec
import Testing

@testable import MixteraPlanner

struct EvaluationCase: Sendable, CustomTestStringConvertible {
    var query: String
    var values: [Int: PropertyValue]
    var expected: Bool
    var testDescription: String { "\(query) with \(values.sorted { $0.key < $1.key }) → \(expected)" }

    init(_ query: String, _ values: [Int: PropertyValue], _ expected: Bool) {
        self.query = query
        self.values = values
        self.expected = expected
    }
}

// Indices: 0 language, 1 langs, 2 quality, 3 year, 4 flag, 5 source, 6 tokens.
private let null: PropertyValue = .null

@Suite struct QueryEvaluationTests {
    typealias Case = EvaluationCase

    static let constants: [Case] = [
        Case("true", [:], true),
        Case("false", [:], false),
        Case("not true", [:], false),
        Case("not false", [:], true),
        Case("true and false", [:], false),
        Case("true or false", [:], true),
    ]

    /// A comparison with a null value is false; `not` negates that; `is null` tests nullness.
    static let nulls: [Case] = [
        Case("language == \"en\"", [0: null], false),
        Case("language != \"en\"", [0: null], false),
        Case("not language == \"en\"", [0: null], true),
        Case("not (language != \"en\")", [0: null], true),
        Case("language < \"z\"", [0: null], false),
        Case("language >= \"\"", [0: null], false),
        Case("language in [\"en\"]", [0: null], false),
        Case("language not in [\"en\"]", [0: null], false),
        Case("not language in [\"en\"]", [0: null], true),
        Case("langs has \"en\"", [1: null], false),
        Case("not langs has \"en\"", [1: null], true),
        Case("flag == true", [4: null], false),
        Case("flag != true", [4: null], false),
        Case("flag in [true, false]", [4: null], false),
        Case("flag not in [true]", [4: null], false),
        Case("year < 5", [3: null], false),
        Case("year != 5", [3: null], false),
        Case("not (year != 5)", [3: null], true),
        Case("year in [1]", [3: null], false),
        Case("year not in [1]", [3: null], false),
        Case("quality >= 0.0", [2: null], false),
        Case("language is null", [0: null], true),
        Case("language is not null", [0: null], false),
        Case("language is null", [0: .string("")], false),
        Case("language is not null", [0: .string("")], true),
        Case("langs is null", [1: .stringList([])], false),
        Case("year is null", [3: null], true),
        Case("year is not null", [3: .int(0)], true),
        Case("quality is null", [2: .float(.nan)], false),
        Case("year is null or year < 5", [3: null], true),
        Case("year is not null and year != 5", [3: null], false),
    ]

    static let strings: [Case] = [
        Case("language == \"en\"", [0: .string("en")], true),
        Case("language == \"en\"", [0: .string("EN")], false),
        Case("language != \"en\"", [0: .string("de")], true),
        Case("language < \"b\"", [0: .string("a")], true),
        Case("language < \"b\"", [0: .string("b")], false),
        Case("language <= \"b\"", [0: .string("b")], true),
        Case("language > \"b\"", [0: .string("ba")], true),
        Case("language >= \"b\"", [0: .string("a")], false),
        // Bytewise UTF-8 order: "Z" (5A) < "a" (61) < "z" (7A) < "é" (C3 A9).
        Case("language < \"a\"", [0: .string("Z")], true),
        Case("language > \"z\"", [0: .string("é")], true),
        // No Unicode normalization: precomposed é is not decomposed e + U+0301.
        Case("language == \"e\\u0301\"", [0: .string("\u{E9}")], false),
        Case("language == \"\\u00e9\"", [0: .string("\u{E9}")], true),
        Case("language in [\"e\\u0301\"]", [0: .string("\u{E9}")], false),
        Case("language in [\"de\", \"en\", \"fr\"]", [0: .string("en")], true),
        Case("language in [\"de\", \"en\", \"fr\"]", [0: .string("it")], false),
        Case("language not in [\"de\", \"en\"]", [0: .string("it")], true),
        Case("language not in [\"de\", \"en\"]", [0: .string("de")], false),
        Case("langs has \"en\"", [1: .stringList(["de", "en"])], true),
        Case("langs has \"en\"", [1: .stringList(["de"])], false),
        Case("langs has \"en\"", [1: .stringList([])], false),
        Case("langs has \"\"", [1: .stringList([""])], true),
        Case("flag == true", [4: .bool(true)], true),
        Case("flag == true", [4: .bool(false)], false),
        Case("flag != true", [4: .bool(false)], true),
        Case("flag == false", [4: .bool(false)], true),
        Case("flag in [false]", [4: .bool(false)], true),
        Case("flag in [false]", [4: .bool(true)], false),
        Case("flag not in [false]", [4: .bool(true)], true),
    ]

    static let numbers: [Case] = [
        Case("year == 2020", [3: .int(2020)], true),
        Case("year != 2020", [3: .int(2020)], false),
        Case("year < 2020", [3: .int(2019)], true),
        Case("year <= 2020", [3: .int(2020)], true),
        Case("year > 2020", [3: .int(2020)], false),
        Case("year >= 2020", [3: .int(2020)], true),
        Case("year == -3", [3: .int(-3)], true),
        // int and float mix.
        Case("year == 2020.0", [3: .int(2020)], true),
        Case("year < 2020.5", [3: .int(2020)], true),
        Case("year > 2019.5", [3: .int(2020)], true),
        Case("year > -0.5", [3: .int(0)], true),
        Case("year < -0.5", [3: .int(-1)], true),
        Case("year == -0.0", [3: .int(0)], true),
        Case("quality == 1", [2: .float(1.0)], true),
        Case("quality > 1", [2: .float(1.0000001)], true),
        Case("quality >= 0.2", [2: .float(0.2)], true),
        Case("quality >= 0.2", [2: .float(0.19999999999999998)], false),
        Case("quality == 0", [2: .float(-0.0)], true),
        Case("quality in [1, 2]", [2: .float(2.0)], true),
        Case("quality in [1, 2]", [2: .float(1.5)], false),
        Case("quality in [1.5, 2]", [2: .float(1.5)], true),
        Case("quality not in [1.5, 2]", [2: .float(1.5)], false),
        Case("year in [1.5]", [3: .int(1)], false),
        Case("year in [2.0, 7]", [3: .int(2)], true),
        Case("year not in [2.0, 7]", [3: .int(3)], true),
        // A float property may be handed an int value, and the reverse.
        Case("quality == 3", [2: .int(3)], true),
        Case("year == 3.5", [3: .float(3.5)], true),
        // Exact beyond 2^53 (Double(9007199254740993) == 9007199254740992).
        Case("year == 9007199254740993", [3: .int(9_007_199_254_740_992)], false),
        Case("year == 9007199254740992.0", [3: .int(9_007_199_254_740_993)], false),
        Case("year > 9007199254740992.0", [3: .int(9_007_199_254_740_993)], true),
        Case("year in [9007199254740992.0]", [3: .int(9_007_199_254_740_993)], false),
        Case("quality == 9007199254740993", [2: .float(9_007_199_254_740_992.0)], false),
        Case("quality < 9007199254740993", [2: .float(9_007_199_254_740_992.0)], true),
        Case("year == 9223372036854775807", [3: .int(.max)], true),
        Case("year < 9223372036854775807", [3: .int(.max)], false),
        Case("year < 9.3e18", [3: .int(.max)], true),
        Case("year < 9223372036854775808.0", [3: .int(.max)], true),
        Case("year >= -9223372036854775808", [3: .int(.min)], true),
        Case("year > -9223372036854775808.0", [3: .int(.min)], false),
        Case("year > -1e300", [3: .int(.min)], true),
        Case("quality > 9223372036854775807", [2: .float(9_223_372_036_854_775_808.0)], true),
        Case("quality in [9223372036854775807]", [2: .float(9_223_372_036_854_775_808.0)], false),
        Case("quality in [1e300]", [2: .float(1e300)], true),
        Case("quality == 1e300", [2: .float(1e300)], true),
        // NaN is unequal to every number and unordered.
        Case("quality == 1", [2: .float(.nan)], false),
        Case("quality != 1", [2: .float(.nan)], true),
        Case("quality < 1", [2: .float(.nan)], false),
        Case("quality >= 1", [2: .float(.nan)], false),
        Case("quality in [1]", [2: .float(.nan)], false),
        Case("quality not in [1]", [2: .float(.nan)], true),
        Case("quality > 1", [2: .float(.infinity)], true),
        Case("year < 1e300", [3: .int(.max)], true),
    ]

    /// not > and > or.
    static let precedence: [Case] = [
        Case("flag == true or flag == false and year == 1", [3: .int(2), 4: .bool(true)], true),
        Case("(flag == true or flag == false) and year == 1", [3: .int(2), 4: .bool(true)], false),
        Case("not flag == true and year == 1", [3: .int(1), 4: .bool(false)], true),
        Case("not (flag == true and year == 1)", [3: .int(1), 4: .bool(false)], true),
        Case("not flag == false or year == 1", [3: .int(1), 4: .bool(false)], true),
        Case("not (flag == false or year == 1)", [3: .int(1), 4: .bool(false)], false),
        Case("not not year == 1", [3: .int(1)], true),
        Case(
            "language == \"en\" and quality > 0.5 or source == \"code\" and tokens < 100",
            [0: .string("de"), 2: .float(0.9), 5: .string("code"), 6: .int(50)], true),
    ]

    func check(_ c: Case, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let q = try QueryFixtures.compile(c.query)
        #expect(QueryFixtures.evaluate(q, c.values) == c.expected, sourceLocation: sourceLocation)
        #expect(q.evaluate { c.values[$0] ?? .null } == c.expected, sourceLocation: sourceLocation)
        // The normal form means the same.
        let again = try QueryFixtures.compile(q.description)
        #expect(QueryFixtures.evaluate(again, c.values) == c.expected, sourceLocation: sourceLocation)
    }

    @Test(arguments: constants) func constantCases(_ c: Case) throws { try check(c) }
    @Test(arguments: nulls) func nullCases(_ c: Case) throws { try check(c) }
    @Test(arguments: strings) func categoricalCases(_ c: Case) throws { try check(c) }
    @Test(arguments: numbers) func numericCases(_ c: Case) throws { try check(c) }
    @Test(arguments: precedence) func precedenceCases(_ c: Case) throws { try check(c) }
}

@Suite struct ResidualTests {
    @Test func categoricalDecidesOrLeavesNumeric() throws {
        let q = try QueryFixtures.compile("language == \"en\" and year > 5")
        #expect(q.specialize { _ in .string("de") } == .alwaysFalse)
        guard case .numeric(let p) = q.specialize(categorical: { _ in .string("en") }) else {
            Issue.record("expected a numeric residual")
            return
        }
        #expect(p.description == "year > 5")
        #expect(p.referencedProperties == [3])
        #expect(p.evaluate { (_: Int) -> PropertyValue in .int(6) })
        #expect(!p.evaluate { (_: Int) -> PropertyValue in .int(5) })
        #expect(!p.evaluate { (_: Int) -> PropertyValue in .null })
    }

    @Test func orWithTrueCategoricalIsAlwaysTrue() throws {
        let q = try QueryFixtures.compile("language == \"en\" or year > 5")
        #expect(q.specialize { _ in .string("en") } == .alwaysTrue)
        #expect(q.specialize { _ in .string("de") }.description == "year > 5")
    }

    @Test func simplifiesAroundFoldedTests() throws {
        let q = try QueryFixtures.compile(
            "not (flag == true and (year > 5 or language == \"x\")) and (tokens < 3 or source == \"a\")")
        let r = q.specialize { i in i == 4 ? .bool(true) : .string("y") }
        #expect(r.description == "not (year > 5) and tokens < 3")
        guard case .numeric(let p) = r else {
            Issue.record("expected a numeric residual")
            return
        }
        #expect(p.referencedProperties == [3, 6])
        #expect(p.evaluate { (i: Int) -> PropertyValue in i == 3 ? .int(5) : .int(2) })
        #expect(!p.evaluate { (i: Int) -> PropertyValue in i == 3 ? .int(6) : .int(2) })
        #expect(!p.evaluate { (i: Int) -> PropertyValue in i == 3 ? .int(5) : .int(3) })
    }

    @Test func onlyNumericOrOnlyCategorical() throws {
        let numeric = try QueryFixtures.compile("quality > 0.5 or year is null")
        var calls = 0
        let r = numeric.specialize { _ in
            calls += 1
            return .null
        }
        #expect(calls == 0)
        #expect(r.description == "quality > 0.5 or year is null")
        let categorical = try QueryFixtures.compile("langs has \"en\" and flag is not null")
        #expect(categorical.specialize { $0 == 1 ? .stringList(["en"]) : .bool(false) } == .alwaysTrue)
        #expect(categorical.specialize { $0 == 1 ? .stringList(["en"]) : .null } == .alwaysFalse)
    }

    @Test func equalResidualsCompareEqual() throws {
        let q = try QueryFixtures.compile("(language == \"en\" or language == \"de\") and year > 5")
        let a = q.specialize { _ in .string("en") }
        let b = q.specialize { _ in .string("de") }
        #expect(a == b)
        #expect(Set([a, b]).count == 1)
        #expect(CompiledQuery.always.specialize { _ in .null } == .alwaysTrue)
    }

    @Test func largeNumericProgram() throws {
        // Many leaves: every test appears once in the program and short-circuits correctly.
        let terms = (0..<40).map { "year != \($0)" }.joined(separator: " and ")
        let q = try QueryFixtures.compile("(\(terms)) or tokens in [1, 2, 3]")
        guard case .numeric(let p) = q.specialize(categorical: { _ in .null }) else {
            Issue.record("expected a numeric residual")
            return
        }
        #expect(p.program.count == 41)
        #expect(p.evaluate { (i: Int) -> PropertyValue in i == 3 ? .int(40) : .int(9) })
        #expect(!p.evaluate { (i: Int) -> PropertyValue in i == 3 ? .int(39) : .int(9) })
        #expect(p.evaluate { (i: Int) -> PropertyValue in i == 3 ? .int(39) : .int(2) })
    }
}

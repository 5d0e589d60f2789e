import MixteraCore
import MixteraSpec
import Testing

@testable import MixteraPlanner

/// Hostile query expressions (docs/security.md): deep nesting is a located `syntax` error, never a
/// stack overflow; huge literals and long inputs are clean errors or compile in linear time.
@Suite struct QueryHostileTests {
    /// Like QueryErrorCase, named briefly (the inputs are huge).
    struct Case: Sendable, CustomTestStringConvertible {
        var input: String
        var kind: String
        var message: String
        var offset: Int
        var testDescription: String {
            let shown = input.count > 60 ? String(input.prefix(40)) + "… (\(input.count) characters)" : input
            return shown.replacingOccurrences(of: "\u{0}", with: "\\0")
        }
        init(_ input: String, _ kind: String, _ message: String, _ offset: Int) {
            self.input = input
            self.kind = kind
            self.message = message
            self.offset = offset
        }
    }

    static let limit = QueryParser.maxNestingDepth
    static let tooDeep = "expression nested deeper than \(limit) levels"

    static let cases: [Case] = [
        Case(
            String(repeating: "(", count: limit + 1) + "true" + String(repeating: ")", count: limit + 1), "syntax", tooDeep, limit
        ),
        Case(String(repeating: "(", count: 100_000) + "true" + String(repeating: ")", count: 100_000), "syntax", tooDeep, limit),
        Case(String(repeating: "(", count: 1_000_000), "syntax", tooDeep, limit),
        Case(String(repeating: "not ", count: limit + 1) + "flag == true", "syntax", tooDeep, 4 * limit),
        Case(String(repeating: "not ", count: 200_000) + "flag == true", "syntax", tooDeep, 4 * limit),
        Case(
            String(repeating: "not (", count: 200) + "flag == true" + String(repeating: ")", count: 200), "syntax", tooDeep, 640),
        Case(
            "year == " + String(repeating: "9", count: 100_000), "syntax",
            "integer literal \(String(repeating: "9", count: 100_000)) is out of range for int64", 8),
        Case("year == -9223372036854775809", "syntax", "integer literal -9223372036854775809 is out of range for int64", 8),
        Case("quality > 1e400", "syntax", "float literal 1e400 is out of range", 10),
        Case(
            "quality > " + String(repeating: "1", count: 400) + ".5", "syntax",
            "float literal \(String(repeating: "1", count: 400)).5 is out of range", 10),
        Case("language == \"" + String(repeating: "x", count: 100_000), "syntax", "unterminated string literal", 12),
        Case(
            "language in [" + String(repeating: "\"a\", ", count: 50_000), "syntax",
            "expected a string, number or boolean in list but found end of expression", 250_013),
        // Found by FuzzQuery (fixtures/bad/fuzz/query/escape-newline.txt): the message echoed a raw newline.
        Case("language == \"\\\n\"", "syntax", "invalid escape sequence \"\\\" followed by U+000A in string literal", 13),
        Case(
            "language == \"\u{0}\" and", "syntax",
            "expected a property name, \"(\", \"not\", \"true\" or \"false\" but found end of expression", 19),
    ]

    @Test(arguments: cases)
    func hostileExpressionIsALocatedError(_ c: Case) {
        let error = #expect(throws: QueryError.self) { try QueryFixtures.compile(c.input) }
        guard let error else { return }
        #expect(error.kind == c.kind)
        let got = String(error.message.prefix(120)), want = String(c.message.prefix(120))
        #expect(got == want, "offset \(String(describing: error.expressionOffset))")
        #expect(error.expressionOffset == c.offset, "\(got)")
        #expect(error.location?.column == 8 + c.offset)
        #expect(error.category == .data)
    }

    @Test func nestingUpToTheLimitCompiles() throws {
        let deep = String(repeating: "(", count: Self.limit) + "year > 0" + String(repeating: ")", count: Self.limit)
        let q = try QueryFixtures.compile(deep)
        #expect(q.description == "year > 0")
        let nots = try QueryFixtures.compile(String(repeating: "not ", count: Self.limit) + "flag == true")
        #expect(QueryFixtures.evaluate(nots, [4: .bool(true)]) == true)
    }

    @Test func longFlatExpressionsCompileAndEvaluate() throws {
        let terms = (0..<20_000).map { "year != \($0)" }
        let q = try QueryFixtures.compile(terms.joined(separator: " and "))
        #expect(QueryFixtures.evaluate(q, [3: .int(30_000)]) == true)
        #expect(QueryFixtures.evaluate(q, [3: .int(7)]) == false)
        let list = try QueryFixtures.compile("language in [" + (0..<50_000).map { "\"l\($0)\"" }.joined(separator: ", ") + "]")
        #expect(QueryFixtures.evaluate(list, [0: .string("l49999")]) == true)
    }
}

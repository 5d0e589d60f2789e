import MixteraCore
import MixteraSpec
import Testing

@testable import MixteraPlanner

@Suite struct QueryParserTests {
    /// (input, normalized description)
    static let normalization: [(String, String)] = [
        ("true", "true"),
        ("false", "false"),
        ("  true  ", "true"),
        ("language == \"en\"", "language == \"en\""),
        ("language=='en'", "language == \"en\""),
        ("year != 1", "year != 1"),
        ("year < 1", "year < 1"),
        ("year <= 1", "year <= 1"),
        ("year > 1", "year > 1"),
        ("year >= 1", "year >= 1"),
        ("language < \"b\"", "language < \"b\""),
        ("language in [\"en\", \"de\", \"en\"]", "language in [\"de\", \"en\"]"),
        ("language not in ['x']", "language not in [\"x\"]"),
        ("langs has \"en\"", "langs has \"en\""),
        ("language is null", "language is null"),
        ("language is not null", "language is not null"),
        ("flag == false", "flag == false"),
        ("flag != true", "flag != true"),
        ("flag in [true, false, true]", "flag in [false, true]"),
        ("flag not in [true]", "flag not in [true]"),
        // Numbers.
        ("year == -5", "year == -5"),
        ("year == 9223372036854775807", "year == 9223372036854775807"),
        ("year == -9223372036854775808", "year == -9223372036854775808"),
        ("quality >= 1.5e3", "quality >= 1500.0"),
        ("quality < 2E-3", "quality < 0.002"),
        ("quality == 1e20", "quality == 1e+20"),
        ("quality == -0.0", "quality == -0.0"),
        ("quality > 0.2", "quality > 0.2"),
        ("quality > 1", "quality > 1"),
        ("year == 2020.0", "year == 2020.0"),
        ("year in [3, 1.5, 2.0, 1, -1e30]", "year in [-1e+30, 1, 1.5, 2, 3]"),
        // Escapes.
        (#"language == "a\"b\\c\nd\te\rf""#, #"language == "a\"b\\c\nd\te\rf""#),
        (#"language == 'it\'s'"#, #"language == "it's""#),
        (#"language == 'say "hi"'"#, #"language == "say \"hi\"""#),
        (#"language == "\u00e9""#, "language == \"é\""),
        (#"language == "\u00E9""#, "language == \"é\""),
        (#"language == "\uD83D\uDE00""#, "language == \"😀\""),
        (#"language == "\u0001""#, #"language == "\u0001""#),
        ("language == \"日本\"", "language == \"日本\""),
        // Precedence: not > and > or.
        ("year == 1 or tokens == 2 and flag == true", "year == 1 or tokens == 2 and flag == true"),
        ("(year == 1 or tokens == 2) and flag == true", "(year == 1 or tokens == 2) and flag == true"),
        ("year == 1 and tokens == 2 or flag == true", "year == 1 and tokens == 2 or flag == true"),
        ("year == 1 and (tokens == 2 or flag == true)", "year == 1 and (tokens == 2 or flag == true)"),
        ("not year == 1 and tokens == 2", "not (year == 1) and tokens == 2"),
        ("not (year == 1 and tokens == 2)", "not (year == 1 and tokens == 2)"),
        ("not not flag == true", "not (not (flag == true))"),
        ("not true", "not true"),
        ("not year == 1 or not tokens == 2", "not (year == 1) or not (tokens == 2)"),
        ("((year == 1))", "year == 1"),
        ("year == 1 and (tokens == 2 and quality > 0.5)", "year == 1 and tokens == 2 and quality > 0.5"),
        ("(year == 1 or tokens == 2) or flag == true", "year == 1 or tokens == 2 or flag == true"),
        ("true and year == 1", "true and year == 1"),
        ("false or true", "false or true"),
        // Whitespace is optional between tokens that cannot run together.
        ("year==1 and(tokens<2)", "year == 1 and tokens < 2"),
        ("\tyear\n==\r\n1", "year == 1"),
        ("`year` == 1", "year == 1"),
    ]

    @Test(arguments: normalization)
    func normalizes(_ input: String, _ expected: String) throws {
        let q = try QueryFixtures.compile(input)
        #expect(q.description == expected)
        // The normal form parses back to itself.
        let again = try QueryFixtures.compile(q.description)
        #expect(again.description == expected)
        #expect(again == q)
    }

    @Test(arguments: [
        (#"language == "\u00e9""#, "\u{e9}"),
        (#"language == "\uD83D\uDE00""#, "\u{1F600}"),
        (#"language == "a\\b""#, "a\\b"),
        (#"language == 'a\"b'"#, "a\"b"),
        (#"language == "tab\there""#, "tab\there"),
        (#"language == "nl\n""#, "nl\n"),
        (#"language == """#, ""),
    ])
    func stringLiteralValues(_ input: String, _ value: String) throws {
        let q = try QueryFixtures.compile(input)
        #expect(QueryFixtures.evaluate(q, [0: .string(value)]))
        #expect(!QueryFixtures.evaluate(q, [0: .string(value + "x")]))
    }

    @Test func quotedPropertyNames() throws {
        let schema = QuerySchema([("in", .string), ("has", .int), ("plain", .bool)])
        let q = try CompiledQuery.compile("`in` == \"x\" and `has` > 1 and `plain` == true", schema: schema, at: nil)
        #expect(q.description == "`in` == \"x\" and `has` > 1 and plain == true")
        #expect(try CompiledQuery.compile(q.description, schema: schema, at: nil) == q)
    }

    @Test func referencedProperties() throws {
        let q = try QueryFixtures.compile("tokens > 1 and (language == \"en\" or year is null) and tokens < 9")
        #expect(q.referencedProperties == [0, 3, 6])
        #expect(try QueryFixtures.compile("true").referencedProperties == [])
        #expect(CompiledQuery.always.referencedProperties == [])
        #expect(CompiledQuery.always.description == "true")
        #expect(CompiledQuery.always.isAlwaysTrue)
        #expect(try QueryFixtures.compile("true").isAlwaysTrue)
        #expect(!(try QueryFixtures.compile("not false").isAlwaysTrue))
    }
}

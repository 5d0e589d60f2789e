import MixteraCore
import MixteraSpec
import Testing

@testable import MixteraPlanner

struct QueryErrorCase: Sendable, CustomTestStringConvertible {
    var input: String
    var kind: String
    var message: String
    /// 0-based offset of the offending token.
    var offset: Int
    var testDescription: String { input }

    init(_ input: String, _ kind: String, _ message: String, _ offset: Int) {
        self.input = input
        self.kind = kind
        self.message = message
        self.offset = offset
    }
}

@Suite struct QueryErrorTests {
    typealias Case = QueryErrorCase

    static let known = "known properties: flag, langs, language, quality, source, tokens, year"

    static let syntaxCases: [Case] = [
        Case("", "syntax", "empty expression", 0),
        Case("   ", "syntax", "empty expression", 3),
        Case("year = 1", "syntax", #"unexpected "="; use "==" to test equality"#, 5),
        Case("!flag", "syntax", #"unexpected "!"; use "not" or "!=""#, 0),
        Case("year == 1 && flag == true", "syntax", #"unexpected "&&"; use "and""#, 10),
        Case("year == 1 || flag == true", "syntax", #"unexpected "||"; use "or""#, 10),
        Case("year <> 1", "syntax", #"unexpected "<>"; use "!=""#, 5),
        Case("year == $", "syntax", #"unexpected character "$""#, 8),
        Case("year == - 1", "syntax", #"unexpected character "-""#, 8),
        Case(#"language == "abc"#, "syntax", "unterminated string literal", 12),
        Case(#"language == 'abc\'"#, "syntax", "unterminated string literal", 12),
        Case(#"language == "a\qb""#, "syntax", #"invalid escape sequence "\q" in string literal"#, 14),
        Case(
            #"language == "\u12G4""#, "syntax",
            #"invalid unicode escape "\u12" in string literal (expected 4 hex digits)"#, 13),
        Case(
            #"language == "\uD800x""#, "syntax",
            #"invalid unicode escape "\uD800" in string literal (unpaired surrogate)"#, 13),
        Case(
            #"language == "\uDC00""#, "syntax",
            #"invalid unicode escape "\uDC00" in string literal (unpaired surrogate)"#, 13),
        Case("year == 12abc", "syntax", #"invalid number literal "12abc""#, 8),
        Case("year==1and flag", "syntax", #"invalid number literal "1and""#, 6),
        Case("year == 1.", "syntax", #"invalid number literal "1.""#, 8),
        Case("year == 1e", "syntax", #"invalid number literal "1e""#, 8),
        Case("year == 1.2.3", "syntax", #"invalid number literal "1.2.3""#, 8),
        Case(
            "year == 99999999999999999999", "syntax",
            "integer literal 99999999999999999999 is out of range for int64", 8),
        Case("year == 9223372036854775808", "syntax", "integer literal 9223372036854775808 is out of range for int64", 8),
        Case("quality == -1e999", "syntax", "float literal -1e999 is out of range", 11),
        Case("year == 1 tokens == 2", "syntax", #"expected "and" or "or" but found "tokens""#, 10),
        Case("(year == 1", "syntax", #"expected ")" but found end of expression"#, 10),
        Case("(year == 1]", "syntax", #"expected ")" but found "]""#, 10),
        Case("year ==", "syntax", #"expected a string, number or boolean after "==" but found end of expression"#, 7),
        Case(
            "year", "syntax",
            #"expected an operator (==, !=, <, <=, >, >=, in, not in, has, is) after property "year" but found end of expression"#,
            4),
        Case(
            "year == null", "syntax", #"cannot compare with null using "=="; use "is null" or "is not null""#, 8),
        Case("year in [1, null]", "syntax", #"null is not allowed in a list; use "is null""#, 12),
        Case("year in [[1]]", "syntax", "nested lists are not allowed", 9),
        Case("year in 1", "syntax", #"expected "[" after "in" but found number 1"#, 8),
        Case("year not in (1)", "syntax", #"expected "[" after "not in" but found "(""#, 12),
        Case("year in [1 2]", "syntax", #"expected "," or "]" in list but found number 2"#, 11),
        Case("year in [1,]", "syntax", #"expected a string, number or boolean in list but found "]""#, 11),
        Case("year not 1", "syntax", #"expected "in" after "not" but found number 1"#, 9),
        Case("year is 1", "syntax", #"expected "null" after "is" but found number 1"#, 8),
        Case("year is not 'x'", "syntax", #"expected "null" after "is not" but found string "x""#, 12),
        Case("and", "syntax", #"expected a property name, "(", "not", "true" or "false" but found "and""#, 0),
        Case(
            "year == 1 and", "syntax",
            #"expected a property name, "(", "not", "true" or "false" but found end of expression"#, 13),
        Case(
            #""en" == language"#, "syntax",
            #"expected a property name, "(", "not", "true" or "false" but found string "en""#, 0),
        Case("`year == 1", "syntax", "unterminated quoted property name", 0),
        Case("`` == 1", "syntax", "empty quoted property name", 0),
        Case(
            "year == [1]", "syntax",
            #"expected a string, number or boolean after "==" but found "["; use "in" for lists"#, 8),
        Case("langs has [\"en\"]", "syntax", #"expected a string after "has" but found "[""#, 10),
        Case(
            "True", "syntax",
            #"expected an operator (==, !=, <, <=, >, >=, in, not in, has, is) after property "True" but found end of expression"#,
            4),
        // A syntax error later in the text wins over a name error earlier.
        Case(
            "nope == 1 and year ==", "syntax", #"expected a string, number or boolean after "==" but found end of expression"#, 21
        ),
    ]

    static let nameCases: [Case] = [
        Case(
            "lnaguage == \"en\"", "unknown-property",
            "unknown property \"lnaguage\" (did you mean \"language\"?); \(known)", 0),
        Case("Year == 1", "unknown-property", "unknown property \"Year\" (did you mean \"year\"?); \(known)", 0),
        Case("qualty > 0.5", "unknown-property", "unknown property \"qualty\" (did you mean \"quality\"?); \(known)", 0),
        Case("foo == 1", "unknown-property", "unknown property \"foo\"; \(known)", 0),
        Case("year == 1 and zzz is null", "unknown-property", "unknown property \"zzz\"; \(known)", 14),
        Case("not (lang has 'en')", "unknown-property", "unknown property \"lang\" (did you mean \"langs\"?); \(known)", 5),
    ]

    static let typeCases: [Case] = [
        Case("language == 5", "type-mismatch", #"cannot compare string property "language" with int 5"#, 12),
        Case("language > 1.5", "type-mismatch", #"cannot compare string property "language" with float 1.5"#, 11),
        Case("year == \"5\"", "type-mismatch", #"cannot compare int property "year" with string "5""#, 8),
        Case("quality < 'x'", "type-mismatch", #"cannot compare float property "quality" with string "x""#, 10),
        Case("year == true", "type-mismatch", #"cannot compare int property "year" with bool true"#, 8),
        Case("flag == \"true\"", "type-mismatch", #"cannot compare bool property "flag" with string "true""#, 8),
        Case("flag == 1", "type-mismatch", #"cannot compare bool property "flag" with int 1"#, 8),
        Case("language == true", "type-mismatch", #"cannot compare string property "language" with bool true"#, 12),
        Case(
            "flag < true", "type-mismatch",
            #"cannot compare bool property "flag" with bool true using "<" (only numbers and strings are ordered)"#, 7),
        Case(
            "langs == \"en\"", "type-mismatch",
            #"cannot compare list<string> property "langs" with string "en"; use "has" to test list membership"#, 9),
        Case(
            "language has \"en\"", "type-mismatch",
            #"operator "has" needs a list<string> property but "language" has type string"#, 9),
        Case(
            "year has \"1\"", "type-mismatch", #"operator "has" needs a list<string> property but "year" has type int"#,
            5),
        Case(
            "langs has 5", "type-mismatch",
            #"cannot test list<string> property "langs" for int 5 with "has" (expected a string)"#, 10),
        Case(
            "langs in [\"en\"]", "type-mismatch",
            #"operator "in" is not defined for list<string> property "langs"; use "has""#, 6),
        Case(
            "langs not in [\"en\"]", "type-mismatch",
            #"operator "not in" is not defined for list<string> property "langs"; use "has""#, 6),
        Case(
            "language in [\"en\", 5]", "type-mismatch",
            #"cannot compare string property "language" with int 5 in list"#, 19),
        Case(
            "year in [1, 2.5, \"x\"]", "type-mismatch", #"cannot compare int property "year" with string "x" in list"#,
            17),
        Case("flag in [true, 1]", "type-mismatch", #"cannot compare bool property "flag" with int 1 in list"#, 15),
        Case("quality not in [false]", "type-mismatch", #"cannot compare float property "quality" with bool false in list"#, 16),
    ]

    static let emptyListCases: [Case] = [
        Case("language in []", "empty-list", #"empty list after "in" for property "language""#, 12),
        Case("year not in [ ]", "empty-list", #"empty list after "not in" for property "year""#, 12),
        Case("langs in []", "type-mismatch", #"operator "in" is not defined for list<string> property "langs"; use "has""#, 6),
    ]

    func check(_ c: Case, sourceLocation: SourceLocation = #_sourceLocation) {
        let error = #expect(throws: QueryError.self, sourceLocation: sourceLocation) {
            try QueryFixtures.compile(c.input)
        }
        guard let error else { return }
        #expect(error.kind == c.kind, sourceLocation: sourceLocation)
        #expect(error.code == QueryError.Kind(c.kind), sourceLocation: sourceLocation)
        #expect(error.message == c.message, sourceLocation: sourceLocation)
        #expect(error.expressionOffset == c.offset, sourceLocation: sourceLocation)
        #expect(
            error.location == DataLocation(path: "build.yaml", line: 3, column: 8 + c.offset),
            sourceLocation: sourceLocation)
        #expect(error.category == .data, sourceLocation: sourceLocation)
        #expect(error.description == "build.yaml:3:\(8 + c.offset): \(c.message)", sourceLocation: sourceLocation)
    }

    @Test(arguments: syntaxCases) func syntaxErrors(_ c: Case) { check(c) }
    @Test(arguments: nameCases) func unknownProperties(_ c: Case) { check(c) }
    @Test(arguments: typeCases) func typeMismatches(_ c: Case) { check(c) }
    @Test(arguments: emptyListCases) func emptyLists(_ c: Case) { check(c) }

    @Test func withoutLocation() {
        let error = #expect(throws: QueryError.self) {
            try CompiledQuery.compile("year == 'x'", schema: QueryFixtures.schema, at: nil)
        }
        #expect(error?.location == nil)
        #expect(error?.expressionOffset == 8)
        #expect(error?.description == #"cannot compare int property "year" with string "x""#)
    }

    @Test func locationWithoutColumnKeepsPathAndLine() {
        let error = #expect(throws: QueryError.self) {
            try CompiledQuery.compile("year == 'x'", schema: QueryFixtures.schema, at: DataLocation(path: "b.yaml", line: 2))
        }
        #expect(error?.location == DataLocation(path: "b.yaml", line: 2))
    }

    @Test func offsetsCountUnicodeScalars() {
        let error = #expect(throws: QueryError.self) {
            try QueryFixtures.compile("language == \"日本\" and year == 'x'")
        }
        #expect(error?.expressionOffset == 29)
    }

    @Test func noPropertiesDeclared() {
        let error = #expect(throws: QueryError.self) {
            try CompiledQuery.compile("x == 1", schema: QuerySchema([]), at: nil)
        }
        #expect(error?.message == #"unknown property "x"; no properties are declared"#)
    }

    @Test(
        arguments: [
            ("langauge", "language"), ("languag", "language"), ("lang", "langs"), ("x", nil), ("yr", nil), ("yeer", "year"),
            ("tokns", "tokens"), ("SOURCE", "source"),
        ] as [(String, String?)])
    func suggestions(_ name: String, _ expected: String?) {
        let sorted = QueryFixtures.properties.map(\.name).sorted()
        #expect(QueryChecker.closestName(to: name, in: sorted) == expected)
    }
}

import MixteraCore
import MixteraSpec
import MixteraTestSupport
import Testing

@Suite struct DatasetSpecTests {
    @Test func parsesTheFixtureSpec() throws {
        let path = TestSupport.fixture("specs/datasets.yaml")
        let text = try String(decoding: FileSystem.readAll(path), as: UTF8.self)
        let spec = try DatasetSpec.parse(text: text, path: path)
        let d = try #require(spec.datasets.first)
        #expect(d.name == "corpus")
        #expect(d.root == TestSupport.fixture("jsonl/corpus"))
        #expect(d.format == .jsonl)
        #expect(d.text == "text")
        #expect(d.tokens == "token_count")
        #expect(d.properties.map(\.name) == ["source", "language", "license", "tags", "quality", "year"])
        #expect(d.properties[0].source == .fromPath(pattern: "{source}/*", capture: "source"))
        #expect(d.properties[3].type == .stringList)
        #expect(d.properties[5].defaultValue == .int(0))
    }

    struct BadCase: Sendable, CustomStringConvertible {
        var yaml: String
        var kind: String
        var line: Int
        var column: Int
        var message: String
        var description: String { kind + " " + message }
    }

    static let badCases: [BadCase] = [
        BadCase(
            yaml: "datasets:\n  - name: a\n    root: x\n    format: csv\n", kind: "unknown-format", line: 4, column: 13,
            message: "datasets[0].format: unknown dataset format \"csv\" (expected jsonl, parquet, webdataset or auto)"),
        BadCase(
            yaml: "datasets:\n  - name: a\n    root: x\n    colour: red\n", kind: "unknown-key", line: 4, column: 5,
            message:
                "datasets[0]: unknown key \"colour\" (known: exclude, format, include, max_line_bytes, name, on_error, properties, root, text, tokens)"
        ),
        BadCase(
            yaml: "datasets:\n  - name: a\n    root: x\n    properties:\n      lang: {path: a, type: strng}\n",
            kind: "invalid-spec", line: 5, column: 29,
            message:
                "datasets[0].properties.lang.type: unknown type \"strng\" (expected string, int, float, bool or list<string>)"),
        BadCase(
            yaml: "datasets:\n  - name: a\n    root: [x\n", kind: "malformed-yaml", line: 4, column: 1,
            message: "malformed YAML: did not find expected ',' or ']'"),
        BadCase(
            yaml: "datasets:\n  - name: a\n", kind: "invalid-spec", line: 2, column: 5,
            message: "datasets[0]: missing key \"root\""),
    ]

    @Test(arguments: badCases)
    func reportsKindAndLocation(_ c: BadCase) {
        do {
            _ = try DatasetSpec.parse(text: c.yaml, path: "/spec/datasets.yaml")
            Issue.record("expected an error")
        } catch {
            #expect(error.kind == c.kind)
            #expect(error.location?.path == "/spec/datasets.yaml")
            #expect(error.location?.line == c.line)
            #expect(error.location?.column == c.column)
            #expect(error.message == c.message)
        }
    }
}

@Suite struct BuildSpecTests {
    @Test func parsesTheFixtureBuildSpec() throws {
        let path = TestSupport.fixture("specs/build.yaml")
        let spec = try BuildSpec.parse(text: String(decoding: FileSystem.readAll(path), as: UTF8.self), path: path)
        #expect(spec.training == TrainingSpec(globalBatch: 40, dataParallel: 4, steps: .fixed(12)))
        #expect(spec.schedule.count == 2)
        #expect(spec.schedule[1].interpolateLinear)
        #expect(spec.order.shuffle == .blocks)
        #expect(spec.order.blockSize == 8)
        #expect(spec.seed == 42)
        guard case .components(let cs) = spec.mixture.kind else {
            Issue.record("expected components")
            return
        }
        #expect(cs.map(\.name) == ["web", "code", "rest"])
        #expect(cs[1].onExhausted == .repeat)
    }

    @Test func parsesNestedBy() throws {
        let yaml = """
            mixture:
              by: source
              weights: {web: {weight: 0.6, by: language, weights: {en: 0.7, de: 0.3}}, wiki: 0.4}
            training: {global_batch: 8, steps: until_exhausted}
            """
        let spec = try BuildSpec.parse(text: yaml, path: "b.yaml")
        guard case .by(let node) = spec.mixture.kind else {
            Issue.record("expected by")
            return
        }
        #expect(node.property == "source")
        #expect(node.branches.map(\.value) == ["web", "wiki"])
        #expect(node.branches[0].child?.property == "language")
        #expect(spec.training.steps == .untilExhausted)
    }

    @Test func rejectsIndivisibleTopology() {
        #expect {
            try BuildSpec.parse(
                text: "mixture: {arbitrary: true}\ntraining: {global_batch: 10, data_parallel: 4, steps: 1}\n", path: "b.yaml")
        } throws: { e in
            let e = e as! SpecError
            return e.message == "training.data_parallel: global_batch 10 is not divisible by data_parallel 4"
                && e.location?.line == 2
        }
    }
}

@Suite struct PathPatternTests {
    @Test(arguments: [
        ("**/*.jsonl", "a.jsonl", true), ("**/*.jsonl", "x/y/a.jsonl", true), ("**/*.jsonl", "a.jsonl.zst", false),
        ("*.jsonl", "x/a.jsonl", false), ("web/*", "web/a", true), ("web/?.j", "web/a.j", true), ("a/**", "a/b/c", true),
    ])
    func globs(_ pattern: String, _ path: String, _ expected: Bool) {
        #expect(PathPattern.matches(pattern, path) == expected)
    }

    @Test func capturesFromThePathSuffix() {
        #expect(PathPattern.capture("{source}/*", "web/part-0.jsonl") == ["source": "web"])
        #expect(PathPattern.capture("{source}/{lang}/*.jsonl", "2024/web/en/a.jsonl") == ["source": "web", "lang": "en"])
        #expect(PathPattern.capture("{source}/*.jsonl", "a.jsonl") == nil)
    }
}

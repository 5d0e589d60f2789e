import Foundation
import MixteraTestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Hostile inputs through the built binary (docs/security.md): every file in fixtures/bad/specs/
/// has a case (error kind, location, exit code), plus file-system oddities under a dataset root
/// and symlinks pointing out of it.
@Suite(.serialized) struct HostileInputCLITests {
    struct SpecCase: Sendable, CustomStringConvertible {
        var file: String
        var status: Int32
        var kind: String
        /// `:line:column` after the path, or "" when the error names the file only.
        var position: String
        var message: String
        var description: String { file }
    }

    /// `dataset-*` files go to `scan --spec`, `build-*` files to `build-manifest --spec`.
    static let specCases: [SpecCase] = [
        SpecCase(
            file: "dataset-malformed.yaml", status: 65, kind: "malformed-yaml", position: ":4:1",
            message: "malformed YAML: did not find expected ',' or ']'"),
        SpecCase(
            file: "dataset-unknown-key.yaml", status: 65, kind: "unknown-key", position: ":4:5",
            message:
                "datasets[0]: unknown key \"colour\" (known: exclude, format, include, max_line_bytes, name, on_error, properties, root, text, tokens)"
        ),
        SpecCase(
            file: "dataset-wrong-type.yaml", status: 65, kind: "invalid-spec", position: ":2:3",
            message: "datasets: expected a list"),
        SpecCase(
            file: "dataset-deep-nesting.yaml", status: 65, kind: "malformed-yaml", position: ":1:12",
            message: "malformed YAML: Maximum nesting level reached, set with yaml_set_max_nest_level())"),
        SpecCase(
            file: "dataset-deep-block-nesting.yaml", status: 65, kind: "malformed-yaml", position: ":2:1999",
            message: "malformed YAML: Maximum nesting level reached, set with yaml_set_max_nest_level())"),
        SpecCase(
            file: "dataset-invalid-utf8.yaml", status: 65, kind: "malformed-yaml", position: "",
            message: "spec file is not valid UTF-8"),
        SpecCase(
            file: "dataset-nul-byte.yaml", status: 65, kind: "malformed-yaml", position: "",
            message: "malformed YAML: control characters are not allowed"),
        SpecCase(
            file: "dataset-empty.yaml", status: 65, kind: "invalid-spec", position: "", message: "the dataset spec is empty"),
        SpecCase(
            file: "dataset-duplicate-key.yaml", status: 65, kind: "malformed-yaml", position: ":2:5",
            message: "malformed YAML: duplicate key name"),
        SpecCase(
            file: "dataset-alias-bomb.yaml", status: 65, kind: "invalid-spec", position: ":13:9",
            message: "datasets[0].include[0]: expected a string"),
        SpecCase(
            file: "dataset-directory.yaml", status: 66, kind: "missing-spec", position: "", message: "spec path is not a file"),
        SpecCase(
            file: "build-huge-number.yaml", status: 65, kind: "invalid-spec", position: ":6:55",
            message: "training.steps: expected an integer"),
        SpecCase(
            file: "build-huge-weight.yaml", status: 65, kind: "invalid-spec", position: ":5:42",
            message: "mixture.components[0].weight: weight must be a finite number >= 0"),
        SpecCase(
            file: "build-negative-batch.yaml", status: 65, kind: "invalid-spec", position: ":6:26",
            message: "training.global_batch: global_batch must be at least 1"),
        SpecCase(
            file: "build-deep-query.yaml", status: 65, kind: "syntax", position: ":1:264",
            message: "expression nested deeper than 256 levels"),
        SpecCase(
            file: "build-wrong-type.yaml", status: 65, kind: "invalid-spec", position: ":2:10",
            message: "mixture: expected a mapping"),
        SpecCase(
            file: "build-unknown-key.yaml", status: 65, kind: "unknown-key", position: ":8:1",
            message: "unknown key \"shell\" (known: mixture, on_exhausted, order, query, schedule, seed, training)"),
        SpecCase(file: "build-empty.yaml", status: 65, kind: "invalid-spec", position: "", message: "the build spec is empty"),
    ]

    /// A catalog of the bundled fixtures, for the build-spec cases.
    static let catalog: String = {
        let dir = TestSupport.temporaryDirectory("hostile-cat")
        let r = try! TestSupport.run([
            "scan", "--spec", "fixtures/specs/datasets.yaml", "--catalog", dir + "/c.sqlite", "--quiet",
        ])
        precondition(r.status == 0, r.stderr)
        return dir + "/c.sqlite"
    }()

    @Test(arguments: specCases)
    func badSpecGetsKindLocationAndExitCode(_ c: SpecCase) throws {
        let rel = "fixtures/bad/specs/" + c.file
        let dir = TestSupport.temporaryDirectory("hostile-spec")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let r: TestSupport.RunResult
        let shownPath: String
        if c.file.hasPrefix("build-") {
            r = try TestSupport.run(["build-manifest", "--catalog", Self.catalog, "--spec", rel, "--out", dir + "/m"])
            shownPath = rel
        } else {
            r = try TestSupport.run(["scan", "--spec", rel, "--catalog", dir + "/c.sqlite"])
            // Dataset specs are located by absolute path once read (roots resolve against them).
            shownPath = c.status == 66 || c.message.hasPrefix("spec file is not") ? rel : TestSupport.packageRoot + "/" + rel
        }
        #expect(r.status == c.status, "\(r.stderr)")
        #expect(r.stderr == "mixtera: \(shownPath)\(c.position): error: \(c.message) [\(c.kind)]\n")
        // Nothing is created by a spec error.
        #expect(!FileManager.default.fileExists(atPath: dir + "/m"))
        #expect(!FileManager.default.fileExists(atPath: dir + "/c.sqlite"))
    }

    /// Every file in fixtures/bad/specs/ has a case above.
    @Test func everyBadSpecHasATest() throws {
        let names = try FileManager.default.contentsOfDirectory(atPath: TestSupport.fixture("bad/specs")).sorted()
        #expect(names == Self.specCases.map(\.file).sorted())
    }

    // MARK: File-system oddities under a dataset root

    static func spec(root: String, include: String = "**/*.jsonl") -> String {
        """
        datasets:
          - name: a
            root: \(root)
            format: jsonl
            include: ["\(include)"]
            text: text
            properties:
              language: {path: meta.language}
        """
    }

    static let goodLine = #"{"text": "ok", "meta": {"language": "en"}}"# + "\n"

    /// Scans a root set up by `prepare`; returns the result.
    func scan(_ prepare: (String) throws -> Void) throws -> (TestSupport.RunResult, String) {
        let dir = TestSupport.temporaryDirectory("hostile-fs")
        let root = dir + "/root"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        TestSupport.write(Self.goodLine, to: root + "/good.jsonl")
        try prepare(root)
        TestSupport.write(Self.spec(root: root), to: dir + "/datasets.yaml")
        return (try TestSupport.run(["scan", "--spec", dir + "/datasets.yaml", "--catalog", dir + "/c.sqlite", "--json"]), root)
    }

    @Test func aDirectoryNamedLikeADataFileIsWalkedNotRead() throws {
        let (r, _) = try scan { root in
            try FileManager.default.createDirectory(atPath: root + "/x.jsonl", withIntermediateDirectories: true)
        }
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("\"files\": 1"))
        #expect(r.stdout.contains("\"samples\": 1"))
    }

    @Test func anEmptyFileHasNoSamples() throws {
        let (r, _) = try scan { root in TestSupport.write("", to: root + "/empty.jsonl") }
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("\"files\": 2"))
        #expect(r.stdout.contains("\"samples\": 1"))
    }

    @Test func aSymlinkLoopIsABrokenLink() throws {
        let (r, root) = try scan { root in
            symlink(root + "/loop-b.jsonl", root + "/loop-a.jsonl")
            symlink(root + "/loop-a.jsonl", root + "/loop-b.jsonl")
        }
        #expect(r.status == 66)
        #expect(
            r.stderr
                == #"{"error":{"kind":"broken-link","message":"symbolic link loop","location":"\#(root)/loop-a.jsonl","exit_code":66}}"#
                + "\n")
    }

    @Test func aSymlinkOutOfTheRootIsRefused() throws {
        let outside = TestSupport.temporaryDirectory("outside")
        TestSupport.write(Self.goodLine, to: outside + "/secret.jsonl")
        let (r, root) = try scan { root in
            symlink(outside + "/secret.jsonl", root + "/link.jsonl")
        }
        #expect(r.status == 65)
        let target =
            (try? FileManager.default.destinationOfSymbolicLink(atPath: root + "/link.jsonl")).map { _ in
                URL(fileURLWithPath: outside + "/secret.jsonl").resolvingSymlinksInPath().path
            } ?? ""
        #expect(
            r.stderr
                == #"{"error":{"kind":"unsafe-path","message":"symbolic link points outside the dataset root (to \#(target)); move the file under the root or exclude it","location":"\#(root)/link.jsonl","exit_code":65}}"#
                + "\n"
        )
        // `..` spelled inside the link is resolved too.
        let (r2, _) = try scan { root in
            symlink("../../" + (outside as NSString).lastPathComponent + "/secret.jsonl", root + "/dots.jsonl")
        }
        #expect(r2.status == 65 || r2.status == 66, "\(r2.stderr)")
        // Excluding the link is the documented way around it.
        let dir = TestSupport.temporaryDirectory("hostile-exclude")
        let root2 = dir + "/root"
        TestSupport.write(Self.goodLine, to: root2 + "/good.jsonl")
        symlink(outside + "/secret.jsonl", root2 + "/link.jsonl")
        TestSupport.write(Self.spec(root: root2) + "\n    exclude: [\"link.jsonl\"]\n", to: dir + "/datasets.yaml")
        let r3 = try TestSupport.run(["scan", "--spec", dir + "/datasets.yaml", "--catalog", dir + "/c.sqlite", "--json"])
        #expect(r3.status == 0, "\(r3.stderr)")
        #expect(r3.stdout.contains("\"samples\": 1"))
    }

    @Test func aSymlinkInsideTheRootIsFollowed() throws {
        let (r, _) = try scan { root in
            try FileManager.default.createDirectory(atPath: root + "/sub", withIntermediateDirectories: true)
            TestSupport.write(Self.goodLine + Self.goodLine, to: root + "/sub/two.txt")
            symlink("sub/two.txt", root + "/two.jsonl")
        }
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("\"samples\": 3"))
    }

    @Test func anUnreadableFileIsAnInputError() throws {
        // Root bypasses permission bits (CAP_DAC_OVERRIDE): then chmod 000 proves nothing.
        guard geteuid() != 0 else {
            print("skipped anUnreadableFileIsAnInputError: running as root, which can read mode-000 files")
            return
        }
        let (r, root) = try scan { root in
            TestSupport.write(Self.goodLine, to: root + "/locked.jsonl")
            chmod(root + "/locked.jsonl", 0)
        }
        #expect(r.status == 66, "\(r.stderr)")
        #expect(r.stderr.hasPrefix("mixtera: \(root)/locked.jsonl"))
    }
}

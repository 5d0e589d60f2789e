import ArgumentParser
import Mixtera
import MixteraCore

struct DiffCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "diff",
        abstract: "Show what differs between two manifests: spec, seed, topology, files, steps, counts.",
        discussion: """
            Compares header fields (seed, topology, catalog fingerprint, tool and format version), the spec
            text (line diff), the file and component tables, the first differing step of every rank present
            in both (decoded samples, files matched by dataset and path), and per-component counts per step
            range from the mixture logs; when only the data-parallel split differs, whether every step's
            global batch is still the same. Exit 0 when identical (same header.json and rank files), 1 when
            they differ, 64/65/66 on bad input (docs/errors.md).
            Examples:
              mixtera diff manifest manifest-new
              mixtera diff --json manifest manifest-new
              mixtera diff --quiet manifest manifest-new || echo "the manifests differ"
            """)

    @Argument(help: "The first manifest directory (A).") var a: String
    @Argument(help: "The second manifest directory (B).") var b: String
    @OptionGroup var output: OutputOptions

    func run() throws {
        try ExitStatus.run(json: output.json) {
            let d = try Diff.manifests(a, b)
            if output.json {
                print(d.toJSON().serialized(pretty: true))
            } else if !output.quiet {
                let out = Terminal.Output()
                for line in d.lines() {
                    let painted =
                        line.hasPrefix("  - ")
                        ? Terminal.paint(line, "31")
                        : line.hasPrefix("  + ")
                            ? Terminal.paint(line, "32")
                            : line == "manifests differ" ? Terminal.paint(line, "1") : line
                    out.write(painted + "\n")
                }
                out.flush()
            }
            if !d.identical { throw ExitCode(1) }
        }
    }
}

struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Write a self-contained HTML report: mixture over steps, consumption, coverage, spec.",
        discussion: """
            One HTML file with inline CSS and SVG (no scripts, no network): the realized mixture over steps
            as a stacked area chart with the spec's planned weights, cumulative consumption per component
            with epoch and exhaustion markers, topology and fingerprints, the spec, and with --catalog the
            per-dataset and per-property coverage. Long runs are aggregated into at most 600 columns.
            The same manifest (and catalog) give the same bytes.
            Examples:
              mixtera report --manifest manifest --out report.html
              mixtera report --manifest manifest --catalog catalog.sqlite --out report.html
            """)

    @Option(help: "Manifest directory.") var manifest: String
    @Option(help: "Catalog, to add per-dataset and per-property coverage.") var catalog: String?
    @Option(help: "Output HTML file.") var out: String
    @OptionGroup var output: OutputOptions

    func run() throws {
        try ExitStatus.run(json: output.json) {
            let html = try Report.html(manifestPath: manifest, catalogPath: catalog)
            let bytes = Array(html.utf8)
            try FileSystem.writeAtomically(bytes, to: out)
            if output.json {
                print(JSON.object([("out", .string(out)), ("bytes", .int(Int64(bytes.count)))]).serialized(pretty: true))
            } else if !output.quiet {
                print("wrote \(out) (\(formatBytes(Int64(bytes.count))))")
            }
        }
    }
}

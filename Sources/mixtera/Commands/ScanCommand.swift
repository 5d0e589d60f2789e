import ArgumentParser
import Mixtera
import MixteraCore
import MixteraFormats

struct ScanCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scan",
        abstract: "Index the datasets of a dataset spec into the catalog (incremental, parallel).",
        discussion: """
            Unchanged files (same size, mtime and property declarations) are skipped without reading.
            Example:
              mixtera scan --spec datasets.yaml --catalog catalog.sqlite --jobs 8
            """)

    @Option(help: "Dataset spec (YAML).") var spec: String
    @Option(help: "Catalog file (SQLite); created if missing.") var catalog: String
    @Option(help: "Files scanned in parallel (default: all cores).") var jobs: Int = 0
    @Option(help: "Scan only shard I of N (\"I/N\") into a partial catalog.") var shard: String?
    @OptionGroup var output: OutputOptions

    func parseShard() throws -> (Int, Int)? {
        guard let shard else { return nil }
        let parts = shard.split(separator: "/")
        guard parts.count == 2, let i = Int(parts[0]), let n = Int(parts[1]), n >= 1, i >= 0, i < n else {
            throw ValidationError("--shard must be I/N with 0 <= I < N, e.g. 0/4")
        }
        return (i, n)
    }

    func run() throws {
        let shardValue = try parseShard()
        try ExitStatus.run(json: output.json) {
            let s = try loadDatasetSpec(spec)
            let showProgress = !output.quiet && !output.json
            let report = try Ingest.scan(
                spec: s, catalogPath: catalog, options: ScanOptions(jobs: jobs, shard: shardValue.map { ($0.0, $0.1) }),
                progress: { Terminal.progress($0, enabled: showProgress) })
            Terminal.endProgress(enabled: showProgress)
            if output.json {
                let j = JSON.object([
                    ("catalog", .string(catalog)),
                    (
                        "datasets",
                        .array(
                            report.datasets.map { d in
                                .object([
                                    ("name", .string(d.name)), ("files", .int(Int64(d.files))),
                                    ("scanned", .int(Int64(d.scanned))), ("unchanged", .int(Int64(d.unchanged))),
                                    ("removed", .int(Int64(d.removed))), ("samples", .int(d.samples)),
                                    ("skipped_records", .int(d.skippedRecords)), ("bytes_scanned", .int(d.bytesScanned)),
                                ])
                            })
                    ),
                    (
                        "problems",
                        .array(
                            report.problems.map { p in .object([("kind", .string(p.kind)), ("message", .string(p.description))]) }
                        )
                    ),
                    ("seconds", .double(report.seconds)),
                ])
                print(j.serialized(pretty: true))
            } else if !output.quiet {
                let rows = report.datasets.map { d in
                    [
                        d.name, "\(d.files)", "\(d.scanned)", "\(d.unchanged)", "\(d.removed)", formatCount(d.samples),
                        formatCount(d.skippedRecords),
                    ]
                }
                print(
                    table(
                        ["dataset", "files", "scanned", "unchanged", "removed", "samples", "skipped"], rows,
                        rightAligned: [1, 2, 3, 4, 5, 6]), terminator: "")
                let bytes = report.datasets.reduce(Int64(0)) { $0 + $1.bytesScanned }
                let mbps = report.seconds > 0 ? Double(bytes) / 1e6 / report.seconds : 0
                print("scanned \(formatBytes(bytes)) in \(format1(report.seconds)) s (\(format1(mbps)) MB/s) into \(catalog)")
                for p in report.problems.prefix(10) { Terminal.error("skipped: \(p.description)") }
            }
        }
    }
}

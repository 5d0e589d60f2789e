import ArgumentParser
import Mixtera
import MixteraCore
import MixteraManifest
import MixteraReplay

func parseRoots(_ roots: [String]) throws -> [(old: String, new: String)] {
    try roots.map { r in
        guard let eq = r.firstIndex(of: "="), eq != r.startIndex else {
            throw ValidationError("--root must be OLD=NEW, found \"\(r)\"")
        }
        var old = String(r[..<eq])
        var new = String(r[r.index(after: eq)...])
        while old.count > 1 && old.hasSuffix("/") { old.removeLast() }
        while new.count > 1 && new.hasSuffix("/") { new.removeLast() }
        return (old, new)
    }
}

/// Parses `A:B` (A ≤ s < B), `A:` (to the end), `:B`, or `A` (one step).
func parseSteps(_ s: String?, total: Int) throws -> Range<Int> {
    guard let s else { return 0..<total }
    if let colon = s.firstIndex(of: ":") {
        let a = s[..<colon].isEmpty ? 0 : Int(s[..<colon])
        let b = s[s.index(after: colon)...].isEmpty ? total : Int(s[s.index(after: colon)...])
        guard let a, let b, a >= 0, a <= b else { throw ValidationError("--steps must be A:B with 0 <= A <= B, found \"\(s)\"") }
        guard b <= total else { throw ValidationError("--steps \(s) goes past the manifest's \(total) steps") }
        return a..<b
    }
    guard let a = Int(s), a >= 0 else { throw ValidationError("--steps must be A:B or A, found \"\(s)\"") }
    guard a < total else { throw ValidationError("--steps \(a) is past the manifest's \(total) steps") }
    return a..<(a + 1)
}

struct ReplayCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay",
        abstract: "Print the samples of one rank as the training reader sees them (JSON Lines).",
        discussion: """
            Each line: {"step","rank","slot","component","dataset","file","row","sample"}; sample is the
            dataset's text field as a JSON string, or the whole record. Steps A:B are A <= s < B.
            Data-loader worker W of N takes the steps s with s mod N == W.
            Examples:
              mixtera replay --manifest manifest --rank 0 --steps 0:2
              mixtera replay --manifest manifest --rank 3 --steps 100: --worker 1 --workers 4
              mixtera replay --manifest manifest --rank 0 --root /old/data=/mnt/data
            """)

    @Option(help: "Manifest directory.") var manifest: String
    @Option(help: "Data-parallel rank.") var rank: Int
    @Option(help: "Steps A:B (A <= s < B), A:, or A (default: all).") var steps: String?
    @Option(help: "This data-loader worker's index.") var worker: Int?
    @Option(help: "Number of data-loader workers.") var workers: Int?
    @Option(help: "Remap a dataset root: OLD=NEW (repeatable).") var root: [String] = []
    @Flag(help: "Rehash every data file before reading.") var deep = false

    func run() throws {
        let roots = try parseRoots(root)
        if (worker == nil) != (workers == nil) { throw ValidationError("--worker and --workers go together") }
        if let w = worker, let n = workers, n < 1 || w < 0 || w >= n {
            throw ValidationError("--worker must be in 0..<--workers")
        }
        try ExitStatus.run {
            let reader = try ReplayReader(manifestPath: manifest, rank: rank, roots: roots, verify: deep ? .deep : .fast)
            let range = try parseSteps(steps, total: reader.header.steps)
            let list = ReplayReader.steps(range, worker: worker ?? 0, workers: workers ?? 1)
            let out = Terminal.Output()
            try reader.forEachSample(steps: list) { s in
                out.append { reader.jsonLine(s, into: &$0) }
            }
            out.flush()
        }
    }
}

struct WhichCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "which",
        abstract: "Lineage: the samples (component, file, row, byte offset, properties) of a step.",
        discussion: """
            The byte offset comes from the catalog when --catalog is given; without it, from the manifest,
            which holds it for the first sample of each entry, except entries read through a label table
            (format 1.2), whose offsets are null.
            Examples:
              mixtera which --manifest manifest --step 41237 --rank 3
              mixtera which --manifest manifest --step 12 --catalog catalog.sqlite --json
            """)

    @Option(help: "Manifest directory.") var manifest: String
    @Option(help: "Step.") var step: Int
    @Option(help: "Only this rank (default: all ranks).") var rank: Int?
    @Option(help: "Catalog, to add each sample's properties.") var catalog: String?
    @OptionGroup var output: OutputOptions

    func run() throws {
        try ExitStatus.run(json: output.json) {
            var rows: [JSON] = []
            let out = Terminal.Output()
            try Lineage.which(manifestPath: manifest, step: step, rank: rank, catalogPath: catalog) { j in
                if output.json { rows.append(j) } else { out.write(j.serialized() + "\n") }
            }
            if output.json { out.write(JSON.array(rows).serialized(pretty: true) + "\n") }
            out.flush()
        }
    }
}

struct VerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Check manifest checksums, entry bounds, and that data files are unchanged.",
        discussion: """
            Fast mode compares size and mtime, rehashing files whose mtime changed; --deep rehashes all.
            Exit 0 when everything checks out, 65 with one line per problem otherwise.
            Example:
              mixtera verify --manifest manifest --deep
            """)

    @Option(help: "Manifest directory.") var manifest: String
    @Flag(help: "Rehash every data file.") var deep = false
    @Option(help: "Remap a dataset root: OLD=NEW (repeatable).") var root: [String] = []
    @OptionGroup var output: OutputOptions

    func run() throws {
        let roots = try parseRoots(root)
        try ExitStatus.run(json: output.json) {
            let r = try Lineage.verify(manifestPath: manifest, deep: deep, roots: roots)
            if output.json {
                print(
                    JSON.object([
                        ("ok", .bool(r.problems.isEmpty)), ("ranks", .int(Int64(r.ranks))), ("files", .int(Int64(r.files))),
                        ("steps", .int(Int64(r.steps))),
                        ("label_table_files", r.labelledFiles.map { .int(Int64($0)) } ?? .null),
                        ("problems", .array(r.problems.map { .string($0) })),
                    ]).serialized(pretty: true))
            } else {
                for p in r.problems { Terminal.error(p) }
                if r.problems.isEmpty && !output.quiet {
                    let labels = r.labelledFiles.map { " and a label table over \($0) files" } ?? ""
                    print(
                        "ok: \(r.ranks) rank files\(labels), \(r.steps) steps, \(r.files) data files verified\(deep ? " (deep)" : "")"
                    )
                }
            }
            if !r.problems.isEmpty { throw ExitCode(65) }
        }
    }
}

struct CatalogCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "catalog", abstract: "Inspect the catalog; merge partial catalogs.",
        subcommands: [CatalogStatsCommand.self, CatalogSamplesCommand.self, CatalogFilesCommand.self, CatalogMergeCommand.self])
}

struct CatalogMergeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "merge", abstract: "Combine partial catalogs from `scan --shard I/N` into one.",
        discussion: """
            The result is identical in content to a single-machine scan of the same spec. Every part must
            come from the same dataset spec; a file present in two parts must be identical in both.
            Example:
              mixtera catalog merge --out catalog.sqlite part-0.sqlite part-1.sqlite part-2.sqlite
            """)
    @Option(help: "The merged catalog (must not exist).") var out: String
    @Argument(help: "Partial catalogs.") var parts: [String] = []
    @OptionGroup var output: OutputOptions

    func run() throws {
        guard !parts.isEmpty else { throw ValidationError("give at least one partial catalog") }
        try ExitStatus.run(json: output.json) {
            let r = try CatalogMerge.run(parts: parts, out: out)
            if output.json {
                print(r.serialized(pretty: true))
            } else if !output.quiet {
                let ds = r["datasets"]?.arrayValue ?? []
                let files = ds.reduce(Int64(0)) { $0 + ($1["files"]?.intValue ?? 0) }
                let samples = ds.reduce(Int64(0)) { $0 + ($1["samples"]?.intValue ?? 0) }
                print(
                    "merged \(parts.count) parts: \(ds.count) dataset\(ds.count == 1 ? "" : "s"), \(formatCount(files)) files, \(formatCount(samples)) samples into \(out)"
                )
            }
        }
    }
}

struct CatalogStatsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stats", abstract: "Per-dataset counts and per-property value distributions.",
        discussion: "Example:\n  mixtera catalog stats --catalog catalog.sqlite --json")
    @Option(help: "Catalog file.") var catalog: String
    @OptionGroup var output: OutputOptions

    func run() throws {
        try ExitStatus.run(json: output.json) {
            let j = try CatalogInspect.stats(catalogPath: catalog)
            if output.json {
                print(j.serialized(pretty: true))
                return
            }
            for d in j["datasets"]?.arrayValue ?? [] {
                print(
                    Terminal.bold("dataset \(d["name"]!.stringValue!)")
                        + ": \(formatCount(d["files"]!.intValue!)) files, \(formatCount(d["samples"]!.intValue!)) samples, \(formatBytes(d["bytes"]!.intValue!))"
                )
                for p in d["properties"]?.arrayValue ?? [] {
                    let name = p["name"]!.stringValue!
                    if let values = p["values"]?.arrayValue {
                        let top = values.prefix(8).map { v in "\(v["value"]!.serialized())=\(formatCount(v["count"]!.intValue!))"
                        }
                        print(
                            "  \(name) (\(p["type"]!.stringValue!), \(values.count) distinct): \(top.joined(separator: " "))\(values.count > 8 ? " …" : "")"
                        )
                    } else {
                        print(
                            "  \(name) (\(p["type"]!.stringValue!)): min \(p["min"]!.serialized()) max \(p["max"]!.serialized()) mean \(p["mean"]!.serialized())"
                        )
                    }
                }
            }
        }
    }
}

struct CatalogSamplesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "samples", abstract: "Samples with their properties as JSON Lines, in (dataset, file, row) order.",
        discussion: "Example:\n  mixtera catalog samples --catalog catalog.sqlite --where 'language == \"de\"' --limit 10")
    @Option(help: "Catalog file.") var catalog: String
    @Option(help: "Only this dataset.") var dataset: String?
    @Option(help: "Only this file (relative to its dataset root).") var file: String?
    @Option(name: .customLong("where"), help: "Filter expression (query language).") var filter: String?
    @Option(help: "At most N samples.") var limit: Int?
    @Flag(help: "Accepted for uniformity; output is always JSON Lines.") var json = false

    func run() throws {
        try ExitStatus.run {
            let out = Terminal.Output()
            try CatalogInspect.samples(catalogPath: catalog, dataset: dataset, file: file, filter: filter, limit: limit) { j in
                out.write(j.serialized() + "\n")
            }
            out.flush()
        }
    }
}

struct CatalogFilesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "files", abstract: "The catalog's files (JSON Lines): path, size, fingerprint, samples, state.",
        discussion: "Example:\n  mixtera catalog files --catalog catalog.sqlite")
    @Option(help: "Catalog file.") var catalog: String
    @Flag(help: "Accepted for uniformity; output is always JSON Lines.") var json = false

    func run() throws {
        try ExitStatus.run {
            let out = Terminal.Output()
            for j in try CatalogInspect.files(catalogPath: catalog) { out.write(j.serialized() + "\n") }
            out.flush()
        }
    }
}

import ArgumentParser
import Mixtera
import MixteraCore
import MixteraPlanner
import MixteraSpec

/// A share or unit count rounded to 6 decimals (stable, readable JSON).
func round6(_ x: Double) -> JSON { .double((x * 1e6).rounded() / 1e6) }

func planJSON(_ r: PlanReport, manifest: String?, window: Int? = nil) -> JSON {
    let shares = r.shares
    var kv: [(String, JSON)] = [
        ("steps", .int(Int64(r.steps))),
        ("unit", .string(r.unit.rawValue)),
        ("global_batch", .int(Int64(r.globalBatch))),
        ("data_parallel", .int(Int64(r.dataParallel))),
        ("selected", .int(Int64(r.selected))),
        ("scanned", .int(Int64(r.scanned))),
        (
            "components",
            .array(
                r.components.enumerated().map { i, c in
                    .object([
                        ("name", .string(c.name)), ("filter", .string(c.filter)), ("selected", .int(Int64(c.selected))),
                        ("weight", .double(c.weight)), ("planned", .int(Int64(c.planned))), ("epochs", .int(Int64(c.epochs))),
                        ("exhausted_at_step", c.exhaustedAtStep.map { .int(Int64($0)) } ?? .null),
                        ("on_exhausted", .string(c.policy.rawValue)),
                        ("planned_units", .int(c.plannedUnits)), ("target_units", round6(c.targetUnits)),
                        ("target_share", round6(shares[i].target)), ("realized_share", round6(shares[i].realized)),
                    ])
                })
        ),
        ("warnings", .array(r.warnings.map { .string($0) })),
        ("end_reason", r.endReason.map { .string($0) } ?? .null),
        ("leftover", .int(Int64(r.leftover))),
    ]
    if let p = r.perStep {
        kv.append(
            (
                "per_step",
                .array(
                    p.enumerated().map { i, c in
                        var o: [(String, JSON)] = [
                            ("step", .int(Int64(r.firstStep + i))), ("counts", .array(c.map { .int(Int64($0)) })),
                        ]
                        if let u = r.perStepUnits?[i] { o.append(("units", .array(u.map { .int($0) }))) }
                        if let t = r.perStepTargetUnits?[i] { o.append(("target_units", .array(t.map(round6)))) }
                        return .object(o)
                    })
            ))
        if let windows = r.shareWindows(size: window ?? r.defaultWindow) {
            kv.append(
                (
                    "windows",
                    .array(
                        windows.map { w in
                            .object([
                                ("from_step", .int(Int64(w.fromStep))), ("to_step", .int(Int64(w.toStep))),
                                ("units", .array(w.units.map { .int($0) })), ("target_units", .array(w.targetUnits.map(round6))),
                                ("realized_share", .array(w.realizedShare.map(round6))),
                                ("target_share", .array(w.targetShare.map(round6))),
                                ("max_deviation_units", round6(w.maxDeviationUnits)),
                            ])
                        })
                ))
        }
    }
    if let manifest {
        kv.append(("manifest", .string(manifest)))
        kv.append(("manifest_bytes", .int(r.manifestBytes)))
        kv.append(("format_version", .string(r.formatVersion)))
    }
    return .object(kv)
}

/// A share as a percentage with two decimals.
func percent2(_ x: Double) -> String { String(format2(x * 100)) + "%" }

func format2(_ v: Double) -> String {
    let r = (v * 100).rounded() / 100
    var s = String(r)
    if let dot = s.firstIndex(of: ".") {
        let decimals = s.distance(from: dot, to: s.endIndex) - 1
        if decimals < 2 { s += String(repeating: "0", count: 2 - decimals) }
    }
    return s
}

func printPlan(_ r: PlanReport, windows: Int? = nil) {
    print(
        "plan: \(formatCount(Int64(r.steps))) steps × global batch \(r.globalBatch) over \(r.dataParallel) data-parallel ranks (\(r.globalBatch / r.dataParallel) per rank)"
    )
    print("selected \(formatCount(Int64(r.selected))) of \(formatCount(Int64(r.scanned))) samples")
    let step0 = r.perStep?.first
    if r.unit == .samples {
        let rows = r.components.enumerated().map { i, c in
            [
                c.name, formatCount(Int64(c.selected)), String(format1(c.weight * 100)) + "%",
                step0.map { String($0[i]) } ?? "-", formatCount(Int64(c.planned)), "\(c.epochs)",
                c.exhaustedAtStep.map { String($0) } ?? "-",
            ]
        }
        print(
            table(
                ["component", "selected", "weight", "step 0", "planned", "epochs", "exhausted at"], rows,
                rightAligned: [1, 2, 3, 4, 5, 6]), terminator: "")
    } else {
        // Weights are shares of tokens (bytes): show the units planned and target vs realized shares.
        let shares = r.shares
        let rows = r.components.enumerated().map { i, c in
            [
                c.name, formatCount(Int64(c.selected)), String(format1(c.weight * 100)) + "%",
                step0.map { String($0[i]) } ?? "-", formatCount(Int64(c.planned)), formatCount(c.plannedUnits),
                percent2(shares[i].target), percent2(shares[i].realized), "\(c.epochs)",
                c.exhaustedAtStep.map { String($0) } ?? "-",
            ]
        }
        print("weights are shares of \(r.unit.rawValue)")
        print(
            table(
                [
                    "component", "selected", "weight", "step 0", "planned", r.unit.rawValue, "target", "realized", "epochs",
                    "exhausted at",
                ], rows,
                rightAligned: [1, 2, 3, 4, 5, 6, 7, 8, 9]), terminator: "")
    }
    if let size = windows, let ws = r.shareWindows(size: size) {
        print("\(r.unit.rawValue) share per window of \(size) steps (realized / target):")
        let rows = ws.map { w in
            ["\(w.fromStep)-\(w.toStep)", formatCount(w.units.reduce(0, +))]
                + w.realizedShare.indices.map { percent2(w.realizedShare[$0]) + " / " + percent2(w.targetShare[$0]) }
        }
        print(
            table(["steps", r.unit.rawValue] + r.components.map(\.name), rows, rightAligned: Set(1...(r.components.count + 1))),
            terminator: "")
    }
    if let e = r.endReason { print("end: \(e) (\(formatCount(Int64(r.leftover))) samples left over)") }
    for w in r.warnings { print("warning: \(w)") }
}

struct ExplainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "explain",
        abstract: "Show the plan without writing: per-component counts, exhaustion step, epochs, warnings.",
        discussion: """
            Example:
              mixtera explain --catalog catalog.sqlite --spec build.yaml
              mixtera explain --catalog catalog.sqlite --spec build.yaml --json --per-step
              mixtera explain --catalog catalog.sqlite --spec tokens.yaml --per-step --window 100
            With `mixture.unit: tokens` (or bytes) weights are shares of tokens (text bytes): the table adds the
            units planned and the target and realized shares; --per-step adds them per window of steps.
            """)

    @Option(help: "Catalog file.") var catalog: String
    @Option(help: "Build spec (YAML).") var spec: String
    @Flag(help: "Include each step's per-component counts and units, and target vs realized shares per window of steps.")
    var perStep = false
    @Option(help: "Steps per window for --per-step share summaries (default: a tenth of the plan).") var window: Int?
    @Option(help: "Override training.data_parallel.") var dataParallel: Int?
    @OptionGroup var output: OutputOptions

    func run() throws {
        if let w = window, w < 1 { throw ValidationError("--window must be at least 1") }
        try ExitStatus.run(json: output.json) {
            let s = try loadBuildSpec(spec)
            let showProgress = !output.quiet && !output.json
            let r = try Build.run(
                catalogPath: catalog, spec: s, out: nil,
                options: BuildOptions(
                    dataParallel: dataParallel, perStep: perStep || !output.json,
                    progress: { Terminal.progress($0, enabled: showProgress) }))
            Terminal.endProgress(enabled: showProgress)
            if output.json {
                var report = r
                if !perStep { report.perStep = nil }
                print(planJSON(report, manifest: nil, window: window).serialized(pretty: true))
            } else {
                printPlan(r, windows: perStep ? (window ?? r.defaultWindow) : nil)
            }
        }
    }
}

struct BuildManifestCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "build-manifest",
        abstract: "Plan query + mixture schedule + topology and write the manifest directory.",
        discussion: """
            The directory holds header.json, one rank-NNNNN.bin per data-parallel rank and, in format
            1.2, labels.bin (the label table, docs/manifest-format.md); it is written to a temporary
            directory and renamed into place. Same inputs give identical bytes.
            Examples:
              mixtera build-manifest --catalog catalog.sqlite --spec build.yaml --out manifest
              mixtera build-manifest --catalog catalog.sqlite --spec build.yaml --out manifest --ranks 2-3
              mixtera build-manifest --catalog catalog.sqlite --spec build.yaml --out m4 --data-parallel 4
              mixtera build-manifest --catalog catalog.sqlite --spec reweighted.yaml --out m2 --continue-from manifest --at-step 5000
            """)

    @Option(help: "Catalog file.") var catalog: String
    @Option(help: "Build spec (YAML).") var spec: String
    @Option(help: "Output manifest directory.") var out: String
    @Option(help: "Write only ranks A-B (inclusive) plus header.json (and labels.bin).") var ranks: String?
    @Option(help: "Override training.data_parallel (same global batch, another split).") var dataParallel: Int?
    @Option(help: "Continue this manifest: keep its steps < --at-step, plan the rest with --spec.") var continueFrom: String?
    @Option(help: "The first step planned with the new spec (with --continue-from).") var atStep: Int?
    @Option(
        help: ArgumentHelp(
            "Label table (format 1.2): auto (when it makes the manifest smaller), always, or never (format 1.1 and older readers).",
            valueName: "auto|always|never"))
    var labels: String = "auto"
    @OptionGroup var output: OutputOptions

    func parseRanks() throws -> ClosedRange<Int>? {
        guard let ranks else { return nil }
        let parts = ranks.split(separator: "-")
        if parts.count == 1, let a = Int(parts[0]), a >= 0 { return a...a }
        guard parts.count == 2, let a = Int(parts[0]), let b = Int(parts[1]), a >= 0, a <= b else {
            throw ValidationError("--ranks must be A-B with 0 <= A <= B, e.g. 0-3")
        }
        return a...b
    }

    func run() throws {
        let r = try parseRanks()
        if (continueFrom == nil) != (atStep == nil) { throw ValidationError("--continue-from and --at-step go together") }
        guard let labelPolicy = LabelPolicy(rawValue: labels) else {
            throw ValidationError("--labels must be auto, always or never, found \"\(labels)\"")
        }
        try ExitStatus.run(json: output.json) {
            let s = try loadBuildSpec(spec)
            let showProgress = !output.quiet && !output.json
            let report = try Build.run(
                catalogPath: catalog, spec: s, out: out,
                options: BuildOptions(
                    ranks: r, dataParallel: dataParallel, perStep: !output.json,
                    continueFrom: continueFrom.map { ($0, atStep ?? 0) }, labels: labelPolicy,
                    progress: { Terminal.progress($0, enabled: showProgress) }))
            Terminal.endProgress(enabled: showProgress)
            if output.json {
                var rep = report
                rep.perStep = nil
                print(planJSON(rep, manifest: out).serialized(pretty: true))
            } else if !output.quiet {
                printPlan(report)
                let planned = Int64(report.steps) * Int64(report.globalBatch)
                let perSample = planned > 0 ? Double(report.manifestBytes) / Double(planned) : 0
                let perSampleText = String((perSample * 1000).rounded() / 1000)
                print(
                    "wrote \(out) (format \(report.formatVersion), \(formatBytes(report.manifestBytes)), \(perSampleText) bytes per planned sample) in \(format1(report.seconds)) s"
                )
            }
        }
    }
}

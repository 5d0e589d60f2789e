import MixteraCatalog
import MixteraCore
import MixteraManifest
import MixteraPlanner
import MixteraSpec

public struct BuildOptions: Sendable {
    /// Only these ranks' files are written (plus header.json); byte-identical to a full build's.
    public var ranks: ClosedRange<Int>?
    /// Overrides `training.data_parallel` (same global batch, another split).
    public var dataParallel: Int?
    /// Collect per-step counts (for `explain --per-step`).
    public var perStep: Bool = false
    /// Continue an existing manifest: keep its steps `< atStep`, plan the rest with this spec.
    public var continueFrom: (path: String, atStep: Int)?
    /// Called with a one-line status (catalog files read, steps planned) at most every 0.1 s.
    public var progress: (@Sendable (String) -> Void)?

    public init(
        ranks: ClosedRange<Int>? = nil, dataParallel: Int? = nil, perStep: Bool = false,
        continueFrom: (path: String, atStep: Int)? = nil, progress: (@Sendable (String) -> Void)? = nil
    ) {
        self.ranks = ranks
        self.dataParallel = dataParallel
        self.perStep = perStep
        self.continueFrom = continueFrom
        self.progress = progress
    }
}

/// What planning produced (used by `explain` and printed by `build-manifest`).
public struct PlanReport: Sendable {
    public var steps: Int
    public var globalBatch: Int
    public var dataParallel: Int
    public var components: [ComponentSummary]
    public var warnings: [String]
    public var endReason: String?
    public var leftover: Int
    public var selected: Int
    public var scanned: Int
    /// Per step per component counts (only with `perStep`).
    public var perStep: [[Int]]?
    /// What the weights are shares of.
    public var unit: MixtureUnit = .samples
    /// The first step planned (non-zero for a continuation); `perStep[i]` is step `firstStep + i`.
    public var firstStep: Int = 0
    /// Per step per component units realized and asked for by the weights (only with `perStep`).
    public var perStepUnits: [[Int64]]?
    public var perStepTargetUnits: [[Double]]?
    public var manifestBytes: Int64 = 0
    public var seconds: Double = 0
}

/// `mixtera build-manifest` and `mixtera explain`: catalog → planner → manifest.
public enum Build {
    /// Plans and, when `out` is given, writes the manifest directory atomically.
    public static func run(
        catalogPath: String, spec: BuildSpec, out: String?, options: BuildOptions = BuildOptions()
    ) throws -> PlanReport {
        let start = monotonicSeconds()
        var lastProgress = start
        func tick(_ message: @autoclosure () -> String) {
            guard let p = options.progress else { return }
            let now = monotonicSeconds()
            if now - lastProgress >= 0.1 {
                lastProgress = now
                p(message())
            }
        }
        var spec = spec
        if let d = options.dataParallel {
            guard d >= 1, spec.training.globalBatch % d == 0 else {
                throw PlanError(
                    "invalid-topology", "global_batch \(spec.training.globalBatch) is not divisible by --data-parallel \(d)",
                    at: nil, category: .usage)
            }
            spec.training.dataParallel = d
        }
        let d = spec.training.dataParallel
        if let r = options.ranks, r.lowerBound < 0 || r.upperBound >= d {
            throw PlanError(
                "invalid-ranks", "--ranks \(r.lowerBound)-\(r.upperBound) is outside 0-\(d - 1)", at: nil, category: .usage)
        }
        let catalog = try Catalog(path: catalogPath, create: false)
        let datasets = try catalog.datasets()
        // A scan interrupted after a dataset's declarations changed leaves files indexed with the old
        // ones (their keys may already be gone): refuse to plan until a scan has re-indexed them.
        for ds in datasets {
            guard let hash = ds.propertiesHash else { continue }
            let stale = try catalog.files(datasetID: ds.id).filter { $0.state == .ok && $0.propertiesHash != hash }
            if let first = stale.first {
                throw PlanError(
                    "stale-catalog",
                    "\(stale.count) file(s) of dataset \"\(ds.name)\" (first: \(first.relativePath)) were indexed with other property declarations; rerun `mixtera scan`",
                    at: DataLocation(path: catalogPath))
            }
        }
        var plannerDatasets: [PlannerDataset] = []
        for ds in datasets {
            plannerDatasets.append(
                PlannerDataset(
                    name: ds.name, properties: ds.properties.map { ($0.name, $0.type) }, keys: try catalog.keys(datasetID: ds.id))
            )
        }
        let planner = try Planner(spec: spec, datasets: plannerDatasets)
        // File table: every live file, datasets by name, paths bytewise.
        var files: [ManifestFile] = []
        var offsets: [FileLocators] = []
        for (di, ds) in datasets.enumerated() {
            for f in try catalog.files(datasetID: ds.id) where f.state == .ok {
                tick("reading the catalog: \(ds.name): \(files.count) files")
                let index = try catalog.index(of: f)
                let fi = files.count
                files.append(
                    ManifestFile(
                        dataset: di, path: f.relativePath, format: f.format, compression: f.compression,
                        byteCount: f.byteCount, mtimeNanoseconds: f.mtimeNanoseconds, fingerprint: f.fingerprint,
                        sampleCount: f.sampleCount,
                        frames: index.frames.count > 1
                            ? index.frames.map {
                                ZstdFrameRef(compressedOffset: $0.compressedOffset, decompressedOffset: $0.decompressedOffset)
                            } : []))
                let units: [Int64]?
                switch spec.mixture.unit {
                case .samples: units = nil
                case .tokens: units = index.tokens
                case .bytes: units = ds.textField != nil ? index.textBytes : nil
                }
                try planner.addFile(
                    fileIndex: fi, dataset: di, sampleKeys: index.sampleKeys, numeric: index.numericColumns, units: units)
                offsets.append(FileLocators(index: index, hasSkippedRecords: f.skippedCount > 0))
            }
        }
        let b = spec.training.globalBatch / d
        let writeRanks: ClosedRange<Int>? = out == nil ? nil : (options.ranks ?? 0...(d - 1))
        // Continuation: the old manifest's steps < S are kept; their samples are excluded from every
        // component's first epoch of the new plan.
        var continuation: Continuation?
        if let c = options.continueFrom {
            continuation = try Continuation.load(
                path: c.path, atStep: c.atStep, globalBatch: spec.training.globalBatch, dataParallel: d,
                datasets: datasets.map(\.name), files: files, keepRanks: writeRanks)
        }
        var consumedFilter: (@Sendable (SampleRef) -> Bool)?
        if let c = continuation?.consumed {
            let space = planner.space
            consumedFilter = { r in c.contains(file: space.file(r), row: space.row(r)) }
        }
        var plan = try planner.finish(startStep: continuation?.atStep ?? 0, consumed: consumedFilter)
        let componentOffset = continuation?.components.count ?? 0
        let sampleSpace = planner.space
        // Sparse entries pay off when a component's rows are near each other in files (every order but
        // `shuffle: samples`); the choice depends on the spec only, so it is deterministic.
        let sparseEntries = spec.order.shuffle != .samples || continuation?.hasSparseEntries == true
        // Header needs the mixture log, known only after planning: keep per-rank writers in memory.
        var stepsDone = 0
        var log: [MixtureLogEntry] = []
        var perStep: [[Int]] = []
        var perStepUnits: [[Int64]] = []
        var perStepTarget: [[Double]] = []
        var writers: [RankFileWriter] = []
        if let wr = writeRanks {
            writers = wr.map { RankFileWriter(rank: $0, dataParallel: d, samplesPerStep: b, sparseEntries: sparseEntries) }
        }
        if let continuation {
            let zeros = plan.summaries.map { _ in 0 }
            log = continuation.mixtureLog.map {
                MixtureLogEntry(fromStep: $0.fromStep, toStep: $0.toStep, counts: $0.counts + zeros)
            }
            if let wr = writeRanks {
                for rank in wr {
                    for entries in continuation.steps[rank - wr.lowerBound] { writers[rank - wr.lowerBound].appendStep(entries) }
                }
            }
            stepsDone = continuation.atStep
        }
        let oldZeros = [Int](repeating: 0, count: componentOffset)
        var totalSteps: Int?
        if case .fixed(let n) = spec.training.steps { totalSteps = n }
        while let step = plan.next() {
            if stepsDone & 255 == 0 {
                tick("planning: step \(stepsDone)" + (totalSteps.map { " of \($0) (\(stepsDone * 100 / max(1, $0))%)" } ?? ""))
            }
            if options.perStep {
                perStep.append(step.counts)
                perStepUnits.append(step.units)
                perStepTarget.append(step.targetUnits)
            }
            let counts = oldZeros + step.counts
            if let last = log.last, last.counts == counts, last.toStep == step.index - 1 {
                log[log.count - 1].toStep = step.index
            } else {
                log.append(MixtureLogEntry(fromStep: step.index, toStep: step.index, counts: counts))
            }
            if let wr = writeRanks {
                let split = RankSplit.split(step, dataParallel: d)
                for rank in wr {
                    writers[rank - wr.lowerBound].appendStep(
                        entries(
                            split[rank], offsets: offsets, space: sampleSpace, componentOffset: componentOffset,
                            sparse: sparseEntries))
                }
            }
            stepsDone += 1
        }
        var report = PlanReport(
            steps: stepsDone, globalBatch: spec.training.globalBatch, dataParallel: d, components: plan.summaries,
            warnings: plan.warnings, endReason: plan.endReason, leftover: plan.leftover, selected: planner.selectedTotal,
            scanned: planner.scannedTotal, perStep: options.perStep ? perStep : nil)
        report.unit = spec.mixture.unit
        report.firstStep = continuation?.atStep ?? 0
        if options.perStep {
            report.perStepUnits = perStepUnits
            report.perStepTargetUnits = perStepTarget
        }
        report.steps = stepsDone
        if case .fixed(let n) = spec.training.steps, stepsDone < n {
            report.warnings.append("the plan ends after \(stepsDone) of \(n) steps: \(plan.endReason ?? "data exhausted")")
        }
        if let out, let wr = writeRanks {
            let header = ManifestHeader(
                toolVersion: mixteraVersion, specPath: PathUtil.baseName(spec.path), specText: spec.text, seed: spec.seed,
                catalogFingerprint: try catalog.contentFingerprint(), globalBatch: spec.training.globalBatch,
                dataParallel: d, steps: stepsDone,
                datasets: datasets.map {
                    ManifestDataset(name: $0.name, root: $0.root, format: $0.format, textField: $0.textField)
                },
                files: files,
                components: (continuation?.components ?? [])
                    + plan.summaries.map {
                        ManifestComponent(
                            name: $0.name, filter: $0.filter, selected: Int64($0.selected), onExhausted: $0.policy.rawValue)
                    }, mixtureLog: log, continuedFrom: continuation?.provenance)
            let headerBytes = header.encoded()
            let headerHash = XXH3.hash(headerBytes)
            options.progress?("writing \(wr.count) rank files")
            let writer = try ManifestWriter(destination: out)
            try writer.write(name: "header.json", bytes: headerBytes)
            var total = Int64(headerBytes.count)
            for rank in wr {
                let bytes = writers[rank - wr.lowerBound].finish(headerHash: headerHash)
                total += Int64(bytes.count)
                try writer.write(name: ManifestHeader.rankFileName(rank), bytes: bytes)
            }
            try writer.commit()
            report.manifestBytes = total
        }
        report.seconds = monotonicSeconds() - start
        return report
    }

    /// A file's locators plus what is needed to tell whether row r + 1 directly follows row r in the file.
    /// Non-negative integers stored in 4 bytes each when they all fit (file offsets under 4 GiB), else 8.
    enum CompactOffsets {
        case u32([UInt32])
        case i64([Int64])

        init(_ values: [Int64]) {
            if values.allSatisfy({ $0 >= 0 && $0 <= Int64(UInt32.max) }) {
                self = .u32(values.map { UInt32(truncatingIfNeeded: $0) })
            } else {
                self = .i64(values)
            }
        }

        @inline(__always) subscript(_ i: Int) -> Int64 {
            switch self {
            case .u32(let a): return Int64(a[i])
            case .i64(let a): return a[i]
            }
        }
    }

    struct FileLocators {
        var kind: LocatorKind
        var offsets: CompactOffsets
        /// Record byte lengths; kept only where adjacency needs them (tars; JSONL files with skipped records).
        var lengths: CompactOffsets
        var checkJSONLines: Bool

        init(index: FileIndex, hasSkippedRecords: Bool) {
            kind = index.locatorKind
            offsets = CompactOffsets(index.byteOffsets)
            checkJSONLines = hasSkippedRecords && (kind == .fileOffsets || kind == .streamOffsets)
            lengths = CompactOffsets(kind == .tarMembers || checkJSONLines ? index.byteLengths : [])
        }

        init(offsets: [Int64]) {
            kind = .fileOffsets
            self.offsets = CompactOffsets(offsets)
            lengths = .u32([])
            checkJSONLines = false
        }

        /// Whether entries may skip records of this file: JSONL whose every record was indexed (no
        /// `on_error: skip` losses), so the reader can count records between rows.
        var allowsSparse: Bool { (kind == .fileOffsets || kind == .streamOffsets) && !checkJSONLines }

        /// Whether indexed row `r` is the record right after indexed row `r - 1` in the file, so that one entry
        /// can cover both. It is not when `on_error: skip` dropped records between them (or, for tars, when
        /// skipped members such as directories lie between them).
        func follows(_ r: Int) -> Bool {
            switch kind {
            case .parquetRows: return offsets[r] == offsets[r - 1] + 1
            case .tarMembers: return offsets[r - 1] + lengths[r - 1] == offsets[r]
            case .fileOffsets, .streamOffsets:
                guard checkJSONLines else { return true }
                let end = offsets[r - 1] + lengths[r - 1]
                return offsets[r] == end + 1 || offsets[r] == end + 2
            }
        }
    }

    /// Collapses a rank's chunks into entries: consecutive rows of one file in one component merge, as long
    /// as the rows are adjacent records in the file (`FileLocators.follows`).
    static func entries(
        _ chunks: [(component: Int, refs: ArraySlice<SampleRef>)], offsets: [FileLocators], space: SampleSpace,
        componentOffset: Int = 0, sparse: Bool = false
    ) -> [ManifestEntry] {
        var out: [ManifestEntry] = []
        var sorted: [SampleRef] = []
        var skips: [UInt32] = []
        for (c, chunk) in chunks {
            // Within a rank's micro-batch each component's samples are in (file, row) order: the global
            // batch is unchanged, runs collapse, deltas stay small and replay reads forward.
            sorted.removeAll(keepingCapacity: true)
            sorted.append(contentsOf: chunk)
            sorted.sort()
            let refs = sorted[...]
            var i = refs.startIndex
            while i < refs.endIndex {
                let f = space.file(refs[i])
                let base = space.bases[f]
                let fileEnd = space.bases[f + 1]  // refs of file f are base ..< fileEnd
                let r = Int64(refs[i] - base)
                // Sparse entries (JSONL files whose records all made it into the catalog): rows up to
                // `maxSparseSkip` records apart share one entry, replay reads and drops the records between.
                let canSkip = sparse && offsets[f].allowsSparse
                skips.removeAll(keepingCapacity: true)
                var j = i + 1
                while j < refs.endIndex && refs[j] < fileEnd {
                    let gap = Int64(refs[j] &- refs[j - 1]) - 1
                    if gap == 0 && offsets[f].follows(Int(refs[j] - base)) {
                        skips.append(0)
                    } else if canSkip && gap > 0 && gap <= maxSparseSkip {
                        skips.append(UInt32(gap))
                    } else {
                        break
                    }
                    j += 1
                }
                let isSparse = skips.contains { $0 > 0 }
                out.append(
                    ManifestEntry(
                        component: c + componentOffset, file: f, row: r, count: j - i, locator: offsets[f].offsets[Int(r)],
                        skips: isSparse ? skips : []))
                i = j
            }
        }
        return out
    }

    /// The largest number of records a sparse entry skips between two of its rows.
    static let maxSparseSkip: Int64 = 64
}

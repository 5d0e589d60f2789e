import MixteraCatalog
import MixteraCore
import MixteraManifest
import MixteraPlanner
import MixteraSpec

#if canImport(Glibc)
    import Glibc
#endif

/// Whether a build writes a label table (format 1.2, docs/manifest-format.md §3.3).
public enum LabelPolicy: String, Sendable, CaseIterable {
    /// When it makes the manifest smaller: at most half a byte of table per planned sample.
    case auto
    /// Whenever the build allows one (an error otherwise).
    case always
    /// Never (format 1.1 or 1.0, for older readers).
    case never
}

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
    public var labels: LabelPolicy

    public init(
        ranks: ClosedRange<Int>? = nil, dataParallel: Int? = nil, perStep: Bool = false,
        continueFrom: (path: String, atStep: Int)? = nil, labels: LabelPolicy = .auto,
        progress: (@Sendable (String) -> Void)? = nil
    ) {
        self.labels = labels
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
    /// The written manifest's `format_version` (empty when nothing was written).
    public var formatVersion = ""
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
        // Index blobs are read once each: a small page cache keeps SQLite's memory out of the peak.
        try catalog.limitPageCache(kibibytes: 256)
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
        var locators = LocatorTable()
        var liveFiles: [[CatalogFile]] = []
        for ds in datasets { liveFiles.append(try catalog.files(datasetID: ds.id).filter { $0.state == .ok }) }
        let sampleCount = liveFiles.reduce(0) { $0 + $1.reduce(0) { $0 + max(0, Int($1.sampleCount)) } }
        planner.reserve(samples: sampleCount)
        if out != nil { locators.reserve(sampleCount) }
        for (di, ds) in datasets.enumerated() {
            for f in liveFiles[di] {
                tick("reading the catalog: \(ds.name): \(files.count) files")
                let index = try catalog.index(of: f, sizes: spec.mixture.unit != .samples)
                let fi = files.count
                files.append(
                    ManifestFile(
                        dataset: di, path: f.relativePath, format: f.format, compression: f.compression,
                        byteCount: f.byteCount, mtimeNanoseconds: f.mtimeNanoseconds, fingerprint: f.fingerprint,
                        sampleCount: f.sampleCount,
                        frames: index.frames.count > 1
                            ? index.frames.map {
                                ZstdFrameRef(compressedOffset: $0.compressedOffset, decompressedOffset: $0.decompressedOffset)
                            } : [],
                        parquetSync: index.parquetSync))
                let units: [Int64]?
                switch spec.mixture.unit {
                case .samples: units = nil
                case .tokens: units = index.tokens
                case .bytes: units = ds.textField != nil ? index.textBytes : nil
                }
                try planner.addFile(
                    fileIndex: fi, dataset: di, sampleKeys: index.sampleKeys, numeric: index.numericColumns, units: units)
                if out != nil { locators.append(index, hasSkippedRecords: f.skippedCount > 0) }
            }
        }
        locators.seal()
        let catalogFingerprint = out != nil ? try catalog.contentFingerprint() : ""
        liveFiles = []
        // Planning needs none of SQLite's page cache, nor the heap pages the index decoding freed.
        catalog.releaseMemory()
        releaseFreedMemory()
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
        // A label table (format 1.2) pays off when components take runs of their members in catalog order.
        let labelAllowed = continuation == nil && spec.order.shuffle != .samples && spec.order.sortBy == nil
        if options.labels == .always && !labelAllowed {
            throw PlanError(
                "labels-unavailable",
                "--labels always needs an order other than shuffle: samples, no sort_by, and no --continue-from",
                at: nil, category: .usage)
        }
        let labelCandidate = out != nil && options.labels != .never && labelAllowed
        var plan = try planner.finish(startStep: continuation?.atStep ?? 0, consumed: consumedFilter)
        let componentOffset = continuation?.components.count ?? 0
        let sampleSpace = planner.space
        // The label table: built from the component streams' member lists (catalog order), one file at a time, and
        // kept compressed; the entries name members by their index in those lists.
        var entryLabels: EntryLabels?
        var labelEncoder: LabelTableEncoder?
        if labelCandidate, plan.summaries.count <= LabelTableFormat.maxComponent + 1 {
            let members = plan.summaries.indices.compactMap { plan.members($0) }
            if members.count == plan.summaries.count {
                let expected: Int
                switch spec.training.steps {
                case .fixed(let n): expected = n * spec.training.globalBatch
                case .untilExhausted: expected = planner.selectedTotal
                }
                let e = Self.labelEncoder(
                    members: members, radix: plan.summaries.count + 1, bases: sampleSpace.bases, files: files,
                    locators: locators)
                // Labels cost bytes per catalog row, entries per planned sample: use them while the table costs at
                // most half a byte per planned sample (deterministic: it depends on the catalog and the spec only).
                if !e.files.isEmpty && (options.labels == .always || 2 * e.byteCount <= expected) {
                    labelEncoder = e
                    entryLabels = EntryLabels(members: members, labelled: e.files, fileCount: files.count)
                }
            }
        }
        if options.labels == .always && out != nil && entryLabels == nil {
            throw PlanError(
                "labels-unavailable",
                "--labels always: no label table is possible (it needs at most 254 components and a selected plain or compressed JSONL file with no records lost to on_error: skip)",
                at: nil, category: .usage)
        }
        releaseFreedMemory()
        // Sparse entries pay off when a component's rows are near each other in files (every order but
        // `shuffle: samples`); the choice depends on the spec only, so it is deterministic.
        let sparseEntries = spec.order.shuffle != .samples || continuation?.hasSparseEntries == true
        // Rank files stream to the output's temporary directory block by block (blocks are compressed and
        // written on a background thread); their fixed headers, which bind them to header.json, are written
        // last, once the mixture log is known.
        var stepsDone = 0
        var log: [MixtureLogEntry] = []
        var perStep: [[Int]] = []
        var perStepUnits: [[Int64]] = []
        var perStepTarget: [[Double]] = []
        var writers: [RankFileWriter] = []
        var manifestWriter: ManifestWriter?
        let pipeline = BlockPipeline()
        if let out, let wr = writeRanks {
            let mw = try ManifestWriter(destination: out)
            manifestWriter = mw
            for rank in wr {
                writers.append(
                    try mw.rankFileWriter(
                        rank: rank, dataParallel: d, samplesPerStep: b, sparseEntries: sparseEntries,
                        labelEntries: entryLabels != nil, pipeline: pipeline))
            }
        }
        if let continuation {
            let zeros = plan.summaries.map { _ in 0 }
            log = continuation.mixtureLog.map {
                MixtureLogEntry(fromStep: $0.fromStep, toStep: $0.toStep, counts: $0.counts + zeros)
            }
            if let wr = writeRanks, manifestWriter != nil {
                for rank in wr {
                    for var entries in continuation.steps[rank - wr.lowerBound] {
                        // Entries read through an old label table start at a checkpoint: give them their own locator.
                        for i in entries.indices where entries[i].lead > 0 {
                            entries[i].locator = locators[Int(sampleSpace.bases[entries[i].file]) + Int(entries[i].row)]
                            entries[i].lead = 0
                        }
                        writers[rank - wr.lowerBound].appendStep(entries)
                    }
                }
            }
            stepsDone = continuation.atStep
        }
        let oldZeros = [Int](repeating: 0, count: componentOffset)
        var totalSteps: Int?
        if case .fixed(let n) = spec.training.steps { totalSteps = n }
        var scratch = EntryScratch()
        let bases = sampleSpace.bases
        // Steps are encoded a rank file block at a time, rank after rank: only one rank's raw block is
        // being built at a time, and the block's planned steps (4 bytes per sample) wait for it.
        let stepsPerBlock = RankFileFormat.stepsPerBlock(samplesPerStep: b)
        var pending: [PlannedStep] = []
        func encodePending(last: Bool) {
            guard let wr = writeRanks, manifestWriter != nil else { return }
            for rank in wr {
                for step in pending {
                    appendEntries(
                        RankSplit.chunks(step, dataParallel: d, rank: rank), locators: locators, bases: bases,
                        componentOffset: componentOffset, sparse: sparseEntries, labels: entryLabels, scratch: &scratch,
                        to: &writers[rank - wr.lowerBound])
                }
                // The plan has ended: this rank's last block need not wait for the others'.
                if last { writers[rank - wr.lowerBound].flushLastBlock() }
            }
            pending.removeAll(keepingCapacity: true)
        }
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
            stepsDone += 1
            if manifestWriter != nil {
                pending.append(step)
                // Blocks start at multiples of stepsPerBlock (kept continuation steps included).
                if stepsDone % stepsPerBlock == 0 { encodePending(last: false) }
            }
        }
        encodePending(last: true)
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
        if let writer = manifestWriter, let wr = writeRanks {
            do {
                var header = ManifestHeader(
                    toolVersion: mixteraVersion, specPath: PathUtil.baseName(spec.path), specText: spec.text, seed: spec.seed,
                    catalogFingerprint: catalogFingerprint, globalBatch: spec.training.globalBatch,
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
                // Minor version 1 adds `parquet_sync` (ignorable: a 1.0 reader reads the same samples without it);
                // minor version 2 the label table.
                if files.contains(where: { !$0.parquetSync.isEmpty }) { header.formatVersion = "1.1" }
                if labelEncoder != nil {
                    header.formatVersion = "1.2"
                    header.labels = LabelTableFormat.fileName
                }
                let headerBytes = header.encoded()
                let headerHash = XXH3.hash(headerBytes)
                options.progress?("writing \(wr.count) rank files")
                try writer.write(name: "header.json", bytes: headerBytes)
                var total = Int64(headerBytes.count)
                if let labelEncoder {
                    let bytes = labelEncoder.bytes(headerHash: headerHash)
                    try writer.write(name: LabelTableFormat.fileName, bytes: bytes)
                    total += Int64(bytes.count)
                }
                for rank in wr { total += try writers[rank - wr.lowerBound].finishFile(headerHash: headerHash) }
                try writer.commit()
                report.manifestBytes = total
                report.formatVersion = header.formatVersion
            } catch {
                pipeline.drain()
                writer.abandon()
                throw error
            }
        }
        report.seconds = monotonicSeconds() - start
        return report
    }

    /// The label table of a build, compressed: every JSONL file whose records are all in the catalog
    /// (`LocatorTable.simple`) and which some component selects from, its rows labelled with the component whose
    /// `members` (ascending sample refs) hold them, and the locator of every 64th row. One file's labels are in
    /// memory at a time.
    static func labelEncoder(
        members: [[SampleRef]], radix: Int, bases: [UInt32], files: [ManifestFile], locators: LocatorTable
    ) -> LabelTableEncoder {
        let g = LabelTableFormat.interval
        var encoder = LabelTableEncoder(interval: g, radix: radix)
        var labels: [UInt8] = []
        for f in files.indices where locators.simple[f] != 0 && files[f].format == "jsonl" {
            let lo = bases[f]
            let hi = bases[f + 1]
            guard hi > lo else { continue }
            labels.removeAll(keepingCapacity: true)
            labels.append(contentsOf: repeatElement(0, count: Int(hi - lo)))
            var any = false
            for (c, m) in members.enumerated() {
                var i = lowerBound(m, lo)
                while i < m.count && m[i] < hi {
                    labels[Int(m[i] - lo)] = UInt8(c + 1)
                    i += 1
                    any = true
                }
            }
            guard any else { continue }
            let checkpoints = stride(from: Int(lo), to: Int(hi), by: g).map { locators[$0] }
            labels.withUnsafeBufferPointer { encoder.add(file: f, labels: $0, checkpoints: checkpoints) }
        }
        return encoder
    }

    /// The first index of ascending `a` whose value is ≥ `x`.
    @inline(__always) static func lowerBound(_ a: [SampleRef], _ x: SampleRef) -> Int {
        var lo = 0
        var hi = a.count
        while lo < hi {
            let mid = (lo + hi) >> 1
            if a[mid] < x { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }

    /// What label entries are written from: per component its members (ascending sample refs, the order labels
    /// number them in), and which files are labelled.
    struct EntryLabels {
        let members: [[SampleRef]]
        let labelled: [Bool]
        init(members: [[SampleRef]], labelled: [Int], fileCount: Int) {
            self.members = members
            var l = [Bool](repeating: false, count: fileCount)
            for f in labelled { l[f] = true }
            self.labelled = l
        }
    }

    /// Returns free heap pages to the system (glibc keeps them otherwise, and later large allocations are
    /// mapped afresh, so both would count in the peak). The corresponding C function is `malloc_trim`.
    static func releaseFreedMemory() {
        #if canImport(Glibc)
            // Looked up at run time: <malloc.h> is not part of the Glibc module.
            typealias MallocTrim = @convention(c) (Int) -> Int32
            if let f = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "malloc_trim") {
                _ = unsafeBitCast(f, to: MallocTrim.self)(0)
            }
        #endif
    }

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

    /// Every sample's locator in sample-space order (global sample index = `SampleRef`), 4 bytes each
    /// while all fit, plus per file what tells whether row r + 1 directly follows row r in the file.
    struct LocatorTable {
        /// Locators in groups of `group` samples: a 4-byte base per group plus a 2-byte offset from it per
        /// sample (about 2.3 bytes per sample). A group whose spread exceeds 65535 keeps its values in
        /// `spill` (4 bytes each; its base is then their index there and its bit in `spilled` is set).
        /// Any locator past 4 GiB switches the whole table to `wide` (8 bytes per sample).
        private var groupBase: [UInt32] = []
        private var delta: [UInt16] = []
        private var spilled: [UInt64] = []
        private var spill: [UInt32] = []
        private var wide: [Int64]?
        /// The last, incomplete group's values (sealed by `seal`).
        private var open: [Int64] = []
        private var reserved = 0
        static let groupShift = 4
        static let group = 1 << groupShift
        private(set) var files: [FileAdjacency] = []
        /// Per file: non-zero when consecutive indexed rows are always adjacent records and entries may skip
        /// records (`FileAdjacency.allowsSparse`: JSONL without skipped records), so `follows` need not be asked.
        private(set) var simple: [UInt8] = []
        private(set) var count = 0

        /// Reserves room for `n` locators (the catalog's sample count), so the table is not over-allocated.
        mutating func reserve(_ n: Int) {
            reserved = n
            delta.reserveCapacity(n + Self.group)
            groupBase.reserveCapacity(n / Self.group + 1)
            spilled.reserveCapacity(n / Self.group / 64 + 1)
        }

        mutating func append(_ index: FileIndex, hasSkippedRecords: Bool) {
            let adj = FileAdjacency(index: index, hasSkippedRecords: hasSkippedRecords)
            files.append(adj)
            simple.append(adj.allowsSparse ? 1 : 0)
            if wide == nil, !index.byteOffsets.allSatisfy({ $0 >= 0 && $0 <= Int64(UInt32.max) }) {
                var w: [Int64] = []
                w.reserveCapacity(max(reserved, count + index.byteOffsets.count))
                for i in 0..<(count - open.count) { w.append(self[i]) }
                w.append(contentsOf: open)
                wide = w
                groupBase = []
                delta = []
                spilled = []
                spill = []
                open = []
            }
            if wide != nil {
                wide!.append(contentsOf: index.byteOffsets)
            } else {
                for o in index.byteOffsets {
                    open.append(o)
                    if open.count == Self.group { closeGroup() }
                }
            }
            count += index.byteOffsets.count
        }

        private mutating func closeGroup() {
            guard !open.isEmpty else { return }
            let lo = open.min()!
            let hi = open.max()!
            let g = groupBase.count
            if g & 63 == 0 { spilled.append(0) }
            if hi - lo <= Int64(UInt16.max) {
                groupBase.append(UInt32(lo))
                for v in open { delta.append(UInt16(v - lo)) }
            } else {
                groupBase.append(UInt32(spill.count))
                spilled[g >> 6] |= 1 << UInt64(g & 63)
                for v in open { spill.append(UInt32(v)) }
                delta.append(contentsOf: repeatElement(0, count: open.count))
            }
            open.removeAll(keepingCapacity: true)
        }

        /// Closes the last group; call once every file is appended, before reading.
        mutating func seal() {
            if wide == nil { closeGroup() }
            open = []
        }

        /// The locator of sample `ref` (after `seal`).
        @inline(__always) subscript(_ ref: Int) -> Int64 {
            if let wide { return wide[ref] }
            let g = ref >> Self.groupShift
            if spilled[g >> 6] & (1 << UInt64(g & 63)) != 0 {
                return Int64(spill[Int(groupBase[g]) + (ref & (Self.group - 1))])
            }
            return Int64(groupBase[g]) + Int64(delta[ref])
        }

        /// Whether row `r` of file `f` (whose first sample is `base`) is the record right after row `r − 1`,
        /// so that one entry can cover both. It is not when `on_error: skip` dropped records between them
        /// (or, for tars, when skipped members such as directories lie between them).
        func follows(file f: Int, base: Int, row r: Int) -> Bool {
            let a = files[f]
            switch a.kind {
            case .parquetRows: return self[base + r] == self[base + r - 1] + 1
            case .tarMembers: return self[base + r - 1] + a.lengths[r - 1] == self[base + r]
            case .fileOffsets, .streamOffsets:
                guard a.checkJSONLines else { return true }
                let end = self[base + r - 1] + a.lengths[r - 1]
                return self[base + r] == end + 1 || self[base + r] == end + 2
            }
        }
    }

    /// What a file's adjacency checks need besides its locators.
    struct FileAdjacency {
        var kind: LocatorKind
        /// Record byte lengths; kept only where adjacency needs them (tars; JSONL files with skipped records).
        var lengths: CompactOffsets
        var checkJSONLines: Bool

        init(index: FileIndex, hasSkippedRecords: Bool) {
            kind = index.locatorKind
            checkJSONLines = hasSkippedRecords && (kind == .fileOffsets || kind == .streamOffsets)
            lengths = CompactOffsets(kind == .tarMembers || checkJSONLines ? index.byteLengths : [])
        }

        /// Whether entries may skip records of this file: JSONL whose every record was indexed (no
        /// `on_error: skip` losses), so the reader can count records between rows.
        var allowsSparse: Bool { (kind == .fileOffsets || kind == .streamOffsets) && !checkJSONLines }
    }

    /// Scratch buffers of `appendEntries`, reused across steps and ranks.
    struct EntryScratch {
        var sorted: [SampleRef] = []
        var locators: [Int64] = []
        var skips: [UInt32] = []
    }

    /// Appends one rank's step to its writer: each chunk's samples are collapsed into entries, where
    /// consecutive rows of one file in one component merge as long as the rows are adjacent records in the
    /// file (`LocatorTable.follows`). `bases` are the sample space's file bases (`SampleSpace.bases`).
    static func appendEntries(
        _ chunks: [(component: Int, refs: ArraySlice<SampleRef>)], locators: LocatorTable, bases: [UInt32],
        componentOffset: Int = 0, sparse: Bool = false, labels: EntryLabels? = nil, scratch: inout EntryScratch,
        to writer: inout RankFileWriter
    ) {
        for (c, chunk) in chunks {
            // Within a rank's micro-batch each component's samples are in (file, row) order: the global
            // batch is unchanged, runs collapse, deltas stay small and replay reads forward.
            scratch.sorted.removeAll(keepingCapacity: true)
            scratch.sorted.append(contentsOf: chunk)
            scratch.sorted.withUnsafeMutableBufferPointer { sortRefs($0) }
            let n = scratch.sorted.count
            // Locators first, in one tight loop: their loads are independent cache misses that overlap
            // (in shuffled orders every sample is a miss), rather than one at a time between encodings.
            scratch.locators.removeAll(keepingCapacity: true)
            for ref in scratch.sorted { scratch.locators.append(locators[Int(ref)]) }
            var i = 0
            var f = 0  // sorted refs visit files in increasing order: the file index only moves forward
            while i < n {
                let first = scratch.sorted[i]
                while bases[f + 1] <= first { f += 1 }  // skips empty files (equal bases) too
                let base = bases[f]
                let fileEnd = bases[f + 1]  // refs of file f are base ..< fileEnd
                let r = Int64(first - base)
                if let labels, labels.labelled[f] {
                    // A label entry: the run of samples that are consecutive members of component c (no member of c
                    // lies between two of them); its member index counts c's members in the file before it.
                    let m = labels.members[c]
                    var at = lowerBound(m, first)
                    precondition(at < m.count && m[at] == first, "a planned sample is not a member of its component")
                    let member = at - lowerBound(m, base)
                    var j = i + 1
                    while j < n {
                        let ref = scratch.sorted[j]
                        guard ref < fileEnd, at + 1 < m.count, m[at + 1] == ref else { break }
                        at += 1
                        j += 1
                    }
                    writer.appendLabelEntry(component: c + componentOffset, file: f, member: member, count: j - i)
                    i = j
                    continue
                }
                // Sparse entries (JSONL files whose records all made it into the catalog): rows up to
                // `maxSparseSkip` records apart share one entry, replay reads and drops the records between.
                let canSkip = locators.simple[f] != 0
                let canSkipRows = sparse && canSkip
                scratch.skips.removeAll(keepingCapacity: true)
                var isSparse = false
                var j = i + 1
                var prevRef = first
                while j < n {
                    let ref = scratch.sorted[j]
                    guard ref < fileEnd else { break }
                    let gap = ref &- prevRef &- 1
                    if gap == 0 && (canSkip || locators.follows(file: f, base: Int(base), row: Int(ref - base))) {
                        scratch.skips.append(0)
                    } else if canSkipRows && gap > 0 && Int64(gap) <= maxSparseSkip {
                        scratch.skips.append(gap)
                        isSparse = true
                    } else {
                        break
                    }
                    prevRef = ref
                    j += 1
                }
                writer.appendEntry(
                    component: c + componentOffset, file: f, row: r, count: j - i, locator: scratch.locators[i],
                    skips: scratch.skips, sparse: isSparse)
                i = j
            }
        }
        writer.endStep()
    }

    /// Sorts sample refs ascending: quicksort with a branch-free partition (shuffled refs make the
    /// comparisons unpredictable), insertion sort below 16 elements. Refs are plain integers, so the
    /// result is the same as any other sort's.
    static func sortRefs(_ a: UnsafeMutableBufferPointer<SampleRef>) {
        guard let p = a.baseAddress, a.count > 1 else { return }
        var lo = 0
        var hi = a.count - 1
        while hi - lo >= 16 {
            // Median of three moved to `hi` as the pivot.
            let mid = lo + (hi - lo) >> 1
            if p[mid] < p[lo] { swap(&p[mid], &p[lo]) }
            if p[hi] < p[lo] { swap(&p[hi], &p[lo]) }
            if p[mid] < p[hi] { swap(&p[mid], &p[hi]) }
            let pivot = p[hi]
            // Lomuto partition without branches: every element is swapped with the first not-smaller one,
            // whose index advances only past smaller elements.
            var store = lo
            for i in lo..<hi {
                let v = p[i]
                p[i] = p[store]
                p[store] = v
                store &+= v < pivot ? 1 : 0
            }
            p[hi] = p[store]
            p[store] = pivot
            // Recurse into the smaller side, loop on the larger (stack depth O(log n)).
            if store - lo < hi - store {
                if store - 1 > lo { sortRefs(UnsafeMutableBufferPointer(start: p + lo, count: store - lo)) }
                lo = store + 1
            } else {
                if hi > store + 1 { sortRefs(UnsafeMutableBufferPointer(start: p + store + 1, count: hi - store)) }
                hi = store - 1
            }
        }
        guard hi > lo else { return }
        var k = lo + 1
        while k <= hi {
            let v = p[k]
            var m = k
            while m > lo && p[m - 1] > v {
                p[m] = p[m - 1]
                m -= 1
            }
            p[m] = v
            k += 1
        }
    }

    /// The largest number of records a sparse entry skips between two of its rows.
    static let maxSparseSkip: Int64 = 64
}

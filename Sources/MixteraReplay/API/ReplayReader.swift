import MixteraCore
import MixteraFormats
import MixteraManifest
import MixteraParquet

/// How data files are checked before reading.
public enum VerifyMode: Sendable {
    /// Size must match; when the mtime differs too, the file is rehashed and its fingerprint compared.
    case fast
    /// Every referenced file is rehashed.
    case deep
    /// No check (for benchmarks and trusted pipelines).
    case none
}

/// One replayed sample.
public struct ReplaySample {
    public var step: Int
    public var rank: Int
    /// Position within the rank's micro-batch (0 ..< b).
    public var slot: Int
    public var component: Int
    public var file: Int
    public var row: Int64
    /// The sample as JSON: the text field as a JSON string, or the whole record.
    public var json: [UInt8]
}

/// Replays a rank's samples from a manifest (docs/replay.md). Needs neither SQLite nor the catalog.
public final class ReplayReader {
    public let manifest: ManifestDirectory
    public let rank: Int
    let rankFile: RankFileReader
    let roots: [(old: String, new: String)]
    let verify: VerifyMode
    /// Open JSONL readers, shared with the step reader.
    private let jsonlReaders = JSONLReaderStore()
    private var verified: [Bool]
    /// The per-sample JSON buffer, reused when the caller keeps no reference to a sample's `json`.
    private var scratch: [UInt8] = []
    /// The samples of the JSONL entry being read on this thread: their JSON back to back, and where each ends.
    private var entryBytes: [UInt8] = []
    private var entryEnds: [Int] = []
    /// This thread's Parquet cache and JSONL extractors (the step reader's queue has its own).
    private var context: StepContext
    private var tars = TarReplayCache()

    /// Opens `manifestPath` for `rank`, verifying the header and rank file checksums.
    /// - Parameter roots: dataset root remappings (`OLD=NEW`), applied by prefix.
    public init(manifestPath: String, rank: Int, roots: [(old: String, new: String)] = [], verify: VerifyMode = .fast)
        throws(ReplayError)
    {
        do {
            manifest = try ManifestDirectory(path: manifestPath)
            rankFile = try manifest.rankFile(rank)
        } catch { throw ReplayError(error) }
        self.rank = rank
        self.roots = roots
        self.verify = verify
        header = manifest.header
        fileDataset = manifest.header.files.map(\.dataset)
        let h = manifest.header
        filePaths = h.files.indices.map { Self.absolutePath(h, roots, file: $0) }
        fileTextFields = h.files.map { h.datasets[$0.dataset].textField }
        fileFormat = manifest.header.files.map { FileFormat($0.format) }
        fileSampleCount = manifest.header.files.map(\.sampleCount)
        // Parquet: the manifest's sync points (docs/manifest-format.md §4.1) and one store shared with the step reader.
        context = StepContext(
            parquet: ParquetReplayCache(
                store: ParquetReplayStore(
                    budget: ParquetReplayCache.defaultBudget, syncPoints: h.files.map(\.parquetSync), prefetcher: true)))
        totalSamples = manifest.header.files.reduce(0) { $0 + $1.sampleCount }
        verified = Array(repeating: false, count: manifest.header.files.count)
        (lineBytes, lineFragments) = Self.buildLineFragments(manifest.header)
    }

    /// A data file's format, decoded once from the header's string.
    private enum FileFormat {
        case jsonl, parquet, webdataset, other
        init(_ s: String) {
            switch s {
            case "jsonl": self = .jsonl
            case "parquet": self = .parquet
            case "webdataset": self = .webdataset
            default: self = .other
            }
        }
    }
    private let fileFormat: [FileFormat]
    /// Samples in all files, and samples the current `forEachSample` call replays (for the populate rule).
    private let totalSamples: Int64
    private var replaySamples = 0
    private let fileSampleCount: [Int64]

    /// The manifest header (a stored copy: the hot loops read it per sample).
    public let header: ManifestHeader
    /// Per file: its dataset index (so the per-sample path copies no strings).
    private let fileDataset: [Int]

    /// Per file: its absolute path after root remapping, and its dataset's text field.
    private let filePaths: [String]
    private let fileTextFields: [String?]

    /// The absolute path of file `i` after root remapping.
    public func absolutePath(file i: Int) -> String { filePaths[i] }

    private static func absolutePath(_ header: ManifestHeader, _ roots: [(old: String, new: String)], file i: Int)
        -> String
    {
        let f = header.files[i]
        var root = header.datasets[f.dataset].root
        for (old, new) in roots where root == old || root.hasPrefix(old + "/") {
            root = new + root.dropFirst(old.count)
            break
        }
        return root + "/" + f.path
    }

    /// Checks one data file against the manifest's size, mtime and fingerprint.
    public func verifyFile(_ i: Int, mode: VerifyMode) throws(ReplayError) {
        if mode == .none || verified[i] { return }
        let f = header.files[i]
        let path = absolutePath(file: i)
        let st: FileStat?
        do { st = try FileSystem.stat(path) } catch { throw ReplayError(error) }
        guard let st else {
            throw ReplayError(
                "data-missing",
                "data file is missing (manifest expects \(f.path) of dataset \"\(header.datasets[f.dataset].name)\"); remap roots with --root OLD=NEW if it moved",
                at: DataLocation(path: path), category: .noInput)
        }
        guard st.byteCount == f.byteCount else {
            throw ReplayError(
                "data-changed", "data file changed: size is \(st.byteCount) bytes, manifest expects \(f.byteCount)",
                at: DataLocation(path: path))
        }
        if mode == .deep || st.mtimeNanoseconds != f.mtimeNanoseconds {
            // `tarh:` fingerprints cover a plain tar's headers (TarHeaderFingerprint), `pqf:` a Parquet
            // footer (ParquetFooterFingerprint), others the whole file.
            let fp: String
            do {
                if f.fingerprint.hasPrefix(TarHeaderFingerprint.prefix) {
                    fp = TarHeaderFingerprint.string(try TarHeaderFingerprint.compute(path: path))
                } else if f.fingerprint.hasPrefix(ParquetFooterFingerprint.prefix) {
                    fp = ParquetFooterFingerprint.string(try ParquetFooterFingerprint.compute(path: path))
                } else {
                    fp = XXH3.hex(try FileSystem.fingerprint(path: path))
                }
            } catch { throw ReplayError(error) }
            guard fp == f.fingerprint else {
                throw ReplayError(
                    "data-changed", "data file changed: fingerprint is \(fp), manifest expects \(f.fingerprint)",
                    at: DataLocation(path: path))
            }
        }
        verified[i] = true
    }

    /// The steps worker `worker` of `workers` replays within `steps`: those with `s mod workers == worker`.
    public static func steps(_ steps: Range<Int>, worker: Int, workers: Int) -> [Int] {
        steps.filter { $0 % workers == worker }
    }

    /// Calls `body` for every sample of the given steps, in manifest order.
    public func forEachSample(steps: [Int], _ body: (ReplaySample) throws(ReplayError) -> Void) throws(ReplayError) {
        replaySamples = steps.count * header.samplesPerRank
        // Parquet entries, and JSONL entries of mapped plain files, of the next `lookahead` steps are read on a second
        // thread (`StepReader`) while this one emits; when it reaches a step still being read, this thread reads a
        // later one itself rather than wait (a single step is read on this thread). Both threads share the open
        // files and Parquet page indexes.
        let anyJob = fileFormat.contains(.parquet) || fileFormat.contains(.jsonl)
        let stepReader = anyJob && steps.count > 1 ? StepReader(store: context.parquet.store) : nil
        let lookahead = stepReader != nil ? 8 : 0
        // Steps before `submitted` went to the step reader; a step whose entries it should not read (one that does
        // not check out, which this thread then reports in turn) stops the submissions.
        var submitted = stepReader != nil ? 0 : Int.max
        var upcoming: [Int: [ManifestEntry]] = [:]
        for (k, s) in steps.enumerated() {
            let entries: [ManifestEntry]
            if let u = upcoming.removeValue(forKey: k) {
                entries = u
            } else {
                do { entries = try rankFile.entries(step: s) } catch { throw ReplayError(error) }
            }
            if let stepReader, submitted == k {
                submitted = submitJobs(entries, step: k, to: stepReader) ? k + 1 : Int.max
            }
            for j in (k + 1)..<min(steps.count, k + 1 + lookahead) where upcoming[j] == nil {
                guard let next = try? rankFile.entries(step: steps[j]) else { break }
                upcoming[j] = next
                if let stepReader, submitted == j {
                    submitted = submitJobs(next, step: j, to: stepReader) ? j + 1 : Int.max
                }
            }
            let produced = stepReader?.take(step: k, stealingWith: &context)
            var slot = 0
            for (k, e) in entries.enumerated() {
                guard e.component < header.components.count else {
                    throw ReplayError(
                        "corrupt", "entry references component \(e.component) outside the component table",
                        at: DataLocation(path: rankFile.path))
                }
                guard e.file >= 0 && e.file < header.files.count else {
                    throw ReplayError(
                        "corrupt", "entry references file \(e.file) outside the file table", at: DataLocation(path: rankFile.path)
                    )
                }
                try verifyFile(e.file, mode: verify)
                let format = fileFormat[e.file]
                guard e.rowEnd <= fileSampleCount[e.file] else {
                    let f = header.files[e.file]
                    throw ReplayError(
                        "corrupt", "entry rows \(e.row)..<\(e.rowEnd) exceed the \(f.sampleCount) samples of \(f.path)",
                        at: DataLocation(path: rankFile.path))
                }
                guard !e.isSparse || format == .jsonl else {
                    let f = header.files[e.file]
                    throw ReplayError(
                        "corrupt", "sparse entry in \(f.format) file \(f.path); only JSONL entries may be sparse",
                        at: DataLocation(path: rankFile.path))
                }
                if let produced, produced.jobOf[k] >= 0 {
                    // Read by the step reader (or by this thread while it waited for another step).
                    let (samples, failed) = produced.samples(entry: produced.jobOf[k])
                    var json = scratch
                    scratch = []
                    defer { scratch = json }
                    var row = e.row
                    var skip = 0
                    for i in samples {
                        json.removeAll(keepingCapacity: true)
                        json.append(contentsOf: produced.json(i))
                        try body(
                            ReplaySample(
                                step: s, rank: rank, slot: slot, component: e.component, file: e.file, row: row, json: json))
                        slot += 1
                        row += 1
                        if skip < e.skips.count {
                            row += Int64(e.skips[skip])
                            skip += 1
                        }
                    }
                    if failed, let error = produced.error { throw error }
                    continue
                }
                switch format {
                case .jsonl:
                    try readJSONL(e, step: s, slot: &slot, body)
                case .parquet:
                    var row = e.row
                    try context.parquet.forEachSample(
                        file: e.file, path: filePaths[e.file], textField: fileTextFields[e.file],
                        firstRow: e.locator, count: e.count
                    ) { (json) throws(ReplayError) in
                        try body(
                            ReplaySample(
                                step: s, rank: rank, slot: slot, component: e.component, file: e.file, row: row, json: json)
                        )
                        slot += 1
                        row += 1
                    }
                case .webdataset:
                    let f = header.files[e.file]
                    let samples = try tars.samples(
                        file: e.file, path: filePaths[e.file], compressed: f.compression != "none",
                        textField: fileTextFields[e.file], firstHeaderOffset: e.locator, count: e.count)
                    try emit(samples, e, step: s, slot: &slot, body)
                case .other:
                    let f = header.files[e.file]
                    throw ReplayError(
                        "unsupported", "replay of \(f.format) files is not supported by this build",
                        at: DataLocation(path: f.path))
                }
            }
        }
    }

    /// Submits the entries of `entries` (step index `k` of the replay) that the step reader reads — Parquet entries
    /// and JSONL entries of mapped plain files — to `stepReader`; false, submitting nothing, when such an entry would
    /// fail the checks this thread makes before reading (its file, rows or data file), so that the error is reported
    /// when the step is reached.
    private func submitJobs(_ entries: [ManifestEntry], step k: Int, to stepReader: StepReader) -> Bool {
        var jobs: [StepReader.Job] = []
        var jobOf = [Int](repeating: -1, count: entries.count)
        for (i, e) in entries.enumerated() where e.file >= 0 && e.file < header.files.count {
            let format = fileFormat[e.file]
            guard format == .parquet || format == .jsonl else { continue }
            guard e.component < header.components.count, e.rowEnd <= fileSampleCount[e.file],
                !e.isSparse || format == .jsonl, (try? verifyFile(e.file, mode: verify)) != nil
            else { return false }
            if format == .parquet {
                jobOf[i] = jobs.count
                jobs.append(
                    .parquet(
                        file: e.file, path: filePaths[e.file], textField: fileTextFields[e.file], firstRow: e.locator,
                        count: e.count))
            } else if header.files[e.file].compression == "none", let r = try? jsonlReader(e.file), r.isMapped {
                jobOf[i] = jobs.count
                jobs.append(
                    .jsonl(
                        entry: e, reader: r, textField: fileTextFields[e.file],
                        labels: (try? rankFile.labels?.labels(file: e.file)) ?? nil))
            }
        }
        stepReader.submit(step: k, jobs, jobOf: jobOf)
        return true
    }

    private func emit(
        _ samples: [[UInt8]], _ e: ManifestEntry, step: Int, slot: inout Int,
        _ body: (ReplaySample) throws(ReplayError) -> Void
    ) throws(ReplayError) {
        for (i, json) in samples.enumerated() {
            try body(
                ReplaySample(
                    step: step, rank: rank, slot: slot, component: e.component, file: e.file, row: e.row + Int64(i),
                    json: json))
            slot += 1
        }
    }

    /// The open reader of JSONL file `i`, opening it (the store closes the oldest beyond its limit).
    private func jsonlReader(_ i: Int) throws(ReplayError) -> JSONLRecordReader {
        try jsonlReaders.reader(i) { () throws(ReplayError) -> JSONLRecordReader in try openJSONLReader(i) }
    }

    private func openJSONLReader(_ i: Int) throws(ReplayError) -> JSONLRecordReader {
        let f = header.files[i]
        let compression = StreamCompression(rawValue: f.compression) ?? .none
        let reader: JSONLRecordReader
        do {
            // Map a file's pages up front when this replay is expected to touch most of them anyway: each
            // first touch of a page maps a 64 KiB window around it, so a file gets populated when its
            // expected share of the replayed samples times 64 KiB reaches its size.
            let expected = Double(replaySamples) * Double(f.sampleCount) / Double(max(1, totalSamples))
            reader = try JSONLRecordReader(
                path: absolutePath(file: i), compression: compression,
                frames: f.frames.map { ($0.compressedOffset, $0.decompressedOffset) },
                populate: expected * 65536 >= Double(f.byteCount))
        } catch { throw ReplayError(error) }
        return reader
    }

    /// Reads JSONL entry `e` on this thread (entries the step reader does not read: compressed files, files that
    /// could not be mapped, single-step replays) and emits its samples; a failing record ends the entry after the
    /// samples before it.
    private func readJSONL(_ e: ManifestEntry, step: Int, slot: inout Int, _ body: (ReplaySample) throws(ReplayError) -> Void)
        throws(ReplayError)
    {
        let reader = try jsonlReader(e.file)
        entryBytes.removeAll(keepingCapacity: true)
        entryEnds.removeAll(keepingCapacity: true)
        var failure: ReplayError?
        do {
            try context.jsonl.append(
                entry: e, reader: reader, textField: fileTextFields[e.file],
                labels: (try? rankFile.labels?.labels(file: e.file)) ?? nil,
                to: &entryBytes, ends: &entryEnds)
        } catch {
            failure = error
        }
        var json = scratch
        scratch = []
        defer { scratch = json }
        var row = e.row
        var skip = 0
        var start = 0
        for end in entryEnds {
            json.removeAll(keepingCapacity: true)
            json.append(contentsOf: entryBytes[start..<end])
            start = end
            try body(
                ReplaySample(step: step, rank: rank, slot: slot, component: e.component, file: e.file, row: row, json: json))
            slot += 1
            row += 1
            if skip < e.skips.count {
                row += Int64(e.skips[skip])
                skip += 1
            }
        }
        if let failure { throw failure }
    }

    /// One JSON Lines record of `mixtera replay` (docs/replay.md):
    /// `{"step":S,"rank":R,"slot":I,"component":"web","dataset":"web","file":"a.jsonl","row":N,"sample":…}`.
    public func jsonLine(_ s: ReplaySample, into out: inout [UInt8]) {
        out.append(contentsOf: #"{"step":"#.utf8)
        JSON.writeInt(Int64(s.step), into: &out)
        out.append(contentsOf: #","rank":"#.utf8)
        JSON.writeInt(Int64(s.rank), into: &out)
        out.append(contentsOf: #","slot":"#.utf8)
        JSON.writeInt(Int64(s.slot), into: &out)
        lineFragments.withUnsafeBufferPointer { fragments in
            let c = fragments[s.component]
            let f = fragments[header.components.count + s.file]
            lineBytes.withUnsafeBytes { bytes in
                out.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[c]))
                out.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[f]))
            }
        }
        JSON.writeInt(s.row, into: &out)
        out.append(contentsOf: #","sample":"#.utf8)
        s.json.withUnsafeBytes { out.append(contentsOf: $0) }
        out.append(contentsOf: "}\n".utf8)
    }

    /// Pre-encoded pieces of the replay line, built once: per component `,"component":"web"`, then per
    /// file `,"dataset":"web","file":"a.jsonl","row":`, as ranges of `lineBytes`.
    private let lineBytes: [UInt8]
    private let lineFragments: [Range<Int>]

    private static func buildLineFragments(_ header: ManifestHeader) -> (bytes: [UInt8], ranges: [Range<Int>]) {
        var bytes: [UInt8] = []
        var ranges: [Range<Int>] = []
        for c in header.components {
            let start = bytes.count
            bytes.append(contentsOf: #","component":"#.utf8)
            JSON.writeString(c.name.utf8, into: &bytes)
            ranges.append(start..<bytes.count)
        }
        for f in header.files {
            let start = bytes.count
            bytes.append(contentsOf: #","dataset":"#.utf8)
            JSON.writeString(header.datasets[f.dataset].name.utf8, into: &bytes)
            bytes.append(contentsOf: #","file":"#.utf8)
            JSON.writeString(f.path.utf8, into: &bytes)
            bytes.append(contentsOf: #","row":"#.utf8)
            ranges.append(start..<bytes.count)
        }
        return (bytes, ranges)
    }

}

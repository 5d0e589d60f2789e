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
    private var readers: [Int: JSONLRecordReader] = [:]
    private var verified: Set<Int> = []
    private var extractors: [Int: JSONTextExtractor] = [:]
    private var parquet = ParquetReplayCache()
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
    }

    /// The manifest header (a stored copy: the hot loops read it per sample).
    public let header: ManifestHeader
    /// Per file: its dataset index (so the per-sample path copies no strings).
    private let fileDataset: [Int]

    /// The absolute path of file `i` after root remapping.
    public func absolutePath(file i: Int) -> String {
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
        if mode == .none || verified.contains(i) { return }
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
            let fp: UInt64
            do { fp = try FileSystem.fingerprint(path: path) } catch { throw ReplayError(error) }
            guard XXH3.hex(fp) == f.fingerprint else {
                throw ReplayError(
                    "data-changed", "data file changed: fingerprint is \(XXH3.hex(fp)), manifest expects \(f.fingerprint)",
                    at: DataLocation(path: path))
            }
        }
        verified.insert(i)
    }

    /// The steps worker `worker` of `workers` replays within `steps`: those with `s mod workers == worker`.
    public static func steps(_ steps: Range<Int>, worker: Int, workers: Int) -> [Int] {
        steps.filter { $0 % workers == worker }
    }

    /// Calls `body` for every sample of the given steps, in manifest order.
    public func forEachSample(steps: [Int], _ body: (ReplaySample) throws(ReplayError) -> Void) throws(ReplayError) {
        for s in steps {
            let entries: [ManifestEntry]
            do { entries = try rankFile.entries(step: s) } catch { throw ReplayError(error) }
            var slot = 0
            for e in entries {
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
                let f = header.files[e.file]
                guard e.rowEnd <= f.sampleCount else {
                    throw ReplayError(
                        "corrupt", "entry rows \(e.row)..<\(e.rowEnd) exceed the \(f.sampleCount) samples of \(f.path)",
                        at: DataLocation(path: rankFile.path))
                }
                guard !e.isSparse || f.format == "jsonl" else {
                    throw ReplayError(
                        "corrupt", "sparse entry in \(f.format) file \(f.path); only JSONL entries may be sparse",
                        at: DataLocation(path: rankFile.path))
                }
                switch f.format {
                case "jsonl":
                    try readJSONL(e, step: s, slot: &slot, body)
                case "parquet":
                    let samples = try parquet.samples(
                        file: e.file, path: absolutePath(file: e.file), textField: header.datasets[f.dataset].textField,
                        firstRow: e.locator, count: e.count)
                    try emit(samples, e, step: s, slot: &slot, body)
                case "webdataset":
                    let samples = try tars.samples(
                        file: e.file, path: absolutePath(file: e.file), compressed: f.compression != "none",
                        textField: header.datasets[f.dataset].textField, firstHeaderOffset: e.locator, count: e.count)
                    try emit(samples, e, step: s, slot: &slot, body)
                default:
                    throw ReplayError(
                        "unsupported", "replay of \(f.format) files is not supported by this build",
                        at: DataLocation(path: f.path))
                }
            }
        }
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

    private func readJSONL(_ e: ManifestEntry, step: Int, slot: inout Int, _ body: (ReplaySample) throws(ReplayError) -> Void)
        throws(ReplayError)
    {
        let f = header.files[e.file]
        let reader: JSONLRecordReader
        if let r = readers[e.file] {
            reader = r
        } else {
            let compression = StreamCompression(rawValue: f.compression) ?? .none
            do {
                reader = try JSONLRecordReader(
                    path: absolutePath(file: e.file), compression: compression,
                    frames: f.frames.map { ($0.compressedOffset, $0.decompressedOffset) })
            } catch { throw ReplayError(error) }
            if readers.count > 64 { readers.removeAll() }
            readers[e.file] = reader
        }
        let textField = header.datasets[f.dataset].textField
        if let textField, extractors[f.dataset] == nil {
            do { extractors[f.dataset] = try JSONTextExtractor(path: textField) } catch { throw ReplayError(error) }
        }
        var row = e.row
        let rankNo = rank
        let path = absolutePath(file: e.file)
        var failure: ReplayError?
        // A sparse entry is read as one run of `span` records; the records between its rows are dropped.
        let skips = e.skips
        var skipIndex = 0
        var toSkip = 0
        do throws(FormatError) {
            try reader.read(offset: e.locator, count: Int(e.span)) { (line) throws(FormatError) in
                if toSkip > 0 {
                    toSkip -= 1
                    row += 1
                    return
                }
                if skipIndex < skips.count {
                    toSkip = Int(skips[skipIndex])
                    skipIndex += 1
                }
                var json: [UInt8]
                if textField != nil {
                    let text = try extractors[f.dataset]!.extract(line, location: DataLocation(path: path, byteOffset: e.locator))
                    json = []
                    json.reserveCapacity(text.count + 16)
                    JSON.writeString(text, into: &json)
                } else {
                    json = Array(line)
                }
                let sample = ReplaySample(
                    step: step, rank: rankNo, slot: slot, component: e.component, file: e.file, row: row, json: json)
                slot += 1
                row += 1
                do throws(ReplayError) { try body(sample) } catch {
                    failure = error
                    throw FormatError(.io, "stopped", at: nil)
                }
            }
        } catch {
            if let failure { throw failure }
            throw ReplayError(error)
        }
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
        out.append(contentsOf: #","component":"#.utf8)
        out.append(contentsOf: encodedComponentNames[s.component])
        out.append(contentsOf: #","dataset":"#.utf8)
        out.append(contentsOf: encodedDatasetNames[fileDataset[s.file]])
        out.append(contentsOf: #","file":"#.utf8)
        out.append(contentsOf: encodedFilePaths[s.file])
        out.append(contentsOf: #","row":"#.utf8)
        JSON.writeInt(s.row, into: &out)
        out.append(contentsOf: #","sample":"#.utf8)
        out.append(contentsOf: s.json)
        out.append(contentsOf: "}\n".utf8)
    }

    /// JSON-encoded names, computed once (the replay line is built per sample).
    private lazy var encodedComponentNames: [[UInt8]] = header.components.map { Self.encoded($0.name) }
    private lazy var encodedDatasetNames: [[UInt8]] = header.datasets.map { Self.encoded($0.name) }
    private lazy var encodedFilePaths: [[UInt8]] = header.files.map { Self.encoded($0.path) }

    private static func encoded(_ s: String) -> [UInt8] {
        var out: [UInt8] = []
        JSON.writeString(s.utf8, into: &out)
        return out
    }
}

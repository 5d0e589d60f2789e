import MixteraCore

/// One data file referenced by a manifest (the manifest's file table).
public struct ManifestFile: Sendable, Equatable {
    /// Index of the dataset in `ManifestHeader.datasets`.
    public var dataset: Int
    /// Path relative to the dataset root.
    public var path: String
    /// `jsonl`, `parquet` or `webdataset`.
    public var format: String
    /// `none`, `zstd`, `gzip`, `xz`, `bzip2`.
    public var compression: String
    public var byteCount: Int64
    public var mtimeNanoseconds: Int64
    /// XXH3-64 of the file bytes, 16 hex digits.
    public var fingerprint: String
    public var sampleCount: Int64
    /// zstd frame starts (compressed offset, decompressed offset), for files with more than one frame.
    public var frames: [ZstdFrameRef]
    /// Parquet: where a reader can start decoding the text column's pages (§4.1), in row order.
    public var parquetSync: [ParquetSyncPoint]

    public init(
        dataset: Int, path: String, format: String, compression: String, byteCount: Int64, mtimeNanoseconds: Int64,
        fingerprint: String, sampleCount: Int64, frames: [ZstdFrameRef] = [], parquetSync: [ParquetSyncPoint] = []
    ) {
        self.dataset = dataset
        self.path = path
        self.format = format
        self.compression = compression
        self.byteCount = byteCount
        self.mtimeNanoseconds = mtimeNanoseconds
        self.fingerprint = fingerprint
        self.sampleCount = sampleCount
        self.frames = frames
        self.parquetSync = parquetSync
    }
}

public struct ZstdFrameRef: Sendable, Equatable {
    public var compressedOffset: Int64
    public var decompressedOffset: Int64
    public init(compressedOffset: Int64, decompressedOffset: Int64) {
        self.compressedOffset = compressedOffset
        self.decompressedOffset = decompressedOffset
    }
}

public struct ManifestDataset: Sendable, Equatable {
    public var name: String
    public var root: String
    public var format: String
    /// The field replay returns as `sample` (nil: the whole record).
    public var textField: String?
    public init(name: String, root: String, format: String, textField: String?) {
        self.name = name
        self.root = root
        self.format = format
        self.textField = textField
    }
}

public struct ManifestComponent: Sendable, Equatable {
    public var name: String
    public var filter: String
    /// Number of samples the query selected for this component.
    public var selected: Int64
    public var onExhausted: String
    public init(name: String, filter: String, selected: Int64, onExhausted: String) {
        self.name = name
        self.filter = filter
        self.selected = selected
        self.onExhausted = onExhausted
    }
}

/// A run of consecutive steps with identical per-component counts.
public struct MixtureLogEntry: Sendable, Equatable {
    public var fromStep: Int
    public var toStep: Int  // inclusive
    public var counts: [Int]
    public init(fromStep: Int, toStep: Int, counts: [Int]) {
        self.fromStep = fromStep
        self.toStep = toStep
        self.counts = counts
    }
}

/// `header.json`: everything about a manifest except the per-rank entries (docs/manifest-format.md).
public struct ManifestHeader: Sendable, Equatable {
    public static let formatMajor = 1
    public static let formatMinor = 0

    public var formatVersion: String = "\(formatMajor).\(formatMinor)"
    public var toolVersion: String
    public var specPath: String
    public var specText: String
    public var seed: UInt64
    public var catalogFingerprint: String
    public var globalBatch: Int
    public var dataParallel: Int
    public var steps: Int
    public var datasets: [ManifestDataset]
    public var files: [ManifestFile]
    public var components: [ManifestComponent]
    public var mixtureLog: [MixtureLogEntry]
    /// Steps < continuedAt were copied from a previous manifest (nil for a fresh build).
    public var continuedFrom: JSON?
    /// The label table's file name (`labels.bin`, format 1.2) when rank files have label entries.
    public var labels: String?

    public init(
        toolVersion: String, specPath: String, specText: String, seed: UInt64, catalogFingerprint: String,
        globalBatch: Int, dataParallel: Int, steps: Int, datasets: [ManifestDataset], files: [ManifestFile],
        components: [ManifestComponent], mixtureLog: [MixtureLogEntry], continuedFrom: JSON? = nil
    ) {
        self.toolVersion = toolVersion
        self.specPath = specPath
        self.specText = specText
        self.seed = seed
        self.catalogFingerprint = catalogFingerprint
        self.globalBatch = globalBatch
        self.dataParallel = dataParallel
        self.steps = steps
        self.datasets = datasets
        self.files = files
        self.components = components
        self.mixtureLog = mixtureLog
        self.continuedFrom = continuedFrom
    }

    public var samplesPerRank: Int { globalBatch / dataParallel }

    public static func rankFileName(_ rank: Int) -> String {
        var s = String(rank)
        while s.count < 5 { s = "0" + s }
        return "rank-\(s).bin"
    }

    public func toJSON() -> JSON {
        var kv: [(String, JSON)] = [
            ("format_version", .string(formatVersion)),
            ("tool_version", .string(toolVersion)),
            ("seed", .int(Int64(bitPattern: seed))),
            ("catalog_fingerprint", .string(catalogFingerprint)),
            (
                "topology",
                .object([
                    ("global_batch", .int(Int64(globalBatch))), ("data_parallel", .int(Int64(dataParallel))),
                    ("samples_per_rank", .int(Int64(samplesPerRank))), ("steps", .int(Int64(steps))),
                ])
            ),
            (
                "datasets",
                .array(
                    datasets.map { d in
                        .object([
                            ("name", .string(d.name)), ("root", .string(d.root)), ("format", .string(d.format)),
                            ("text_field", d.textField.map { .string($0) } ?? .null),
                        ])
                    })
            ),
            (
                "files",
                .array(
                    files.map { f in
                        var kv: [(String, JSON)] = [
                            ("dataset", .int(Int64(f.dataset))), ("path", .string(f.path)),
                            ("format", .string(f.format)), ("compression", .string(f.compression)),
                            ("size", .int(f.byteCount)), ("mtime_ns", .int(f.mtimeNanoseconds)),
                            ("fingerprint", .string(f.fingerprint)), ("samples", .int(f.sampleCount)),
                        ]
                        if !f.frames.isEmpty {
                            kv.append(
                                (
                                    "zstd_frames",
                                    .array(f.frames.map { .array([.int($0.compressedOffset), .int($0.decompressedOffset)]) })
                                ))
                        }
                        if !f.parquetSync.isEmpty {
                            kv.append(
                                (
                                    "parquet_sync",
                                    .array(f.parquetSync.map { .array([.int($0.row), .int($0.offset), .int($0.value)]) })
                                ))
                        }
                        return .object(kv)
                    })
            ),
            (
                "components",
                .array(
                    components.map { c in
                        .object([
                            ("name", .string(c.name)), ("filter", .string(c.filter)), ("selected", .int(c.selected)),
                            ("on_exhausted", .string(c.onExhausted)),
                        ])
                    })
            ),
            (
                "mixture_log",
                .array(
                    mixtureLog.map { e in
                        .object([
                            ("from_step", .int(Int64(e.fromStep))), ("to_step", .int(Int64(e.toStep))),
                            ("counts", .array(e.counts.map { .int(Int64($0)) })),
                        ])
                    })
            ),
        ]
        if let labels { kv.append(("labels", .string(labels))) }
        kv += [
            ("continued_from", continuedFrom ?? .null),
            ("spec_path", .string(specPath)),
            ("spec", .string(specText)),
        ]
        return .object(kv)
    }

    /// Serialized header bytes (pretty JSON with a final newline). Deterministic.
    public func encoded() -> [UInt8] {
        var out: [UInt8] = []
        toJSON().write(into: &out, pretty: true)
        out.append(0x0A)
        return out
    }

    /// True for a non-empty relative path without `..`, `.` or empty components and without NUL:
    /// the only file paths a manifest may hold (docs/security.md), so that replay never reads outside a
    /// dataset's root.
    public static func isSafeRelativePath(_ path: String) -> Bool {
        if path.isEmpty || path.hasPrefix("/") || path.utf8.contains(0) { return false }
        for part in path.split(separator: "/", omittingEmptySubsequences: false) {
            if part.isEmpty || part == "." || part == ".." { return false }
        }
        return true
    }

    /// Parses `header.json`, checking the format version first.
    public static func decode(_ bytes: [UInt8], path: String) throws(ManifestError) -> ManifestHeader {
        let loc = DataLocation(path: path)
        let json: JSON
        do { json = try JSON.parse(bytes) } catch {
            throw ManifestError(
                "bad-header", "header is not valid JSON (\(error.message))",
                at: DataLocation(path: path, byteOffset: Int64(error.offset)))
        }
        guard let version = json["format_version"]?.stringValue else {
            throw ManifestError("bad-header", "header has no format_version; not a mixtera manifest", at: loc)
        }
        let parts = version.split(separator: ".")
        guard parts.count == 2, let major = Int(parts[0]) else {
            throw ManifestError("bad-header", "format_version \(JSON.string(version).serialized()) is malformed", at: loc)
        }
        guard major == formatMajor else {
            throw ManifestError(
                "unsupported-version",
                "manifest format version \(JSON.string(version).serialized()) is not supported (this reader supports \(formatMajor).x); use a matching mixtera",
                at: loc)
        }
        func need<T>(_ v: T?, _ field: String) throws(ManifestError) -> T {
            guard let v else {
                throw ManifestError("bad-header", "header field \(field) is missing or has the wrong type", at: loc)
            }
            return v
        }
        let topo = try need(json["topology"], "topology")
        var datasets: [ManifestDataset] = []
        for d in try need(json["datasets"]?.arrayValue, "datasets") {
            datasets.append(
                ManifestDataset(
                    name: try need(d["name"]?.stringValue, "datasets[].name"),
                    root: try need(d["root"]?.stringValue, "datasets[].root"),
                    format: try need(d["format"]?.stringValue, "datasets[].format"), textField: d["text_field"]?.stringValue))
        }
        var files: [ManifestFile] = []
        for (i, f) in try need(json["files"]?.arrayValue, "files").enumerated() {
            let ds = Int(try need(f["dataset"]?.intValue, "files[\(i)].dataset"))
            guard ds >= 0 && ds < datasets.count else {
                throw ManifestError("bad-header", "files[\(i)].dataset \(ds) is out of range", at: loc)
            }
            var frames: [ZstdFrameRef] = []
            for fr in f["zstd_frames"]?.arrayValue ?? [] {
                guard let a = fr.arrayValue, a.count == 2, let c = a[0].intValue, let d = a[1].intValue else {
                    throw ManifestError("bad-header", "files[\(i)].zstd_frames is malformed", at: loc)
                }
                frames.append(ZstdFrameRef(compressedOffset: c, decompressedOffset: d))
            }
            var sync: [ParquetSyncPoint] = []
            for p in f["parquet_sync"]?.arrayValue ?? [] {
                guard let a = p.arrayValue, a.count == 3, let r = a[0].intValue, let o = a[1].intValue,
                    let v = a[2].intValue, o >= 0, v >= 0
                else {
                    throw ManifestError("bad-header", "files[\(i)].parquet_sync is malformed", at: loc)
                }
                sync.append(ParquetSyncPoint(row: r, offset: o, value: v))
            }
            let filePath = try need(f["path"]?.stringValue, "files[\(i)].path")
            guard isSafeRelativePath(filePath) else {
                throw ManifestError(
                    "unsafe-path",
                    "files[\(i)].path \(JSON.string(filePath).serialized()) must be relative to its dataset root without \"..\" components; refusing to read outside the root",
                    at: loc)
            }
            files.append(
                ManifestFile(
                    dataset: ds, path: filePath,
                    format: try need(f["format"]?.stringValue, "files[\(i)].format"),
                    compression: try need(f["compression"]?.stringValue, "files[\(i)].compression"),
                    byteCount: try need(f["size"]?.intValue, "files[\(i)].size"),
                    mtimeNanoseconds: try need(f["mtime_ns"]?.intValue, "files[\(i)].mtime_ns"),
                    fingerprint: try need(f["fingerprint"]?.stringValue, "files[\(i)].fingerprint"),
                    sampleCount: try need(f["samples"]?.intValue, "files[\(i)].samples"), frames: frames,
                    parquetSync: sync))
        }
        var components: [ManifestComponent] = []
        for c in try need(json["components"]?.arrayValue, "components") {
            components.append(
                ManifestComponent(
                    name: try need(c["name"]?.stringValue, "components[].name"),
                    filter: c["filter"]?.stringValue ?? "", selected: c["selected"]?.intValue ?? 0,
                    onExhausted: c["on_exhausted"]?.stringValue ?? "stop"))
        }
        var log: [MixtureLogEntry] = []
        for e in json["mixture_log"]?.arrayValue ?? [] {
            log.append(
                MixtureLogEntry(
                    fromStep: Int(try need(e["from_step"]?.intValue, "mixture_log[].from_step")),
                    toStep: Int(try need(e["to_step"]?.intValue, "mixture_log[].to_step")),
                    counts: (e["counts"]?.arrayValue ?? []).compactMap { $0.intValue.map(Int.init) }))
        }
        let g = Int(try need(topo["global_batch"]?.intValue, "topology.global_batch"))
        let d = Int(try need(topo["data_parallel"]?.intValue, "topology.data_parallel"))
        guard g > 0, d > 0, g % d == 0 else {
            throw ManifestError("bad-header", "topology global_batch \(g) / data_parallel \(d) is invalid", at: loc)
        }
        var h = ManifestHeader(
            toolVersion: json["tool_version"]?.stringValue ?? "", specPath: json["spec_path"]?.stringValue ?? "",
            specText: json["spec"]?.stringValue ?? "",
            seed: UInt64(bitPattern: try need(json["seed"]?.intValue, "seed")),
            catalogFingerprint: json["catalog_fingerprint"]?.stringValue ?? "", globalBatch: g, dataParallel: d,
            steps: Int(try need(topo["steps"]?.intValue, "topology.steps")), datasets: datasets, files: files,
            components: components, mixtureLog: log,
            continuedFrom: json["continued_from"].flatMap { $0 == .null ? nil : $0 })
        h.formatVersion = version
        if let l = json["labels"], l != .null {
            guard let name = l.stringValue, name == LabelTableFormat.fileName else {
                throw ManifestError("bad-header", "header field labels must be \"\(LabelTableFormat.fileName)\"", at: loc)
            }
            h.labels = name
        }
        return h
    }
}

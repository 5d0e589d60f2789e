import Dispatch
import MixteraCatalog
import MixteraCore
import MixteraFormats
import MixteraSpec

public struct ScanOptions: Sendable {
    /// Files scanned in parallel (default: all cores).
    public var jobs: Int
    /// Index this shard `(i, n)` of the files only: those whose XXH3(dataset + "/" + path) mod n == i.
    public var shard: (index: Int, count: Int)?

    public init(jobs: Int = 0, shard: (index: Int, count: Int)? = nil) {
        self.jobs = jobs
        self.shard = shard
    }
}

public struct DatasetScanReport: Sendable {
    public var name: String
    public var files = 0
    public var scanned = 0
    public var unchanged = 0
    public var removed = 0
    public var samples: Int64 = 0
    public var skippedRecords: Int64 = 0
    public var bytesScanned: Int64 = 0
}

public struct ScanReport: Sendable {
    public var datasets: [DatasetScanReport] = []
    /// Records skipped under `on_error: skip` (first problems, up to 20 per file).
    public var problems: [FormatError] = []
    public var seconds: Double = 0
}

/// `mixtera scan`: formats → catalog.
public enum Ingest {
    /// Scans every dataset of `spec` into the catalog at `catalogPath` (created if needed).
    /// Unchanged files (same size, mtime and property declarations) are skipped without reading;
    /// changed files are re-indexed; vanished files are marked removed. Files are scanned in parallel
    /// and committed one transaction each, in sorted order, so the catalog is identical for any `jobs`.
    /// - Throws: `CatalogError` (locked: exit 75), `FormatError`, `IngestError`.
    public static func scan(
        spec: DatasetSpec, catalogPath: String, options: ScanOptions = ScanOptions(),
        progress: (@Sendable (String) -> Void)? = nil
    ) throws -> ScanReport {
        let start = monotonicSeconds()
        let catalog = try Catalog(path: catalogPath, create: true)
        let lock = try catalog.lockForWriting()
        defer { lock.release() }
        var report = ScanReport()
        let jobs = options.jobs > 0 ? options.jobs : max(1, Int(sysconfNProcessors()))
        for dataset in spec.datasets {
            var dr = DatasetScanReport(name: dataset.name)
            let props = dataset.properties.map { CatalogProperty(name: $0.name, type: $0.type, source: sourceText($0.source)) }
            let propsHash = propertiesHash(dataset)
            let datasetID = try catalog.upsertDataset(
                name: dataset.name, root: dataset.root, format: dataset.format.rawValue, textField: dataset.text,
                tokensField: dataset.tokens, properties: props, propertiesHash: propsHash)
            var found = try FileDiscovery.list(dataset)
            if let shard = options.shard {
                found = found.filter { shardOf(dataset: dataset.name, path: $0.relativePath, count: shard.count) == shard.index }
            }
            let existing = try catalog.files(datasetID: datasetID)
            var byPath: [String: CatalogFile] = [:]
            for f in existing { byPath[f.relativePath] = f }
            var todo: [FileDiscovery.Found] = []
            for f in found {
                if let old = byPath[f.relativePath], old.state == .ok, old.byteCount == f.stat.byteCount,
                    old.mtimeNanoseconds == f.stat.mtimeNanoseconds, old.propertiesHash == propsHash
                {
                    dr.unchanged += 1
                    dr.samples += old.sampleCount
                    dr.skippedRecords += old.skippedCount
                } else {
                    todo.append(f)
                }
            }
            dr.files = found.count
            let foundPaths = Set(found.map(\.relativePath))
            let vanished = existing.filter { $0.state == .ok && !foundPaths.contains($0.relativePath) }
            let inShard: (CatalogFile) -> Bool = { f in
                guard let shard = options.shard else { return true }
                return shardOf(dataset: dataset.name, path: f.relativePath, count: shard.count) == shard.index
            }
            let removed = vanished.filter(inShard)
            try catalog.markRemoved(fileIDs: removed.map(\.id))
            dr.removed = removed.count
            // Scan in parallel batches; commit in sorted order.
            var i = 0
            let batch = max(jobs * 2, 4)
            while i < todo.count {
                let slice = Array(todo[i..<min(todo.count, i + batch)])
                let results = parallelMap(slice, jobs: jobs) { f in
                    Result { () throws(FormatError) -> (FileScanResult, String) in
                        try scanFile(dataset: dataset, relativePath: f.relativePath)
                    }
                }
                for (f, r) in zip(slice, results) {
                    let (result, fingerprint) = try r.get()
                    let format = detectFormat(dataset.format, f.relativePath)
                    // Parquet compresses pages inside the file: the file itself is never a compressed stream.
                    let compression = format == .parquet ? .none : StreamCompression.detect(path: f.relativePath)
                    let file = CatalogFile(
                        datasetID: datasetID, relativePath: f.relativePath, format: format.rawValue,
                        compression: compression.rawValue, byteCount: f.stat.byteCount,
                        mtimeNanoseconds: f.stat.mtimeNanoseconds, fingerprint: fingerprint,
                        sampleCount: Int64(result.sampleCount), skippedCount: Int64(result.skippedRecords),
                        propertiesHash: propsHash)
                    let index = FileIndex(
                        sampleCount: result.sampleCount, sampleKeys: result.sampleKeys, locatorKind: result.locatorKind,
                        byteOffsets: result.byteOffsets, byteLengths: result.byteLengths, textBytes: result.textBytes,
                        tokens: result.tokens, numericColumns: result.numericColumns, frames: result.frames,
                        parquetSync: result.parquetSync)
                    try catalog.storeFile(file, localKeys: result.keyTable, index: index)
                    dr.scanned += 1
                    dr.samples += Int64(result.sampleCount)
                    dr.skippedRecords += Int64(result.skippedRecords)
                    dr.bytesScanned += f.stat.byteCount
                    report.problems.append(contentsOf: result.problems)
                }
                i += batch
                progress?("\(dataset.name): \(min(i, todo.count))/\(todo.count) files scanned")
            }
            report.datasets.append(dr)
        }
        report.seconds = monotonicSeconds() - start
        return report
    }

    static func scanFile(dataset: DatasetDecl, relativePath: String) throws(FormatError) -> (FileScanResult, String) {
        let path = dataset.root + "/" + relativePath
        let format = detectFormat(dataset.format, relativePath)
        let result: FileScanResult
        switch format {
        case .jsonl:
            let scanner = try JSONLScanner(dataset: dataset, relativePath: relativePath)
            result = try scanner.scan(path: path, displayPath: path)
        case .parquet:
            let scanner = try ParquetScanner(dataset: dataset, relativePath: relativePath)
            result = try scanner.scan(path: path, displayPath: path)
        case .webdataset:
            let scanner = try WebDatasetScanner(dataset: dataset, relativePath: relativePath)
            result = try scanner.scan(path: path, displayPath: path)
        case .auto:
            // detectFormat never returns .auto.
            throw FormatError(.unsupported, "cannot tell the format of this file", at: DataLocation(path: path))
        }
        if let fp = result.fingerprint { return (result, result.fingerprintPrefix + XXH3.hex(fp)) }
        do { return (result, XXH3.hex(try FileSystem.fingerprint(path: path))) } catch { throw FormatError(error) }
    }

    /// The format of a file: the dataset's, or by extension under `auto` (`.parquet` → parquet; `.tar`,
    /// `.tar.gz`, `.tar.zst`, `.tar.xz`, `.tar.bz2` → webdataset; everything else → jsonl).
    static func detectFormat(_ declared: DatasetFormat, _ path: String) -> DatasetFormat {
        if declared != .auto { return declared }
        var p = path
        for ext in [".zst", ".zstd", ".gz", ".xz", ".bz2"] where p.hasSuffix(ext) {
            p.removeLast(ext.count)
            break
        }
        if p.hasSuffix(".parquet") { return .parquet }
        if p.hasSuffix(".tar") { return .webdataset }
        return .jsonl
    }

    static func shardOf(dataset: String, path: String, count: Int) -> Int {
        Int(XXH3.hash(Array((dataset + "/" + path).utf8)) % UInt64(count))
    }

    static func sourceText(_ s: PropertySource) -> String {
        switch s {
        case .field(let p): return "path:" + p
        case .fromPath(let pattern, let capture): return "from_path:" + pattern + "#" + capture
        }
    }

    /// Hash of everything in the dataset declaration that affects a file's index.
    static func propertiesHash(_ d: DatasetDecl) -> String {
        var w = ByteWriter()
        w.write("v1|\(d.format.rawValue)|\(d.text ?? "-")|\(d.tokens ?? "-")|\(d.onError.rawValue)|\(d.maxLineBytes)".utf8)
        // Parquet text columns' indexes carry sync points since index "pqsync1": files indexed before are scanned
        // again once, so that replay can use them.
        if d.text != nil && (d.format == .parquet || d.format == .auto) { w.write("|pqsync1".utf8) }
        for p in d.properties {
            w.write("|\(p.name):\(p.type.rawValue):\(sourceText(p.source)):\(p.nullable)".utf8)
            if let def = p.defaultValue { w.write(CategoricalEncoding.encode(def)) }
        }
        return XXH3.hex(XXH3.hash(w.bytes))
    }
}

/// Maps `items` with up to `jobs` threads; results keep input order.
func parallelMap<T: Sendable, R: Sendable>(_ items: [T], jobs: Int, _ body: @Sendable (T) -> R) -> [R] {
    if jobs <= 1 || items.count <= 1 { return items.map(body) }
    let results = UnsafeMutableBufferPointer<R?>.allocate(capacity: items.count)
    results.initialize(repeating: nil)
    // Deinitialize before deallocating: otherwise every batch's results (whole file indexes) leak.
    defer {
        _ = results.deinitialize()
        results.deallocate()
    }
    nonisolated(unsafe) let out = results
    let next = AtomicCounter()
    DispatchQueue.concurrentPerform(iterations: min(jobs, items.count)) { _ in
        while true {
            let i = next.increment()
            if i >= items.count { break }
            out[i] = body(items[i])
        }
    }
    return results.map { $0! }
}

final class AtomicCounter: @unchecked Sendable {
    private var value = 0
    private let queue = DispatchQueue(label: "mixtera.counter")
    func increment() -> Int {
        queue.sync {
            defer { value += 1 }; return value
        }
    }
}

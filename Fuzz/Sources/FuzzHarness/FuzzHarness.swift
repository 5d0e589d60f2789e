// Fuzz harness bodies: one function per decoder, each feeding arbitrary bytes through the public
// API exactly as a scan or a replay would. A harness must only ever see typed errors; a crash, a
// hang or a sanitizer report is a bug.
//
// Shared by the libFuzzer executables in Fuzz/ (scripts/fuzz.sh) and, through a symlink, by
// Tests/MixteraIntegrationTests/FuzzHarness.swift, which replays the seed corpora, every crash file
// under fixtures/bad/fuzz/<target>/ and a deterministic mutation fuzzer through the same code.
import MixteraCore
import MixteraFormats
import MixteraManifest
import MixteraParquet
import MixteraPlanner
import MixteraSpec

#if canImport(Glibc)
    import Glibc
#endif

public enum FuzzHarness {
    /// The fuzz targets: name → harness. The names are the `Fuzz*` executables without the prefix
    /// and the folders under fixtures/bad/fuzz/.
    public static let targets: [(name: String, run: @Sendable ([UInt8], String) -> Void)] = [
        ("jsonl", { jsonl($0, scratch: $1) }),
        ("parquet", { parquet($0, scratch: $1) }),
        ("tar", { tar($0, scratch: $1) }),
        ("manifest", { manifest($0, scratch: $1) }),
        ("query", { bytes, _ in query(bytes) }),
    ]

    /// Seed corpus folders (relative to the package root) for each target; scripts/fuzz.sh and the
    /// replay tests use them.
    public static let seedFolders: [String: [String]] = [
        "jsonl": ["fixtures/jsonl/corpus/web", "fixtures/jsonl/corpus/github", "fixtures/bad/jsonl"],
        "parquet": ["fixtures/parquet", "fixtures/bad/parquet"],
        "tar": ["fixtures/wds", "fixtures/bad/wds"],
        "manifest": [
            "Tests/MixteraManifestTests/Golden/example", "Tests/MixteraManifestTests/Golden/example-1.2",
            "fixtures/bad/manifests",
        ],
        "query": ["fixtures/seeds/query"],
    ]

    /// A scratch path unique to this process, for the libFuzzer executables.
    public static var processScratch: String { "/tmp/mixtera-fuzz-\(getpid())" }

    static func writeScratch(_ bytes: [UInt8], _ path: String) -> Bool {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + done, $0.count - done) }
            if n <= 0 { return false }
            done += n
        }
        return true
    }

    static func dataset(_ yaml: String) -> DatasetDecl {
        do { return try DatasetSpec.parse(text: yaml, path: "/fuzz/datasets.yaml").datasets[0] } catch {
            fatalError("fuzz harness spec does not parse: \(error)")
        }
    }

    static let jsonlDataset = dataset(
        """
        datasets:
          - name: fuzz
            root: /fuzz
            format: jsonl
            include: ["*.jsonl"]
            text: text
            tokens: token_count
            on_error: fail
            max_line_bytes: 1048576
            properties:
              language: {path: meta.language, type: string}
              tags:     {path: meta.tags, type: list<string>}
              quality:  {path: quality, type: float}
              year:     {path: meta.year, type: int, default: 0}
              flag:     {path: "meta.flags[0]", type: bool, nullable: true}
              any:      {path: "langs[*].name", type: list<string>}
        """)

    static let jsonlSkipDataset: DatasetDecl = {
        var d = jsonlDataset
        d.onError = .skip
        return d
    }()

    /// JSONL: the scanner's line splitter and field extractor (fail and skip modes).
    public static func jsonl(_ bytes: [UInt8], scratch: String) {
        let path = scratch + ".jsonl"
        guard writeScratch(bytes, path) else { return }
        defer { unlink(path) }
        for ds in [jsonlDataset, jsonlSkipDataset] {
            do {
                let scanner = try JSONLScanner(dataset: ds, relativePath: "fuzz.jsonl")
                _ = try scanner.scan(path: path, displayPath: "fuzz.jsonl")
            } catch {
                check(error)
            }
        }
    }

    static let parquetDataset = dataset(
        """
        datasets:
          - name: fuzz
            root: /fuzz
            format: parquet
            include: ["*.parquet"]
            text: text
            on_error: skip
            properties:
              source:   {path: meta.source, type: string, default: unknown}
              tags:     {path: tags, type: list<string>}
              flag:     {path: flag, type: bool, nullable: true}
              score:    {path: score, type: float}
              id:       {path: id, type: int}
        """)

    /// Parquet: footer (Thrift), page headers, codecs, level and value decoders, record assembly.
    public static func parquet(_ bytes: [UInt8], scratch: String) {
        let path = scratch + ".parquet"
        guard writeScratch(bytes, path) else { return }
        defer { unlink(path) }
        do {
            let file = try ParquetFile(path: path)
            for column in file.schema.columns.prefix(16) {
                for g in 0..<min(file.rowGroups.count, 4) {
                    do { _ = try file.readColumn(column, rowGroup: g) } catch { check(error) }
                }
            }
            if file.rowCount > 0 {
                _ = try file.readRowsAsJSON(0..<min(file.rowCount, 64))
            }
        } catch {
            check(error)
        }
        sparseParquet(path)
        do {
            let scanner = try ParquetScanner(dataset: parquetDataset, relativePath: "fuzz.parquet")
            _ = try scanner.scan(path: path, displayPath: "fuzz.parquet")
        } catch {
            check(error)
        }
    }

    /// Replay's sparse reads of flat byte-array pages: data pages, dictionary pages and the rows of
    /// dictionary-encoded pages, each read whole, row by row and resumed across runs.
    static func sparseParquet(_ path: String) {
        guard let file = try? ParquetFile(path: path, mode: .map) else { return }
        let window = ParquetSparseWindow()
        for column in file.schema.columns.prefix(16) where ParquetFile.isFlatByteArray(column) {
            for g in 0..<min(file.rowGroups.count, 4) {
                let pages = (file.pageRowStarts(column, rowGroup: g) ?? []).prefix(8)
                let dictionary: ParquetSparseByteArrayPage?
                do { dictionary = try file.sparseDictionaryPage(column, rowGroup: g, scratch: window) } catch {
                    check(error)
                    dictionary = nil
                }
                for k in pages.indices {
                    do {
                        if let p = try file.sparseByteArrayPage(column, rowGroup: g, page: k, scratch: window) {
                            for range in [0..<p.rowCount, 0..<min(1, p.rowCount), min(2, p.rowCount)..<p.rowCount] {
                                try file.withSparseRows(column, rowGroup: g, page: p, rows: range, window: window) { _, _ in }
                            }
                        }
                        if let dictionary,
                            let rows = try file.sparseDictionaryRows(column, rowGroup: g, page: k, dictionary: dictionary)
                        {
                            try file.withSparseRows(column, rowGroup: g, rows: rows, range: 0..<rows.rowCount, window: window) {
                                _, _ in
                            }
                        }
                    } catch {
                        check(error)
                    }
                }
                syncedParquet(file, column, rowGroup: g, pages: pages.count, window: window)
            }
        }
    }

    /// Replay's reads from scan-time sync points, with the points the scan records and with points moved off
    /// (they must fail or read within the page, never crash).
    static func syncedParquet(
        _ file: ParquetFile, _ column: ParquetColumnDescriptor, rowGroup g: Int, pages: Int, window: ParquetSparseWindow
    ) {
        var points: [ParquetSyncPoint] = []
        do { _ = try file.byteArrayRowLengths(column, rowGroup: g, syncPoints: &points) } catch {
            check(error)
            return
        }
        let moved = points.enumerated().map { i, p in
            ParquetSyncPoint(row: p.row, offset: p.offset + Int64(i % 3), value: p.value + Int64(i % 5 == 1 ? 1 : 0))
        }
        for set in [points, moved] {
            do {
                if let d = try file.syncedDictionaryPage(column, rowGroup: g, syncPoints: set) {
                    _ = file.withSyncedRows(d, rows: 0..<d.rowCount, window: window) { _, _ in }
                    _ = file.withSyncedRows(d, rows: d.rowCount / 2..<d.rowCount, window: window) { _, _ in }
                    for k in 0..<pages {
                        _ = try file.dictionaryIndices(column, rowGroup: g, page: k, count: d.rowCount)
                    }
                }
                for k in 0..<pages {
                    guard let p = try file.syncedByteArrayPage(column, rowGroup: g, page: k, syncPoints: set[...]) else {
                        continue
                    }
                    for range in [0..<p.rowCount, p.rowCount / 2..<p.rowCount, 0..<min(1, p.rowCount)] {
                        _ = file.withSyncedRows(p, rows: range, window: window) { _, _ in }
                    }
                }
            } catch {
                check(error)
            }
        }
    }

    static let tarDataset = dataset(
        """
        datasets:
          - name: fuzz
            root: /fuzz
            format: webdataset
            include: ["*.tar"]
            text: txt
            on_error: skip
            properties:
              source:  {path: "json:source", type: string, default: other}
              id:      {path: "json:id", type: int, default: -1}
              label:   {path: cls, type: int, default: -1}
        """)

    /// Tar: header parsing (ustar, GNU, pax), the member walk, data reads and sample grouping.
    public static func tar(_ bytes: [UInt8], scratch: String) {
        let path = scratch + ".tar"
        guard writeScratch(bytes, path) else { return }
        defer { unlink(path) }
        do {
            let walker = try TarWalker(path: path)
            var n = 0
            while let member = try walker.next(), n < 10_000 {
                n += 1
                if member.byteCount <= 1 << 16 { _ = try walker.readData(maxByteCount: 1 << 16) }
            }
        } catch {
            check(error)
        }
        do {
            let scanner = try WebDatasetScanner(dataset: tarDataset, relativePath: "fuzz.tar")
            _ = try scanner.scan(path: path, displayPath: "fuzz.tar")
        } catch {
            check(error)
        }
    }

    /// Manifest: `header.json` decoding, rank files (table, blocks, entries) and `labels.bin`. The input is
    /// used as a header, as a rank file (whose label entries resolve through the table of the 1.2 worked
    /// example) and as a `labels.bin` checked against that example's header.
    public static func manifest(_ bytes: [UInt8], scratch: String) {
        do { _ = try ManifestHeader.decode(bytes, path: "header.json") } catch { check(error) }
        do {
            try LabelTable(bytes: bytes, path: "labels.bin", header: labelled.header, headerHash: labelled.hash).verifyAll()
        } catch {
            check(error)
        }
        let path = scratch + ".bin"
        guard writeScratch(bytes, path) else { return }
        defer { unlink(path) }
        do {
            let reader = try RankFileReader(path: path)
            if reader.labelEntries { reader.labels = labelled.table }
            for step in 0..<min(reader.stepCount, 64) { _ = try reader.entries(step: step) }
        } catch {
            check(error)
        }
    }

    /// The header and label table of docs/manifest-format.md §8.1 (Tests/MixteraManifestTests/Golden/example-1.2).
    static let labelled: (header: ManifestHeader, hash: UInt64, table: LabelTable) = {
        var h = ManifestHeader(
            toolVersion: "0.1.0", specPath: "build.yaml", specText: "seed: 7\n", seed: 7,
            catalogFingerprint: "0123456789abcdef", globalBatch: 4, dataParallel: 2, steps: 2,
            datasets: [ManifestDataset(name: "web", root: "/data/web", format: "jsonl", textField: "text")],
            files: [
                ManifestFile(
                    dataset: 0, path: "a.jsonl", format: "jsonl", compression: "none", byteCount: 1000,
                    mtimeNanoseconds: 1_700_000_000_000_000_000, fingerprint: "00000000000000aa", sampleCount: 10),
                ManifestFile(
                    dataset: 0, path: "b.jsonl", format: "jsonl", compression: "none", byteCount: 500,
                    mtimeNanoseconds: 1_700_000_000_000_000_000, fingerprint: "00000000000000bb", sampleCount: 5),
            ],
            components: [
                ManifestComponent(name: "a", filter: "true", selected: 5, onExhausted: "stop"),
                ManifestComponent(name: "b", filter: "true", selected: 5, onExhausted: "stop"),
            ],
            mixtureLog: [MixtureLogEntry(fromStep: 0, toStep: 1, counts: [2, 2])])
        h.formatVersion = "1.2"
        h.labels = LabelTableFormat.fileName
        let table = LabelTable(
            interval: 4, radix: 3, fileCount: 2,
            files: [(0, FileLabels(labels: [1, 2, 1, 1, 2, 0, 1, 2, 1, 2], checkpoints: [0, 400, 800], interval: 4))])
        return (h, XXH3.hash(h.encoded()), table)
    }()

    static let querySchema = QuerySchema([
        ("language", .string), ("langs", .stringList), ("quality", .float), ("year", .int), ("flag", .bool),
        ("source", .string), ("tokens", .int),
    ])

    /// Query: lexer, parser (nesting limit), type checker, rendering and partial evaluation.
    public static func query(_ bytes: [UInt8]) {
        let text = String(decoding: bytes, as: UTF8.self)
        do {
            let q = try CompiledQuery.compile(text, schema: querySchema, at: DataLocation(path: "q", line: 1, column: 1))
            _ = q.description
            _ = q.evaluate { i in
                switch querySchema[i].type {
                case .string: return .string("en")
                case .stringList: return .stringList(["en", "de"])
                case .float: return .float(0.5)
                case .int: return .int(2020)
                case .bool: return .bool(true)
                }
            }
            _ = q.evaluate { _ in .null }
        } catch {
            check(error)
        }
    }

    /// Every error must be a located, kinded `MixteraError` with a one-line message.
    static func check(_ error: any Error) {
        guard let e = error as? any MixteraError else { fatalError("untyped error: \(error)") }
        if e.kind.isEmpty || e.message.contains("\n") { fatalError("malformed error: \(e.kind): \(e.message)") }
    }
}

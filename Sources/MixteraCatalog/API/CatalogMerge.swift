import MixteraCore
import MixteraSpec

#if canImport(Glibc)
    import Glibc
#endif

/// What `Catalog.merge` did.
public struct CatalogMergeReport: Sendable {
    public struct Dataset: Sendable {
        public var name: String
        public var files = 0
        public var removedFiles = 0
        public var samples: Int64 = 0
    }
    public var parts = 0
    public var datasets: [Dataset] = []
    /// Files present (identically) in more than one part.
    public var duplicates = 0
    public var keys = 0
}

extension Catalog {
    /// Combines partial catalogs (from `scan --shard I/N`) into a new catalog at `out` whose content
    /// is identical to a single-machine scan: datasets in the parts' order (the spec's), files in
    /// bytewise path order, keys interned in first-seen sample order, blobs rewritten with the new
    /// key ids. Written to `<out>.tmp` in one transaction and renamed over `out` at the end.
    /// - Throws: `CatalogError`: `.usage` without parts; `.cannotCreate` when `out` exists; `.data`
    ///   when the parts' datasets or property declarations disagree, or one file differs between parts.
    @discardableResult
    public static func merge(parts: [String], into out: String) throws(CatalogError) -> CatalogMergeReport {
        guard !parts.isEmpty else { throw CatalogError("no-parts", "no partial catalogs to merge", category: .usage) }
        if (try? FileSystem.stat(out)) ?? nil != nil {
            throw CatalogError(
                "exists", "output catalog exists; merge writes a new catalog", category: .cannotCreate,
                at: DataLocation(path: out))
        }
        let catalogs = try parts.map { p throws(CatalogError) in try Catalog(path: p, create: false) }
        // Datasets: identical declarations in every part; order from the first part's ids (spec order).
        let declared = try catalogs.map { c throws(CatalogError) in try c.datasets().sorted { $0.id < $1.id } }
        let reference = declared[0]
        for (pi, ds) in declared.enumerated().dropFirst() {
            let a = reference.map(Self.declaration).sorted()
            let b = ds.map(Self.declaration).sorted()
            if a != b {
                let names = Set(reference.map(\.name)).symmetricDifference(ds.map(\.name))
                let what =
                    names.isEmpty
                    ? "dataset declarations differ (root, format, text/tokens fields or properties)"
                    : "datasets differ (\(names.sorted().joined(separator: ", ")))"
                throw CatalogError(
                    "parts-disagree", "\(what) from \(parts[0]); scan every part with the same spec",
                    at: DataLocation(path: parts[pi]))
            }
        }
        for p in [out + ".tmp", out + ".tmp-wal", out + ".tmp-shm"] { unlink(p) }
        var report = CatalogMergeReport()
        report.parts = parts.count
        do {
            let merged = try Catalog(path: out + ".tmp", create: true)
            let lock = try merged.lockForWriting()
            defer {
                lock.release()
                unlink(out + ".tmp.lock")
            }
            try merged.db.transaction { () throws(CatalogError) in
                for d in reference {
                    var dr = CatalogMergeReport.Dataset(name: d.name)
                    let id = try merged.upsertDataset(
                        name: d.name, root: d.root, format: d.format, textField: d.textField, tokensField: d.tokensField,
                        properties: d.properties, propertiesHash: d.propertiesHash)
                    // Every part's files of this dataset, sorted bytewise by path (stable by part).
                    var entries: [(path: [UInt8], part: Int, file: CatalogFile)] = []
                    var partKeys: [[UInt32: [UInt8]]] = []
                    for (pi, c) in catalogs.enumerated() {
                        guard let pd = declared[pi].first(where: { $0.name == d.name }) else {
                            throw CatalogError(
                                "parts-disagree", "dataset \(d.name) is missing", at: DataLocation(path: parts[pi]))
                        }
                        for f in try c.files(datasetID: pd.id) { entries.append((Array(f.relativePath.utf8), pi, f)) }
                        var keys: [UInt32: [UInt8]] = [:]
                        let s = try c.db.statement("SELECT id, encoded FROM keys WHERE dataset_id = ?")
                        s.bind([.int(pd.id)])
                        while try s.step() { keys[UInt32(s.int(0))] = s.blob(1) }
                        partKeys.append(keys)
                    }
                    entries.sort { a, b in
                        a.path != b.path ? a.path.lexicographicallyPrecedes(b.path) : a.part < b.part
                    }
                    var i = 0
                    while i < entries.count {
                        let e = entries[i]
                        let index = try catalogs[e.part].index(of: e.file)
                        var j = i + 1
                        while j < entries.count && entries[j].path == e.path {
                            let o = entries[j]
                            let other = try catalogs[o.part].index(of: o.file)
                            if !Self.sameFile(e.file, index, partKeys[e.part], o.file, other, partKeys[o.part]) {
                                throw CatalogError(
                                    "parts-overlap",
                                    "\(d.name)/\(e.file.relativePath) differs between \(parts[e.part]) and \(parts[o.part]); rescan one of them",
                                    at: DataLocation(path: parts[o.part]))
                            }
                            report.duplicates += 1
                            j += 1
                        }
                        // Local key table in first-seen sample order, encoded as the part stored it.
                        var local: [UInt32: UInt32] = [:]
                        var localKeys: [[PropertyValue]] = []
                        var remapped = index
                        for (r, k) in index.sampleKeys.enumerated() {
                            if let l = local[k] {
                                remapped.sampleKeys[r] = l
                                continue
                            }
                            guard let enc = partKeys[e.part][k] else {
                                throw CatalogError(
                                    "corrupt",
                                    "index of \(d.name)/\(e.file.relativePath) refers to a missing key; rescan the part",
                                    at: DataLocation(path: parts[e.part]))
                            }
                            let l = UInt32(localKeys.count)
                            local[k] = l
                            localKeys.append(Self.decodeKey(enc))
                            remapped.sampleKeys[r] = l
                        }
                        var file = e.file
                        file.datasetID = id
                        try merged.storeFileRow(file, localKeys: localKeys, index: remapped)
                        if e.file.state == .ok {
                            dr.files += 1
                            dr.samples += e.file.sampleCount
                        } else {
                            dr.removedFiles += 1
                        }
                        i = j
                    }
                    report.datasets.append(dr)
                }
                let s = try merged.db.statement("SELECT count(*) FROM keys")
                _ = try s.step()
                report.keys = Int(s.int(0))
                s.reset()
            }
        }
        if rename(out + ".tmp", out) != 0 {
            throw CatalogError(
                "io", "cannot rename the merged catalog into place: \(String(cString: strerror(errno)))", category: .cannotCreate,
                at: DataLocation(path: out))
        }
        return report
    }

    private static func declaration(_ d: CatalogDataset) -> String {
        var s =
            "\(d.name)\u{0}\(d.root)\u{0}\(d.format)\u{0}\(d.textField ?? "\u{1}")\u{0}\(d.tokensField ?? "\u{1}")\u{0}\(d.propertiesHash ?? "\u{1}")"
        for p in d.properties { s += "\u{0}\(p.name):\(p.type.rawValue):\(p.source)" }
        return s
    }

    /// Same file row (ids aside) and the same index with keys compared by their encodings.
    private static func sameFile(
        _ a: CatalogFile, _ ai: FileIndex, _ ak: [UInt32: [UInt8]], _ b: CatalogFile, _ bi: FileIndex, _ bk: [UInt32: [UInt8]]
    ) -> Bool {
        var a2 = a
        a2.id = b.id
        a2.datasetID = b.datasetID
        guard a2 == b else { return false }
        var x = ai
        var y = bi
        x.sampleKeys = []
        y.sampleKeys = []
        guard x == y, ai.sampleKeys.count == bi.sampleKeys.count else { return false }
        for (p, q) in zip(ai.sampleKeys, bi.sampleKeys) where ak[p] == nil || ak[p] != bk[q] { return false }
        return true
    }
}

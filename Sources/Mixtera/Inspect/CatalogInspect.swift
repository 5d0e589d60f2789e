import MixteraCatalog
import MixteraCore
import MixteraPlanner
import MixteraSpec

/// `mixtera catalog …`: stats, samples, files.
public enum CatalogInspect {
    static func json(_ v: PropertyValue) -> JSON {
        switch v {
        case .null: return .null
        case .string(let s): return .string(s)
        case .int(let i): return .int(i)
        case .float(let d): return .double(d)
        case .bool(let b): return .bool(b)
        case .stringList(let l): return .array(l.map { .string($0) })
        }
    }

    /// Calls `body` with one JSON object per sample, in (dataset, file, row) order:
    /// `{"dataset", "file", "row", "properties": {…}}` (properties in declared order).
    public static func samples(
        catalogPath: String, dataset: String?, file: String?, filter: String?, limit: Int?, _ body: (JSON) -> Void
    ) throws {
        let catalog = try Catalog(path: catalogPath, create: false)
        let datasets = try catalog.datasets()
        if let dataset, !datasets.contains(where: { $0.name == dataset }) {
            throw CatalogError(
                "unknown-dataset",
                "unknown dataset \"\(dataset)\" (known: \(datasets.map(\.name).joined(separator: ", ")))", category: .usage)
        }
        var emitted = 0
        for ds in datasets where dataset == nil || ds.name == dataset {
            let schema = QuerySchema(
                [("dataset", .string)] + ds.properties.filter { $0.name != "dataset" }.map { ($0.name, $0.type) })
            let query: CompiledQuery
            do { query = try CompiledQuery.compile(filter ?? "true", schema: schema, at: nil) } catch {
                throw PlanError(error.kind, error.message, at: error.location)
            }
            var keys: [UInt32: [PropertyValue]] = [:]
            for k in try catalog.keys(datasetID: ds.id) { keys[k.id] = k.values }
            let cats = ds.categorical.map(\.name)
            let nums = ds.numeric.map(\.name)
            for f in try catalog.files(datasetID: ds.id) where f.state == .ok && (file == nil || f.relativePath == file) {
                let index = try catalog.index(of: f)
                for row in 0..<index.sampleCount {
                    if let limit, emitted >= limit { return }
                    let values = keys[index.sampleKeys[row]] ?? []
                    let value: (String) -> PropertyValue = { name in
                        if name == "dataset" && !ds.properties.contains(where: { $0.name == "dataset" }) {
                            return .string(ds.name)
                        }
                        if let i = cats.firstIndex(of: name) { return i < values.count ? values[i] : .null }
                        if let i = nums.firstIndex(of: name) { return index.numericColumns[i].value(at: row) }
                        return .null
                    }
                    if filter != nil && !query.evaluate({ value(schema[$0].name) }) { continue }
                    let props: [(String, JSON)] = ds.properties.map { ($0.name, json(value($0.name))) }
                    body(
                        .object([
                            ("dataset", .string(ds.name)), ("file", .string(f.relativePath)), ("row", .int(Int64(row))),
                            ("properties", .object(props)),
                        ]))
                    emitted += 1
                }
            }
        }
    }

    /// Per dataset file/sample/byte counts, and per property value counts (categorical) or
    /// min/max/mean (numeric). Values are sorted by count descending, then bytewise.
    public static func stats(catalogPath: String) throws -> JSON {
        let catalog = try Catalog(path: catalogPath, create: false)
        var out: [JSON] = []
        for ds in try catalog.datasets() {
            var keyCounts: [UInt32: Int64] = [:]
            var files = 0
            var removed = 0
            var samples: Int64 = 0
            var bytes: Int64 = 0
            var textBytes: Int64 = 0
            var tokens: Int64 = 0
            var hasTokens = false
            var numStats = ds.numeric.map { _ in
                (min: Double.infinity, max: -Double.infinity, sum: 0.0, n: Int64(0), nulls: Int64(0))
            }
            for f in try catalog.files(datasetID: ds.id) {
                if f.state != .ok {
                    removed += 1
                    continue
                }
                files += 1
                samples += f.sampleCount
                bytes += f.byteCount
                let index = try catalog.index(of: f)
                for k in index.sampleKeys { keyCounts[k, default: 0] += 1 }
                textBytes += index.textBytes.reduce(0, +)
                if let t = index.tokens {
                    hasTokens = true
                    tokens += t.reduce(0, +)
                }
                for (i, c) in index.numericColumns.enumerated() {
                    for r in 0..<c.count {
                        let x: Double
                        switch c.value(at: r) {
                        case .int(let v): x = Double(v)
                        case .float(let v): x = v
                        default:
                            numStats[i].nulls += 1
                            continue
                        }
                        numStats[i].min = Swift.min(numStats[i].min, x)
                        numStats[i].max = Swift.max(numStats[i].max, x)
                        numStats[i].sum += x
                        numStats[i].n += 1
                    }
                }
            }
            var keyValues: [UInt32: [PropertyValue]] = [:]
            for k in try catalog.keys(datasetID: ds.id) { keyValues[k.id] = k.values }
            var props: [JSON] = []
            var ci = 0
            var ni = 0
            for p in ds.properties {
                if p.type.isCategorical {
                    var counts: [String: (JSON, Int64)] = [:]
                    for (k, n) in keyCounts {
                        let v = keyValues[k].map { $0.count > ci ? $0[ci] : .null } ?? .null
                        let items: [PropertyValue]
                        if case .stringList(let l) = v {
                            items = l.isEmpty ? [.null] : l.map { .string($0) }
                        } else {
                            items = [v]
                        }
                        for item in items {
                            let j = json(item)
                            let key = j.serialized()
                            counts[key] = (j, (counts[key]?.1 ?? 0) + n)
                        }
                    }
                    let sorted = counts.values.sorted { a, b in
                        a.1 != b.1 ? a.1 > b.1 : Array(a.0.serialized().utf8).lexicographicallyPrecedes(b.0.serialized().utf8)
                    }
                    props.append(
                        .object([
                            ("name", .string(p.name)), ("type", .string(p.type.rawValue)), ("source", .string(p.source)),
                            ("distinct", .int(Int64(sorted.count))),
                            ("values", .array(sorted.map { .object([("value", $0.0), ("count", .int($0.1))]) })),
                        ]))
                    ci += 1
                } else {
                    let s = numStats[ni]
                    props.append(
                        .object([
                            ("name", .string(p.name)), ("type", .string(p.type.rawValue)), ("source", .string(p.source)),
                            ("min", s.n > 0 ? .double(s.min) : .null), ("max", s.n > 0 ? .double(s.max) : .null),
                            ("mean", s.n > 0 ? .double(s.sum / Double(s.n)) : .null), ("nulls", .int(s.nulls)),
                        ]))
                    ni += 1
                }
            }
            out.append(
                .object([
                    ("name", .string(ds.name)), ("root", .string(ds.root)), ("format", .string(ds.format)),
                    ("files", .int(Int64(files))), ("removed_files", .int(Int64(removed))), ("samples", .int(samples)),
                    ("bytes", .int(bytes)), ("text_bytes", .int(textBytes)), ("tokens", hasTokens ? .int(tokens) : .null),
                    ("properties", .array(props)),
                ]))
        }
        return .object([
            ("catalog", .string(catalogPath)), ("fingerprint", .string(try catalog.contentFingerprint())),
            ("index_bytes", .int(try catalog.indexBytes())), ("datasets", .array(out)),
        ])
    }

    public static func files(catalogPath: String) throws -> [JSON] {
        let catalog = try Catalog(path: catalogPath, create: false)
        var out: [JSON] = []
        for ds in try catalog.datasets() {
            for f in try catalog.files(datasetID: ds.id) {
                out.append(
                    .object([
                        ("dataset", .string(ds.name)), ("file", .string(f.relativePath)), ("format", .string(f.format)),
                        ("compression", .string(f.compression)), ("size", .int(f.byteCount)),
                        ("mtime_ns", .int(f.mtimeNanoseconds)),
                        ("fingerprint", .string(f.fingerprint)), ("samples", .int(f.sampleCount)),
                        ("skipped", .int(f.skippedCount)), ("state", .string(f.state.rawValue)),
                    ]))
            }
        }
        return out
    }

    /// Properties of given rows of one file, for lineage (`which --catalog`).
    public static func properties(catalogPath: String) throws -> (String, String, Int64) throws -> ([(String, JSON)], Int64?) {
        let catalog = try Catalog(path: catalogPath, create: false)
        let datasets = try catalog.datasets()
        var cache: [String: (CatalogDataset, FileIndex, [UInt32: [PropertyValue]])] = [:]
        var keyCache: [Int64: [UInt32: [PropertyValue]]] = [:]
        return { dataset, path, row in
            let key = dataset + "\u{0}" + path
            if cache[key] == nil {
                guard let ds = datasets.first(where: { $0.name == dataset }),
                    let f = try catalog.files(datasetID: ds.id).first(where: { $0.relativePath == path })
                else { return ([], nil) }
                if keyCache[ds.id] == nil {
                    var kv: [UInt32: [PropertyValue]] = [:]
                    for k in try catalog.keys(datasetID: ds.id) { kv[k.id] = k.values }
                    keyCache[ds.id] = kv
                }
                cache[key] = (ds, try catalog.index(of: f), keyCache[ds.id]!)
            }
            let (ds, index, keys) = cache[key]!
            guard row < index.sampleCount else { return ([], nil) }
            let values = keys[index.sampleKeys[Int(row)]] ?? []
            var ci = 0
            var ni = 0
            var props: [(String, JSON)] = []
            for p in ds.properties {
                if p.type.isCategorical {
                    props.append((p.name, json(ci < values.count ? values[ci] : .null)))
                    ci += 1
                } else {
                    props.append((p.name, json(index.numericColumns[ni].value(at: Int(row)))))
                    ni += 1
                }
            }
            return (props, index.byteOffsets[Int(row)])
        }
    }
}

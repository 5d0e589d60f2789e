import MixteraCore
import MixteraManifest

/// What differs between two manifests (`mixtera diff A B`).
public struct ManifestDiff: Sendable {
    public struct Field: Sendable {
        public var name: String
        public var a: JSON
        public var b: JSON
    }
    public struct FileChange: Sendable {
        public var dataset: String
        public var path: String
        /// Changed fields: size, mtime_ns, fingerprint, samples, format, compression.
        public var fields: [Field]
    }
    public struct RankDiff: Sendable {
        public var rank: Int
        public var identical: Bool
        /// The rank file exists in A / in B.
        public var inA: Bool
        public var inB: Bool
        /// First step whose decoded samples differ (or where one manifest ends), nil when none does.
        public var firstDifferingStep: Int?
        /// What differs at that step, one line (first differing slot and both samples).
        public var detail: String?
    }
    /// A step range over which one component's per-step count differs (nil: the step is not in that manifest
    /// or the component does not exist there).
    public struct CountRange: Sendable {
        public var component: String
        public var fromStep: Int
        public var toStep: Int  // inclusive
        public var a: Int?
        public var b: Int?
    }

    public var a: String
    public var b: String
    /// Same header.json bytes and same rank files, byte for byte.
    public var identical: Bool
    public var headerIdentical: Bool
    /// Header fields that differ: format_version, tool_version, seed, catalog_fingerprint, spec_path,
    /// global_batch, data_parallel, samples_per_rank, steps, continued_from.
    public var fields: [Field]
    /// A line diff of the spec text ("- old", "+ new", "  same" context lines); empty when identical.
    public var specDiff: [String]
    public var datasets: [Field]
    public var filesOnlyInA: [String]
    public var filesOnlyInB: [String]
    public var filesChanged: [FileChange]
    public var componentsOnlyInA: [String]
    public var componentsOnlyInB: [String]
    public var componentsChanged: [(name: String, fields: [Field])]
    public var ranks: [RankDiff]
    public var counts: [CountRange]
    /// Count ranges left out beyond `maxCountRanges`.
    public var countsOmitted: Int
    /// When the data-parallel degree differs (an elastic re-split) and every rank file is present: the first
    /// step whose global batch (all ranks' samples, as a multiset) differs; nil when every step matches.
    public var globalCompared = false
    public var globalFirstDifferingStep: Int?

    public func toJSON() -> JSON {
        func fields(_ fs: [Field]) -> JSON {
            .array(fs.map { .object([("field", .string($0.name)), ("a", $0.a), ("b", $0.b)]) })
        }
        func opt(_ v: Int?) -> JSON { v.map { .int(Int64($0)) } ?? .null }
        return .object([
            ("identical", .bool(identical)), ("a", .string(a)), ("b", .string(b)),
            ("header_identical", .bool(headerIdentical)), ("header_fields", fields(self.fields)),
            ("spec_identical", .bool(specDiff.isEmpty)), ("spec_diff", .array(specDiff.map { .string($0) })),
            ("datasets", fields(datasets)),
            (
                "files",
                .object([
                    ("only_in_a", .array(filesOnlyInA.map { .string($0) })),
                    ("only_in_b", .array(filesOnlyInB.map { .string($0) })),
                    (
                        "changed",
                        .array(
                            filesChanged.map {
                                .object([
                                    ("dataset", .string($0.dataset)), ("path", .string($0.path)), ("fields", fields($0.fields)),
                                ])
                            })
                    ),
                ])
            ),
            (
                "components",
                .object([
                    ("only_in_a", .array(componentsOnlyInA.map { .string($0) })),
                    ("only_in_b", .array(componentsOnlyInB.map { .string($0) })),
                    (
                        "changed",
                        .array(componentsChanged.map { .object([("name", .string($0.name)), ("fields", fields($0.fields))]) })
                    ),
                ])
            ),
            (
                "ranks",
                .array(
                    ranks.map { r in
                        .object([
                            ("rank", .int(Int64(r.rank))), ("identical", .bool(r.identical)), ("in_a", .bool(r.inA)),
                            ("in_b", .bool(r.inB)),
                            ("first_differing_step", opt(r.firstDifferingStep)),
                            ("detail", r.detail.map { .string($0) } ?? .null),
                        ])
                    })
            ),
            (
                "counts",
                .array(
                    counts.map { c in
                        .object([
                            ("component", .string(c.component)), ("from_step", .int(Int64(c.fromStep))),
                            ("to_step", .int(Int64(c.toStep))),
                            ("a", opt(c.a)), ("b", opt(c.b)),
                        ])
                    })
            ),
            ("counts_omitted", .int(Int64(countsOmitted))),
            (
                "global_batches",
                globalCompared ? .object([("first_differing_step", opt(globalFirstDifferingStep))]) : .null
            ),
        ])
    }

    /// Human-readable lines (no trailing newline each).
    public func lines() -> [String] {
        var out: [String] = []
        func show(_ f: Field) -> String { "\(f.name): \(f.a.serialized()) → \(f.b.serialized())" }
        for f in fields { out.append(show(f)) }
        if !specDiff.isEmpty {
            out.append("spec differs:")
            for l in specDiff { out.append("  " + l) }
        }
        for f in datasets { out.append("dataset " + show(f)) }
        for p in filesOnlyInA { out.append("file only in A: \(p)") }
        for p in filesOnlyInB { out.append("file only in B: \(p)") }
        for c in filesChanged {
            out.append("file changed: \(c.dataset)/\(c.path): " + c.fields.map(show).joined(separator: ", "))
        }
        for c in componentsOnlyInA { out.append("component only in A: \(c)") }
        for c in componentsOnlyInB { out.append("component only in B: \(c)") }
        for c in componentsChanged { out.append("component \(c.name): " + c.fields.map(show).joined(separator: ", ")) }
        for r in ranks where !r.identical {
            if !r.inA || !r.inB {
                out.append("rank \(r.rank): rank file only in \(r.inA ? "A" : "B")")
            } else if let s = r.firstDifferingStep {
                out.append("rank \(r.rank): first differing step \(s)" + (r.detail.map { ": \($0)" } ?? ""))
            } else {
                out.append("rank \(r.rank): same samples, different bytes (another header.json checksum or another encoding)")
            }
        }
        for c in counts {
            let steps = c.fromStep == c.toStep ? "step \(c.fromStep)" : "steps \(c.fromStep)-\(c.toStep)"
            let a = c.a.map(String.init) ?? "-"
            let b = c.b.map(String.init) ?? "-"
            var delta = ""
            if let x = c.a, let y = c.b { delta = " (\(y - x >= 0 ? "+" : "")\(y - x))" }
            out.append("counts \(c.component) \(steps): \(a) → \(b)\(delta) per step")
        }
        if countsOmitted > 0 { out.append("… \(countsOmitted) more count ranges (see --json)") }
        if globalCompared {
            out.append(
                globalFirstDifferingStep.map { "global batches: first differing step \($0)" }
                    ?? "global batches: identical at every step (the data-parallel split differs)")
        }
        out.append(identical ? "manifests are identical" : "manifests differ")
        return out
    }
}

/// `mixtera diff A B`.
public enum Diff {
    public static let maxCountRanges = 1000

    public static func manifests(_ pathA: String, _ pathB: String) throws -> ManifestDiff {
        let ma = try ManifestDirectory(path: pathA)
        let mb = try ManifestDirectory(path: pathB)
        let ha = ma.header
        let hb = mb.header
        let headerIdentical = ma.headerHash == mb.headerHash && ha == hb

        var fields: [ManifestDiff.Field] = []
        func cmp(_ name: String, _ a: JSON, _ b: JSON) { if a != b { fields.append(.init(name: name, a: a, b: b)) } }
        cmp("format_version", .string(ha.formatVersion), .string(hb.formatVersion))
        cmp("tool_version", .string(ha.toolVersion), .string(hb.toolVersion))
        cmp("spec_path", .string(ha.specPath), .string(hb.specPath))
        cmp("seed", .int(Int64(bitPattern: ha.seed)), .int(Int64(bitPattern: hb.seed)))
        cmp("catalog_fingerprint", .string(ha.catalogFingerprint), .string(hb.catalogFingerprint))
        cmp("global_batch", .int(Int64(ha.globalBatch)), .int(Int64(hb.globalBatch)))
        cmp("data_parallel", .int(Int64(ha.dataParallel)), .int(Int64(hb.dataParallel)))
        cmp("samples_per_rank", .int(Int64(ha.samplesPerRank)), .int(Int64(hb.samplesPerRank)))
        cmp("steps", .int(Int64(ha.steps)), .int(Int64(hb.steps)))
        cmp("continued_from", ha.continuedFrom ?? .null, hb.continuedFrom ?? .null)

        let specDiff = ha.specText == hb.specText ? [] : lineDiff(ha.specText, hb.specText)

        var datasets: [ManifestDiff.Field] = []
        for name in union(ha.datasets.map(\.name), hb.datasets.map(\.name)) {
            let da = ha.datasets.first { $0.name == name }
            let db = hb.datasets.first { $0.name == name }
            func j(_ d: ManifestDataset?) -> JSON {
                d.map {
                    .object([
                        ("root", .string($0.root)), ("format", .string($0.format)),
                        ("text_field", $0.textField.map { .string($0) } ?? .null),
                    ])
                } ?? .null
            }
            if da != db { datasets.append(.init(name: name, a: j(da), b: j(db))) }
        }

        // Files by (dataset name, relative path).
        func key(_ h: ManifestHeader, _ f: ManifestFile) -> String { h.datasets[f.dataset].name + "/" + f.path }
        var filesB: [String: ManifestFile] = [:]
        for f in hb.files { filesB[key(hb, f)] = f }
        var keysA = Set<String>()
        var onlyA: [String] = []
        var changed: [ManifestDiff.FileChange] = []
        for f in ha.files {
            let k = key(ha, f)
            keysA.insert(k)
            guard let g = filesB[k] else {
                onlyA.append(k)
                continue
            }
            var fs: [ManifestDiff.Field] = []
            func c(_ n: String, _ x: JSON, _ y: JSON) { if x != y { fs.append(.init(name: n, a: x, b: y)) } }
            c("format", .string(f.format), .string(g.format))
            c("compression", .string(f.compression), .string(g.compression))
            c("size", .int(f.byteCount), .int(g.byteCount))
            c("mtime_ns", .int(f.mtimeNanoseconds), .int(g.mtimeNanoseconds))
            c("fingerprint", .string(f.fingerprint), .string(g.fingerprint))
            c("samples", .int(f.sampleCount), .int(g.sampleCount))
            if !fs.isEmpty { changed.append(.init(dataset: ha.datasets[f.dataset].name, path: f.path, fields: fs)) }
        }
        let onlyB = hb.files.map { key(hb, $0) }.filter { !keysA.contains($0) }

        var compOnlyA: [String] = []
        var compChanged: [(name: String, fields: [ManifestDiff.Field])] = []
        for c in ha.components {
            guard let d = hb.components.first(where: { $0.name == c.name }) else {
                compOnlyA.append(c.name)
                continue
            }
            var fs: [ManifestDiff.Field] = []
            if c.filter != d.filter { fs.append(.init(name: "filter", a: .string(c.filter), b: .string(d.filter))) }
            if c.selected != d.selected { fs.append(.init(name: "selected", a: .int(c.selected), b: .int(d.selected))) }
            if c.onExhausted != d.onExhausted {
                fs.append(.init(name: "on_exhausted", a: .string(c.onExhausted), b: .string(d.onExhausted)))
            }
            if !fs.isEmpty { compChanged.append((c.name, fs)) }
        }
        let compOnlyB = hb.components.map(\.name).filter { n in !ha.components.contains { $0.name == n } }

        let ranks = try compareRanks(ma, mb)
        var (counts, omitted) = compareCounts(ha, hb)
        if counts.count > maxCountRanges {
            omitted += counts.count - maxCountRanges
            counts.removeLast(counts.count - maxCountRanges)
        }
        let identical = headerIdentical && ranks.allSatisfy(\.identical)
        var d = ManifestDiff(
            a: pathA, b: pathB, identical: identical, headerIdentical: headerIdentical, fields: fields, specDiff: specDiff,
            datasets: datasets, filesOnlyInA: onlyA, filesOnlyInB: onlyB, filesChanged: changed, componentsOnlyInA: compOnlyA,
            componentsOnlyInB: compOnlyB, componentsChanged: compChanged, ranks: ranks, counts: counts, countsOmitted: omitted)
        if ha.dataParallel != hb.dataParallel
            && ranks.allSatisfy({
                $0.inA && $0.inB || !$0.inA && $0.rank >= ha.dataParallel || !$0.inB && $0.rank >= hb.dataParallel
            })
        {
            d.globalCompared = true
            d.globalFirstDifferingStep = try compareGlobalBatches(ma, mb)
        }
        return d
    }

    /// The first step whose global batch (the samples of all ranks, by dataset/path and row, as a multiset)
    /// differs between the manifests; nil when all steps match.
    static func compareGlobalBatches(_ ma: ManifestDirectory, _ mb: ManifestDirectory) throws -> Int? {
        func open(_ m: ManifestDirectory) throws -> (readers: [RankFileReader], keys: [String]) {
            (
                try (0..<m.header.dataParallel).map { try m.rankFile($0) },
                m.header.files.map { m.header.datasets[$0.dataset].name + "/" + $0.path }
            )
        }
        let (ra, ka) = try open(ma)
        let (rb, kb) = try open(mb)
        func batch(_ readers: [RankFileReader], _ keys: [String], _ step: Int) throws -> [String] {
            var out: [String] = []
            for r in readers {
                for e in try r.entries(step: step) where e.file < keys.count {
                    for row in e.rows { out.append(keys[e.file] + "\u{0}" + String(row)) }
                }
            }
            return out.sorted { Array($0.utf8).lexicographicallyPrecedes($1.utf8) }
        }
        let common = min(ma.header.steps, mb.header.steps)
        for s in 0..<common where try batch(ra, ka, s) != batch(rb, kb, s) { return s }
        return ma.header.steps == mb.header.steps ? nil : common
    }

    static func union(_ a: [String], _ b: [String]) -> [String] {
        var out = a
        for x in b where !out.contains(x) { out.append(x) }
        return out
    }

    /// A sample as compared across manifests: component name, dataset/path, row.
    struct Sample: Equatable {
        var component: Int
        var file: Int
        var row: Int64
    }

    /// Compares the ranks present in both manifests step by step (decoded samples, with files and
    /// components matched by name); a rank file present in only one is a difference.
    static func compareRanks(_ ma: ManifestDirectory, _ mb: ManifestDirectory) throws -> [ManifestDiff.RankDiff] {
        let ha = ma.header
        let hb = mb.header
        // Shared ids for files and components across both manifests.
        var fileIDs: [String: Int] = [:]
        var fileNames: [String] = []
        func fileMap(_ h: ManifestHeader) -> [Int] {
            h.files.map { f in
                let k = h.datasets[f.dataset].name + "/" + f.path
                if let i = fileIDs[k] { return i }
                fileIDs[k] = fileNames.count
                fileNames.append(k)
                return fileNames.count - 1
            }
        }
        let filesA = fileMap(ha)
        let filesB = fileMap(hb)
        let compNames = union(ha.components.map(\.name), hb.components.map(\.name))
        let compA = ha.components.map { c in compNames.firstIndex(of: c.name)! }
        let compB = hb.components.map { c in compNames.firstIndex(of: c.name)! }

        func exists(_ m: ManifestDirectory, _ r: Int) -> Bool {
            r < m.header.dataParallel && ((try? FileSystem.stat(m.path + "/" + ManifestHeader.rankFileName(r))) ?? nil) != nil
        }
        func samples(_ entries: [ManifestEntry], _ files: [Int], _ comps: [Int]) throws -> [Sample] {
            var out: [Sample] = []
            for e in entries {
                guard e.file < files.count, e.component < comps.count else {
                    throw ManifestError(
                        "corrupt", "an entry references file \(e.file) or component \(e.component) outside the header's tables",
                        at: nil)
                }
                for row in e.rows { out.append(Sample(component: comps[e.component], file: files[e.file], row: row)) }
            }
            return out
        }
        func describe(_ s: Sample?) -> String {
            guard let s else { return "nothing" }
            return "\(compNames[s.component]) \(fileNames[s.file]) row \(s.row)"
        }

        var out: [ManifestDiff.RankDiff] = []
        for r in 0..<max(ha.dataParallel, hb.dataParallel) {
            let inA = exists(ma, r)
            let inB = exists(mb, r)
            if !inA && !inB { continue }
            guard inA && inB else {
                out.append(.init(rank: r, identical: false, inA: inA, inB: inB, firstDifferingStep: nil, detail: nil))
                continue
            }
            let pa = ma.path + "/" + ManifestHeader.rankFileName(r)
            let pb = mb.path + "/" + ManifestHeader.rankFileName(r)
            let sameBytes = try sameFileBytes(pa, pb)
            let ra = try ma.rankFile(r)
            let rb = try mb.rankFile(r)
            var first: Int?
            var detail: String?
            let common = min(ra.stepCount, rb.stepCount)
            for s in 0..<common {
                let ea = try ra.entries(step: s)
                let eb = try rb.entries(step: s)
                let xa = try samples(ea, filesA, compA)
                let xb = try samples(eb, filesB, compB)
                if xa != xb {
                    first = s
                    let slot = (0..<min(xa.count, xb.count)).first { xa[$0] != xb[$0] } ?? min(xa.count, xb.count)
                    detail =
                        "slot \(slot): \(describe(slot < xa.count ? xa[slot] : nil)) in A, \(describe(slot < xb.count ? xb[slot] : nil)) in B"
                    break
                }
            }
            if first == nil && ra.stepCount != rb.stepCount {
                first = common
                detail = "A has \(ra.stepCount) steps, B has \(rb.stepCount)"
            }
            out.append(
                .init(
                    rank: r, identical: sameBytes && first == nil, inA: true, inB: true, firstDifferingStep: first, detail: detail
                ))
        }
        return out
    }

    static func sameFileBytes(_ a: String, _ b: String) throws -> Bool {
        let fa = try ReadOnlyFile(path: a)
        let fb = try ReadOnlyFile(path: b)
        let sa = try fa.stat().byteCount
        guard sa == (try fb.stat().byteCount) else { return false }
        var off: Int64 = 0
        let chunk: Int64 = 1 << 20
        while off < sa {
            let n = Int(min(chunk, sa - off))
            if try fa.readExactly(n, at: off) != fb.readExactly(n, at: off) { return false }
            off += Int64(n)
        }
        return true
    }

    /// Per component (by name), the step ranges where the per-step counts of the two mixture logs differ.
    static func compareCounts(_ ha: ManifestHeader, _ hb: ManifestHeader) -> ([ManifestDiff.CountRange], Int) {
        let names = union(ha.components.map(\.name), hb.components.map(\.name))
        // Boundaries where either log changes.
        var cuts = Set<Int>([0, ha.steps, hb.steps])
        for e in ha.mixtureLog { cuts.insert(e.fromStep); cuts.insert(e.toStep + 1) }
        for e in hb.mixtureLog { cuts.insert(e.fromStep); cuts.insert(e.toStep + 1) }
        let end = max(ha.steps, hb.steps)
        let bounds = cuts.filter { $0 <= end }.sorted()
        func counts(_ h: ManifestHeader) -> (Int) -> [Int]? {
            var i = 0
            return { step in
                guard step < h.steps else { return nil }
                while i < h.mixtureLog.count && h.mixtureLog[i].toStep < step { i += 1 }
                guard i < h.mixtureLog.count, h.mixtureLog[i].fromStep <= step else { return nil }
                return h.mixtureLog[i].counts
            }
        }
        let ca = counts(ha)
        let cb = counts(hb)
        // Components with the same name (a continuation keeps the old ones next to the new) add up.
        let idxA = names.map { n in ha.components.indices.filter { ha.components[$0].name == n } }
        let idxB = names.map { n in hb.components.indices.filter { hb.components[$0].name == n } }
        func sum(_ v: [Int]?, _ idx: [Int]) -> Int? {
            guard let v, !idx.isEmpty else { return nil }
            return idx.reduce(0) { $0 + ($1 < v.count ? v[$1] : 0) }
        }
        // Per component, open range (from, a, b).
        var open: [(from: Int, to: Int, a: Int?, b: Int?)?] = names.map { _ in nil }
        var out: [[ManifestDiff.CountRange]] = names.map { _ in [] }
        func close(_ c: Int) {
            if let o = open[c] { out[c].append(.init(component: names[c], fromStep: o.from, toStep: o.to, a: o.a, b: o.b)) }
            open[c] = nil
        }
        for (k, from) in bounds.enumerated() where k + 1 < bounds.count {
            let to = bounds[k + 1] - 1
            guard to >= from else { continue }
            let va = ca(from)
            let vb = cb(from)
            for c in names.indices {
                let a = sum(va, idxA[c])
                let b = sum(vb, idxB[c])
                if a == b {
                    close(c)
                } else if let o = open[c], o.a == a, o.b == b, o.to + 1 == from {
                    open[c]!.to = to
                } else {
                    close(c)
                    open[c] = (from, to, a, b)
                }
            }
        }
        for c in names.indices { close(c) }
        return (out.flatMap { $0 }, 0)
    }

    /// A minimal line diff (LCS) of two texts: "- " lines only in A, "+ " lines only in B, in order;
    /// unchanged lines are left out. Large texts fall back to a one-line summary.
    static func lineDiff(_ a: String, _ b: String) -> [String] {
        let la = a.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let lb = b.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        guard la.count * lb.count <= 4_000_000 else {
            return ["- (\(la.count) lines)", "+ (\(lb.count) lines; too long to diff line by line)"]
        }
        let n = la.count
        let m = lb.count
        var lcs = [[Int32]](repeating: [Int32](repeating: 0, count: m + 1), count: n + 1)
        for i in stride(from: n - 1, through: 0, by: -1) {
            for j in stride(from: m - 1, through: 0, by: -1) {
                lcs[i][j] = la[i] == lb[j] ? lcs[i + 1][j + 1] + 1 : max(lcs[i + 1][j], lcs[i][j + 1])
            }
        }
        var out: [String] = []
        var i = 0
        var j = 0
        while i < n || j < m {
            if i < n && j < m && la[i] == lb[j] {
                i += 1
                j += 1
            } else if i < n && (j == m || lcs[i + 1][j] >= lcs[i][j + 1]) {
                out.append("- " + la[i])
                i += 1
            } else {
                out.append("+ " + lb[j])
                j += 1
            }
        }
        return out
    }
}

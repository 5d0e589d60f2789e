import MixteraCore
import MixteraManifest
import MixteraSpec

/// The part of an old manifest a continuation keeps (docs/planner.md §Continuation).
struct Continuation {
    let atStep: Int
    /// Per written rank, the entries of steps `< atStep` with file indices mapped to the new table.
    let steps: [[[ManifestEntry]]]
    let components: [ManifestComponent]
    let mixtureLog: [MixtureLogEntry]
    let consumed: ConsumedSet
    let provenance: JSON
    /// Whether any kept step (on any rank) has a sparse entry; the new rank files must then allow them.
    let hasSparseEntries: Bool

    static func load(
        path: String, atStep: Int, globalBatch: Int, dataParallel: Int, datasets: [String], files: [ManifestFile],
        keepRanks: ClosedRange<Int>?
    ) throws -> Continuation {
        let old = try ManifestDirectory(path: path)
        let h = old.header
        guard h.globalBatch == globalBatch, h.dataParallel == dataParallel else {
            throw ManifestError(
                "topology-mismatch",
                "the old manifest has global batch \(h.globalBatch) over \(h.dataParallel) ranks; the new spec has \(globalBatch) over \(dataParallel); continue with the same topology (re-split later with --data-parallel)",
                at: DataLocation(path: path), category: .usage)
        }
        guard atStep >= 0 && atStep <= h.steps else {
            throw ManifestError(
                "step-out-of-range", "--at-step \(atStep) is outside the old manifest's 0...\(h.steps) steps",
                at: DataLocation(path: path), category: .usage)
        }
        var newIndex: [String: Int] = [:]
        for (i, f) in files.enumerated() { newIndex[datasets[f.dataset] + "\u{0}" + f.path] = i }
        let mapping: [Int?] = h.files.map { newIndex[h.datasets[$0.dataset].name + "\u{0}" + $0.path] }
        var consumed = ConsumedSet(files: files)
        var hasSparse = false
        var kept: [[[ManifestEntry]]] = keepRanks.map { Array(repeating: [], count: $0.count) } ?? []
        for rank in 0..<dataParallel {
            let rf = try old.rankFile(rank)
            for s in 0..<atStep {
                var entries = try rf.entries(step: s)
                for i in entries.indices {
                    guard let nf = mapping[entries[i].file] else {
                        let f = h.files[entries[i].file]
                        throw ManifestError(
                            "file-missing",
                            "the old manifest uses \(f.path) of dataset \"\(h.datasets[f.dataset].name)\", which the catalog no longer has",
                            at: DataLocation(path: path), category: .data)
                    }
                    entries[i].file = nf
                    if entries[i].isSparse {
                        hasSparse = true
                        for row in entries[i].rows { consumed.insert(file: nf, rows: row, count: 1) }
                    } else {
                        consumed.insert(file: nf, rows: entries[i].row, count: entries[i].count)
                    }
                }
                if let kr = keepRanks, kr.contains(rank) { kept[rank - kr.lowerBound].append(entries) }
            }
        }
        let log = h.mixtureLog.compactMap { e -> MixtureLogEntry? in
            guard e.fromStep < atStep else { return nil }
            return MixtureLogEntry(fromStep: e.fromStep, toStep: min(e.toStep, atStep - 1), counts: e.counts)
        }
        let provenance = JSON.object([
            ("manifest", .string(PathUtil.baseName(PathUtil.normalize(path)))), ("at_step", .int(Int64(atStep))),
            ("header_xxh3", .string(XXH3.hex(old.headerHash))), ("catalog_fingerprint", .string(h.catalogFingerprint)),
        ])
        return Continuation(
            atStep: atStep, steps: kept, components: h.components, mixtureLog: log, consumed: consumed, provenance: provenance,
            hasSparseEntries: hasSparse)
    }
}

/// One bit per sample of every file: the samples a continuation already used.
struct ConsumedSet: Sendable {
    private var bits: [[UInt64]]

    init(files: [ManifestFile]) {
        bits = files.map { [UInt64](repeating: 0, count: Int(($0.sampleCount + 63) / 64)) }
    }

    mutating func insert(file: Int, rows: Int64, count: Int) {
        for r in rows..<(rows + Int64(count)) where r < Int64(bits[file].count * 64) {
            bits[file][Int(r >> 6)] |= 1 << UInt64(r & 63)
        }
    }

    func contains(file: Int, row: Int64) -> Bool {
        let w = Int(row >> 6)
        return w < bits[file].count && bits[file][w] & (1 << UInt64(row & 63)) != 0
    }
}

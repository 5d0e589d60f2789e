import MixteraCore
import MixteraManifest
import MixteraReplay

/// `mixtera which` and `mixtera verify`.
public enum Lineage {
    /// The samples of `step` on `rank` (or every rank): component, dataset, file, row, byte offset of the
    /// run start, and with a catalog each sample's properties.
    public static func which(manifestPath: String, step: Int, rank: Int?, catalogPath: String?, _ body: (JSON) -> Void) throws {
        let m = try ManifestDirectory(path: manifestPath)
        let h = m.header
        guard step >= 0 && step < h.steps else {
            throw ManifestError(
                "step-out-of-range", "step \(step) is out of range (the manifest has \(h.steps) steps)",
                at: DataLocation(path: manifestPath), category: .usage)
        }
        let props = try catalogPath.map { try CatalogInspect.properties(catalogPath: $0) }
        let ranks = rank.map { [$0] } ?? Array(0..<h.dataParallel)
        for r in ranks {
            let rf = try m.rankFile(r)
            var slot = 0
            for e in try rf.entries(step: step) {
                let f = h.files[e.file]
                for (k, row) in e.rows.enumerated() {
                    var kv: [(String, JSON)] = [
                        ("step", .int(Int64(step))), ("rank", .int(Int64(r))), ("slot", .int(Int64(slot))),
                        ("component", .string(h.components[e.component].name)),
                        ("dataset", .string(h.datasets[f.dataset].name)), ("file", .string(f.path)), ("row", .int(row)),
                    ]
                    var offset: Int64? = k == 0 && e.lead == 0 ? e.locator : nil
                    if let props {
                        let (p, o) = try props(h.datasets[f.dataset].name, f.path, row)
                        if offset == nil { offset = o }
                        kv.append(("byte_offset", offset.map { .int($0) } ?? .null))
                        kv.append(("properties", .object(p)))
                    } else {
                        kv.append(("byte_offset", offset.map { .int($0) } ?? .null))
                    }
                    body(.object(kv))
                    slot += 1
                }
            }
        }
    }

    /// Checks header and rank-file checksums (every block), entry bounds, and data files (size, mtime,
    /// fingerprint; `deep` rehashes every file). Returns one line per problem (empty: all good).
    public static func verify(manifestPath: String, deep: Bool, roots: [(old: String, new: String)] = []) throws -> (
        problems: [String], files: Int, ranks: Int, steps: Int, labelledFiles: Int?
    ) {
        let m = try ManifestDirectory(path: manifestPath)
        let h = m.header
        var problems: [String] = []
        var present = 0
        for r in 0..<h.dataParallel {
            let name = manifestPath + "/" + ManifestHeader.rankFileName(r)
            guard (try? FileSystem.stat(name)) ?? nil != nil else {
                problems.append("\(name): rank file is missing (partial build with --ranks?)")
                continue
            }
            present += 1
            do throws(ManifestError) {
                let rf = try m.rankFile(r)
                for s in 0..<rf.stepCount {
                    for e in try rf.entries(step: s) {
                        guard e.file < h.files.count, e.component < h.components.count else {
                            problems.append(
                                "\(name): step \(s) references file \(e.file) or component \(e.component) outside the tables")
                            continue
                        }
                        if e.rowEnd > h.files[e.file].sampleCount {
                            problems.append(
                                "\(name): step \(s) reads rows \(e.row)..<\(e.rowEnd) of \(h.files[e.file].path), which has \(h.files[e.file].sampleCount)"
                            )
                        }
                    }
                }
            } catch {
                problems.append(error.description)
            }
        }
        // The label table: every frame, including those of files no present rank reads.
        var labelled: Int?
        do throws(ManifestError) {
            if let t = try m.labelTable() {
                try t.verifyAll()
                labelled = t.labelledFiles.count
            }
        } catch {
            problems.append(error.description)
        }
        if present > 0 {
            let reader = try ReplayReader(
                manifestPath: manifestPath,
                rank: (0..<h.dataParallel).first { r in
                    ((try? FileSystem.stat(manifestPath + "/" + ManifestHeader.rankFileName(r))) ?? nil) != nil
                } ?? 0,
                roots: roots, verify: deep ? .deep : .fast)
            for i in h.files.indices {
                do { try reader.verifyFile(i, mode: deep ? .deep : .fast) } catch { problems.append(error.description) }
            }
        }
        return (problems, h.files.count, present, h.steps, labelled)
    }
}

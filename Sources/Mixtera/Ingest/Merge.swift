import MixteraCatalog
import MixteraCore

/// `mixtera catalog merge`: partial catalogs from `scan --shard I/N` → one catalog.
public enum CatalogMerge {
    /// Merges `parts` into a new catalog at `out`, identical in content to a single-machine scan.
    /// Returns `{"catalog", "parts", "keys", "duplicates", "datasets": [{"name", "files", "removed_files", "samples"}]}`.
    /// - Throws: `CatalogError` (see `Catalog.merge`).
    public static func run(parts: [String], out: String) throws -> JSON {
        let r = try Catalog.merge(parts: parts, into: out)
        return .object([
            ("catalog", .string(out)), ("parts", .int(Int64(r.parts))), ("keys", .int(Int64(r.keys))),
            ("duplicates", .int(Int64(r.duplicates))),
            (
                "datasets",
                .array(
                    r.datasets.map { d in
                        .object([
                            ("name", .string(d.name)), ("files", .int(Int64(d.files))),
                            ("removed_files", .int(Int64(d.removedFiles))), ("samples", .int(d.samples)),
                        ])
                    })
            ),
        ])
    }
}

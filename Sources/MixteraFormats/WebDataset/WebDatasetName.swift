/// The WebDataset naming rule: a member's sample key is its path up to the first dot of its base name, and
/// its extension is the rest of the base name (`a.b/c.0001.txt` → key `a.b/c`, extension `0001.txt`).
///
/// This matches `webdataset.tariterators.base_plus_ext` (regex `^((?:.*/|)[^.]+)[.]([^/]*)$`) except where
/// that regex misbehaves; the differences are documented in `docs/webdataset.md`.
public enum WebDatasetName {
    /// Why a member does not belong to any sample.
    public enum SkipReason: String, Sendable, Hashable, CaseIterable {
        /// Not a regular file (directory, link, device…).
        case notRegular = "not-regular"
        /// The base name has no dot (`README`) or is empty; webdataset skips these too.
        case noExtension = "no-extension"
        /// The base name starts with a dot (`.DS_Store`, `dir/.hidden.txt`). webdataset would key
        /// `dir/.x` as `dir/` by a regex quirk; mixtera skips them.
        case hidden
        /// webdataset metadata: the first path component is `__…__` (`__meta__`, `__index__/x.json`).
        case metadata
    }

    /// The outcome of ``split(_:)``.
    public enum Split: Sendable, Hashable {
        case member(key: Substring, extension: Substring)
        case skipped(SkipReason)
    }

    /// Splits `name` into key and extension, or returns why the name is skipped.
    public static func split(_ name: String) -> Split {
        let utf8 = name.utf8
        // webdataset's skip_meta `__[^/]*__($|/)` on the first path component.
        let firstEnd = utf8.firstIndex(of: UInt8(ascii: "/")) ?? utf8.endIndex
        let first = utf8[utf8.startIndex..<firstEnd]
        if first.count >= 4, first.starts(with: "__".utf8), first.reversed().starts(with: "__".utf8) {
            return .skipped(.metadata)
        }
        let baseStart = utf8.lastIndex(of: UInt8(ascii: "/")).map { utf8.index(after: $0) } ?? utf8.startIndex
        let base = utf8[baseStart...]
        guard let dot = base.firstIndex(of: UInt8(ascii: ".")) else { return .skipped(.noExtension) }
        if dot == baseStart { return .skipped(.hidden) }
        return .member(key: name[..<dot], extension: name[name.utf8.index(after: dot)...])
    }
}

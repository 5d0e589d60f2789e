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
        var copy = name
        switch copy.withUTF8({ split(bytes: UnsafeRawBufferPointer($0)) }) {
        case .skipped(let reason): return .skipped(reason)
        case .member(let dot):
            let utf8 = name.utf8
            let d = utf8.index(utf8.startIndex, offsetBy: dot)
            return .member(key: name[..<d], extension: name[utf8.index(after: d)...])
        }
    }

    /// The byte-level outcome of ``split(bytes:)``: `dot` is the offset of the dot that ends the key.
    public enum ByteSplit: Sendable, Hashable {
        case member(dot: Int)
        case skipped(SkipReason)
    }

    /// ``split(_:)`` on the UTF-8 bytes of a name: key is `name[..<dot]`, extension `name[(dot + 1)...]`.
    public static func split(bytes name: UnsafeRawBufferPointer) -> ByteSplit {
        let n = name.count
        // webdataset's skip_meta `__[^/]*__($|/)` on the first path component.
        var firstEnd = 0
        while firstEnd < n && name[firstEnd] != 0x2F { firstEnd += 1 }
        if firstEnd >= 4 && name[0] == 0x5F && name[1] == 0x5F && name[firstEnd - 1] == 0x5F
            && name[firstEnd - 2] == 0x5F
        {
            return .skipped(.metadata)
        }
        var baseStart = n
        while baseStart > 0 && name[baseStart - 1] != 0x2F { baseStart -= 1 }
        var dot = baseStart
        while dot < n && name[dot] != 0x2E { dot += 1 }
        if dot == n { return .skipped(.noExtension) }
        if dot == baseStart { return .skipped(.hidden) }
        return .member(dot: dot)
    }
}

import MixteraCore
import MixteraSpec

#if canImport(Glibc)
    import Glibc
#endif

/// Lists a dataset's files: a recursive walk of the root (symlinked directories are not followed;
/// symlinked files are, when they resolve inside the root, and are an `unsafe-path` error when they
/// resolve outside it), relative paths matched against the include and exclude globs, sorted bytewise.
enum FileDiscovery {
    struct Found: Sendable {
        var relativePath: String
        var stat: FileStat
    }

    static func list(_ dataset: DatasetDecl) throws(IngestError) -> [Found] {
        let root = dataset.root
        guard let st = try wrap({ () throws(CoreError) in try FileSystem.stat(root) }) else {
            throw IngestError(
                "missing-root", "dataset \"\(dataset.name)\" root does not exist; fix `root` in the dataset spec",
                at: DataLocation(path: root), category: .noInput)
        }
        guard st.isDirectory else {
            throw IngestError("bad-root", "dataset \"\(dataset.name)\" root is not a directory", at: DataLocation(path: root))
        }
        var out: [Found] = []
        try walk(root: root, relative: "", dataset: dataset, out: &out, depth: 0)
        out.sort { Array($0.relativePath.utf8).lexicographicallyPrecedes($1.relativePath.utf8) }
        return out
    }

    private static func walk(root: String, relative: String, dataset: DatasetDecl, out: inout [Found], depth: Int)
        throws(IngestError)
    {
        if depth > 64 {
            throw IngestError("too-deep", "directory nesting deeper than 64", at: DataLocation(path: root + "/" + relative))
        }
        let dir = relative.isEmpty ? root : root + "/" + relative
        let names = try wrap({ () throws(CoreError) in try FileSystem.listDirectory(dir) })
        for name in names {
            let rel = relative.isEmpty ? name : relative + "/" + name
            let full = root + "/" + rel
            var lst = stat()
            if lstat(full, &lst) != 0 { continue }
            let isLink = (lst.st_mode & S_IFMT) == S_IFLNK
            if (lst.st_mode & S_IFMT) == S_IFDIR {
                try walk(root: root, relative: rel, dataset: dataset, out: &out, depth: depth + 1)
                continue
            }
            guard dataset.include.contains(where: { PathPattern.matches($0, rel) }) else { continue }
            if dataset.exclude.contains(where: { PathPattern.matches($0, rel) }) { continue }
            if isLink {
                // Symlinked files must resolve inside the root (docs/security.md): a link pointing
                // out is refused, so a dataset never indexes files outside its declared root.
                guard let target = realPath(full) else {
                    let problem = errno == ELOOP ? "symbolic link loop" : "symbolic link points nowhere"
                    throw IngestError("broken-link", problem, at: DataLocation(path: full), category: .noInput)
                }
                if let realRoot = realPath(root), target != realRoot, !target.hasPrefix(realRoot == "/" ? "/" : realRoot + "/") {
                    throw IngestError(
                        "unsafe-path",
                        "symbolic link points outside the dataset root (to \(target)); move the file under the root or exclude it",
                        at: DataLocation(path: full))
                }
            }
            guard let st = try wrap({ () throws(CoreError) in try FileSystem.stat(full) }) else {
                throw IngestError("broken-link", "symbolic link points nowhere", at: DataLocation(path: full), category: .noInput)
            }
            if isLink && st.isDirectory { continue }
            guard st.isRegular else { continue }
            out.append(Found(relativePath: rel, stat: st))
        }
    }

    /// `realpath(3)`, nil on failure (errno set).
    static func realPath(_ path: String) -> String? {
        guard let p = realpath(path, nil) else { return nil }
        defer { free(p) }
        return String(cString: p)
    }

    static func wrap<T>(_ body: () throws(CoreError) -> T) throws(IngestError) -> T {
        do { return try body() } catch { throw IngestError(error) }
    }
}

/// Ingest (scan) failures that are not a shard's own format errors.
public struct IngestError: MixteraError, Sendable {
    public var kind: String
    public var category: ErrorCategory
    public var location: DataLocation?
    public var message: String

    public init(_ kind: String, _ message: String, at location: DataLocation?, category: ErrorCategory = .data) {
        self.kind = kind
        self.message = message
        self.location = location
        self.category = category
    }

    public init(_ e: some MixteraError) {
        self.init(e.kind, e.message, at: e.location, category: e.category)
    }
}

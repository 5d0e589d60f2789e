import MixteraCore

#if canImport(Glibc)
    import Glibc
#endif

/// Reads a manifest directory: `header.json` plus `rank-NNNNN.bin` files.
public final class ManifestDirectory {
    public let path: String
    public let header: ManifestHeader
    public let headerHash: UInt64

    public init(path: String) throws(ManifestError) {
        self.path = path
        let headerPath = path + "/header.json"
        let bytes: [UInt8]
        do {
            guard let st = try FileSystem.stat(path) else {
                throw ManifestError(
                    "missing", "manifest directory does not exist", at: DataLocation(path: path), category: .noInput)
            }
            guard st.isDirectory else {
                throw ManifestError("not-a-manifest", "not a manifest directory", at: DataLocation(path: path))
            }
            guard try FileSystem.stat(headerPath) != nil else {
                throw ManifestError(
                    "not-a-manifest", "no header.json: not a mixtera manifest", at: DataLocation(path: path), category: .noInput)
            }
            bytes = try FileSystem.readAll(headerPath)
        } catch let e as ManifestError {
            throw e
        } catch let e as CoreError {
            throw ManifestError("io", e.message, at: e.location, category: e.category)
        } catch {
            throw ManifestError("io", "\(error)", at: DataLocation(path: path), category: .io)
        }
        header = try ManifestHeader.decode(bytes, path: headerPath)
        headerHash = XXH3.hash(bytes)
    }

    private var loadedLabels: LabelTable?

    /// The label table (`labels.bin`, format 1.2), read and verified on first use; nil when the header names none.
    public func labelTable() throws(ManifestError) -> LabelTable? {
        guard let name = header.labels else { return nil }
        if let loadedLabels { return loadedLabels }
        let t = try LabelTable(path: path + "/" + name, header: header, headerHash: headerHash)
        loadedLabels = t
        return t
    }

    /// Opens and verifies the rank file of `rank` against this header.
    public func rankFile(_ rank: Int) throws(ManifestError) -> RankFileReader {
        guard rank >= 0 && rank < header.dataParallel else {
            throw ManifestError(
                "rank-out-of-range", "rank \(rank) is out of range (data_parallel is \(header.dataParallel))",
                at: DataLocation(path: path), category: .usage)
        }
        let p = path + "/" + ManifestHeader.rankFileName(rank)
        let r = try RankFileReader(path: p)
        guard r.headerHash == headerHash else {
            throw ManifestError(
                "header-mismatch", "rank file belongs to a different header.json (header checksum differs)",
                at: DataLocation(path: p, byteOffset: 40))
        }
        guard r.rank == rank, r.dataParallel == header.dataParallel, r.stepCount == header.steps,
            r.samplesPerStep == header.samplesPerRank
        else {
            throw ManifestError("header-mismatch", "rank file topology does not match header.json", at: DataLocation(path: p))
        }
        if r.labelEntries {
            guard header.labels != nil else {
                throw ManifestError(
                    "header-mismatch", "rank file has label entries (flag bit 1) but header.json names no label table",
                    at: DataLocation(path: p, byteOffset: 12))
            }
            r.labels = try labelTable()
        }
        return r
    }
}

/// Writes a manifest directory atomically: everything goes to a temporary sibling directory, each file
/// is fsynced, then the directory is renamed into place. A previous manifest at the destination is
/// replaced; anything else there is an error.
public struct ManifestWriter {
    public let destination: String
    let temporary: String

    public init(destination: String) throws(ManifestError) {
        self.destination = destination
        temporary = destination + ".tmp-\(getpid())"
        FileSystem.removeTree(temporary)
        Self.recoverStale(destination)
        do {
            if let st = try FileSystem.stat(destination) {
                let isManifest = try st.isDirectory && FileSystem.stat(destination + "/header.json") != nil
                let isEmptyDir = try st.isDirectory && FileSystem.listDirectory(destination).isEmpty
                guard isManifest || isEmptyDir else {
                    throw ManifestError(
                        "destination-exists", "output exists and is not a mixtera manifest; choose another --out",
                        at: DataLocation(path: destination), category: .cannotCreate)
                }
            }
            try FileSystem.makeDirectory(temporary)
        } catch let e as ManifestError {
            throw e
        } catch let e as CoreError {
            throw ManifestError("cannot-create", e.message, at: e.location, category: .cannotCreate)
        } catch {
            throw ManifestError("cannot-create", "\(error)", at: DataLocation(path: destination), category: .cannotCreate)
        }
    }

    public func write(name: String, bytes: [UInt8]) throws(ManifestError) {
        do { try FileSystem.write(bytes, to: temporary + "/" + name, sync: true) } catch {
            abandon()
            throw ManifestError("cannot-create", error.message, at: error.location, category: error.category)
        }
    }

    /// Moves the finished directory into place.
    public func commit() throws(ManifestError) {
        FileSystem.syncDirectory(temporary)
        let old = destination + ".old-\(getpid())"
        let hadOld = ((try? FileSystem.stat(destination)) ?? nil) != nil
        do {
            if hadOld { try FileSystem.rename(destination, old) }
            try FileSystem.rename(temporary, destination)
        } catch {
            if hadOld { try? FileSystem.rename(old, destination) }
            abandon()
            throw ManifestError("cannot-create", error.message, at: error.location, category: .cannotCreate)
        }
        if hadOld { FileSystem.removeTree(old) }
        FileSystem.syncDirectory(PathDir.parent(destination))
    }

    public func abandon() { FileSystem.removeTree(temporary) }

    /// Cleans up after writers killed mid-way (kill -9, power loss): removes `DEST.tmp-PID`
    /// directories of processes that no longer exist, and for a stale `DEST.old-PID` (killed between
    /// the two renames of ``commit()``) puts the previous manifest back when the destination is
    /// missing, else removes it. Directories of live processes are left alone.
    static func recoverStale(_ destination: String) {
        let dir = PathDir.parent(destination)
        let base = destination.hasPrefix(dir + "/") ? String(destination.dropFirst(dir.count + 1)) : destination
        guard !base.isEmpty, let names = try? FileSystem.listDirectory(dir) else { return }
        for name in names {
            let stale: (old: Bool, pid: Int32)
            if name.hasPrefix(base + ".tmp-"), let pid = Int32(name.dropFirst(base.count + 5)) {
                stale = (false, pid)
            } else if name.hasPrefix(base + ".old-"), let pid = Int32(name.dropFirst(base.count + 5)) {
                stale = (true, pid)
            } else {
                continue
            }
            guard stale.pid > 0, stale.pid != getpid(), kill(stale.pid, 0) != 0, errno == ESRCH else { continue }
            let path = dir + "/" + name
            if stale.old && ((try? FileSystem.stat(destination)) ?? nil) == nil {
                try? FileSystem.rename(path, destination)
            } else {
                FileSystem.removeTree(path)
            }
        }
    }
}

enum PathDir {
    static func parent(_ p: String) -> String {
        guard let i = p.lastIndex(of: "/") else { return "." }
        return i == p.startIndex ? "/" : String(p[..<i])
    }
}

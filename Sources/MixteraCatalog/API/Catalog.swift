import CSQLite
import MixteraCore
import MixteraSpec

#if canImport(Glibc)
    import Glibc
#endif

/// The SQLite catalog (WAL): datasets, property definitions, distinct categorical key combinations,
/// and one compact index blob per file. See docs/catalog-schema.md.
public final class Catalog {
    let db: Connection
    public let path: String
    /// False for a version 1 catalog opened read-only (no `datasets.properties_hash` column).
    private var hasDatasetHash = true

    /// Opens (or with `create`, creates) a catalog.
    /// - Throws: `CatalogError` with category `.noInput` when it does not exist and `create` is false,
    ///   `.data` when its schema is newer than this binary understands.
    public init(path: String, create: Bool) throws(CatalogError) {
        self.path = path
        let exists: Bool
        do { exists = try FileSystem.stat(path) != nil } catch {
            throw CatalogError("io", error.message, category: error.category, at: error.location)
        }
        if !exists && !create {
            throw CatalogError(
                "missing", "catalog does not exist; create it with `mixtera scan`", category: .noInput,
                at: DataLocation(path: path))
        }
        if !exists {
            // Create the schema in a private file and rename it into place, so the catalog path
            // never holds a database without a schema (a scan killed at start leaves nothing).
            let tmp = path + ".creating-\(getpid())"
            for p in [tmp, tmp + "-wal", tmp + "-shm"] { unlink(p) }
            do {
                let fresh = try Connection(path: tmp, readOnly: false)
                try fresh.execute("PRAGMA journal_mode=WAL")
                try Self.createSchema(fresh)
            } catch {
                // Nothing half-written stays behind (disk full, file size limit).
                for p in [tmp, tmp + "-wal", tmp + "-shm"] { unlink(p) }
                var e = error
                e.location = DataLocation(path: path)
                throw e
            }
            if rename(tmp, path) != 0 {
                let message = String(cString: strerror(errno))
                unlink(tmp)
                throw CatalogError(
                    "create", "cannot create catalog: \(message)", category: .cannotCreate, at: DataLocation(path: path))
            }
        }
        db = try Connection(path: path, readOnly: !create)
        if create {
            try db.execute("PRAGMA journal_mode=WAL")
            try db.execute("PRAGMA synchronous=NORMAL")
        }
        try migrate(writable: create)
    }

    private func migrate(writable: Bool) throws(CatalogError) {
        let hasMeta = try db.statement("SELECT count(*) FROM sqlite_master WHERE type='table' AND name='meta'")
        _ = try hasMeta.step()
        let present = hasMeta.int(0) > 0
        hasMeta.reset()
        if present {
            let s = try db.statement("SELECT value FROM meta WHERE key='schema_version'")
            let v = try s.step() ? Int(s.text(0)) ?? 0 : 0
            s.reset()
            if v > Schema.version {
                throw CatalogError(
                    "newer-schema",
                    "catalog schema version \(v) is newer than this mixtera supports (\(Schema.version)); upgrade mixtera",
                    at: DataLocation(path: path))
            }
            if v < Schema.migratableFrom {
                throw CatalogError(
                    "old-schema", "catalog schema version \(v) cannot be migrated; rescan into a new catalog",
                    at: DataLocation(path: path))
            }
            // 1 → 2: index blobs of version 2 (version 1 blobs still decode; files written from now
            // on get version 2 blobs) and `datasets.properties_hash`.
            let col = try db.statement("SELECT count(*) FROM pragma_table_info('datasets') WHERE name = 'properties_hash'")
            _ = try col.step()
            hasDatasetHash = col.int(0) > 0
            col.reset()
            if (v < Schema.version || !hasDatasetHash) && writable {
                try db.transaction { () throws(CatalogError) in
                    if !hasDatasetHash { try db.execute("ALTER TABLE datasets ADD COLUMN properties_hash TEXT") }
                    try db.statement("UPDATE meta SET value = ? WHERE key = 'schema_version'").run([.text(String(Schema.version))]
                    )
                }
                hasDatasetHash = true
            }
            return
        }
        guard writable else {
            throw CatalogError("not-a-catalog", "file is not a mixtera catalog", at: DataLocation(path: path))
        }
        try Self.createSchema(db)
    }

    private static func createSchema(_ db: Connection) throws(CatalogError) {
        try db.transaction { () throws(CatalogError) in
            try db.execute(Schema.create)
            try db.statement("INSERT OR REPLACE INTO meta(key, value) VALUES('schema_version', ?)")
                .run([.text(String(Schema.version))])
        }
    }

    // MARK: Locking

    /// Takes the exclusive writer lock (`flock` on `<catalog>.lock`) or fails at once.
    /// - Throws: `CatalogError` with category `.locked` (exit 75) when another process holds it.
    public func lockForWriting() throws(CatalogError) -> CatalogLock {
        try CatalogLock(path: path + ".lock")
    }

    // MARK: Datasets

    /// Inserts or updates a dataset and replaces its property definitions; returns its id.
    /// - Parameters:
    ///   - propertiesHash: the hash files indexed with the current declarations carry
    ///     (`CatalogFile.propertiesHash`); files with another hash are stale until rescanned.
    public func upsertDataset(
        name: String, root: String, format: String, textField: String?, tokensField: String?,
        properties: [CatalogProperty], propertiesHash: String? = nil
    ) throws(CatalogError) -> Int64 {
        try db.transaction { () throws(CatalogError) -> Int64 in
            let find = try db.statement("SELECT id FROM datasets WHERE name = ?")
            find.bind([.text(name)])
            var id: Int64
            if try find.step() {
                id = find.int(0)
                find.reset()
                try db.statement(
                    "UPDATE datasets SET root = ?, format = ?, text_field = ?, tokens_field = ?, properties_hash = ? WHERE id = ?"
                ).run([
                    .text(root), .text(format), textField.map { .text($0) } ?? .null, tokensField.map { .text($0) } ?? .null,
                    propertiesHash.map { .text($0) } ?? .null, .int(id),
                ])
            } else {
                find.reset()
                try db.statement(
                    "INSERT INTO datasets(name, root, format, text_field, tokens_field, properties_hash) VALUES(?, ?, ?, ?, ?, ?)"
                ).run([
                    .text(name), .text(root), .text(format), textField.map { .text($0) } ?? .null,
                    tokensField.map { .text($0) } ?? .null, propertiesHash.map { .text($0) } ?? .null,
                ])
                id = db.lastInsertRowID
            }
            // Property definitions: keep rows if unchanged, else replace.
            let existing = try self.properties(datasetID: id)
            if existing != properties {
                try db.statement("DELETE FROM properties WHERE dataset_id = ?").run([.int(id)])
                for (i, p) in properties.enumerated() {
                    try db.statement(
                        "INSERT INTO properties(dataset_id, position, name, type, categorical, source) VALUES(?, ?, ?, ?, ?, ?)"
                    ).run([
                        .int(id), .int(Int64(i)), .text(p.name), .text(p.type.rawValue), .int(p.type.isCategorical ? 1 : 0),
                        .text(p.source),
                    ])
                }
                // Categorical key encodings depend on the property list: drop keys (files get rescanned).
                if existing.filter({ $0.type.isCategorical }) != properties.filter({ $0.type.isCategorical }) {
                    try db.statement("DELETE FROM keys WHERE dataset_id = ?").run([.int(id)])
                }
            }
            return id
        }
    }

    func properties(datasetID: Int64) throws(CatalogError) -> [CatalogProperty] {
        let s = try db.statement("SELECT name, type, source FROM properties WHERE dataset_id = ? ORDER BY position")
        s.bind([.int(datasetID)])
        var out: [CatalogProperty] = []
        while try s.step() {
            out.append(CatalogProperty(name: s.text(0), type: PropertyType(rawValue: s.text(1)) ?? .string, source: s.text(2)))
        }
        return out
    }

    /// All datasets, ordered by name.
    public func datasets() throws(CatalogError) -> [CatalogDataset] {
        let hash = hasDatasetHash ? "properties_hash" : "NULL"
        let s = try db.statement("SELECT id, name, root, format, text_field, tokens_field, \(hash) FROM datasets ORDER BY name")
        var rows: [(Int64, String, String, String, String?, String?, String?)] = []
        while try s.step() {
            rows.append(
                (
                    s.int(0), s.text(1), s.text(2), s.text(3), s.isNull(4) ? nil : s.text(4), s.isNull(5) ? nil : s.text(5),
                    s.isNull(6) ? nil : s.text(6)
                ))
        }
        var out: [CatalogDataset] = []
        for r in rows {
            out.append(
                CatalogDataset(
                    id: r.0, name: r.1, root: r.2, format: r.3, textField: r.4, tokensField: r.5,
                    properties: try properties(datasetID: r.0), propertiesHash: r.6))
        }
        return out
    }

    // MARK: Files

    /// Files of a dataset (all states), ordered by relative path (bytewise).
    public func files(datasetID: Int64) throws(CatalogError) -> [CatalogFile] {
        let s = try db.statement(
            """
            SELECT id, dataset_id, rel_path, format, compression, byte_count, mtime_ns, fingerprint, sample_count,
                   skipped_count, state, properties_hash
            FROM files WHERE dataset_id = ? ORDER BY rel_path
            """)
        s.bind([.int(datasetID)])
        var out: [CatalogFile] = []
        while try s.step() {
            out.append(
                CatalogFile(
                    id: s.int(0), datasetID: s.int(1), relativePath: s.text(2), format: s.text(3),
                    compression: s.text(4), byteCount: s.int(5), mtimeNanoseconds: s.int(6), fingerprint: s.text(7),
                    sampleCount: s.int(8), skippedCount: s.int(9), state: FileState(rawValue: s.text(10)) ?? .ok,
                    propertiesHash: s.text(11)))
        }
        // SQLite orders TEXT with BINARY collation, i.e. bytewise: stable across machines.
        return out
    }

    /// Stores one scanned file and its index in a single transaction: interns the file's key
    /// combinations (encoded with `encodeKey`) and writes the blob with sample keys mapped to catalog ids.
    /// New keys get ids in the order their first sample appears (keys no sample uses are not stored),
    /// so ids depend only on the order files are committed, never on a scanner's internal tables.
    /// - Parameters:
    ///   - localKeys: the file's distinct categorical combinations; `index.sampleKeys` index into it.
    public func storeFile(_ file: CatalogFile, localKeys: [[PropertyValue]], index: FileIndex) throws(CatalogError) {
        var f = file
        f.state = .ok
        try storeFileRow(f, localKeys: localKeys, index: index)
    }

    /// `storeFile` keeping `file.state` (merge copies removed files too).
    func storeFileRow(_ file: CatalogFile, localKeys: [[PropertyValue]], index: FileIndex) throws(CatalogError) {
        try db.transaction { () throws(CatalogError) in
            var mapping = [UInt32?](repeating: nil, count: localKeys.count)
            let find = try db.statement("SELECT id FROM keys WHERE dataset_id = ? AND encoded = ?")
            var global = index
            for (row, local) in index.sampleKeys.enumerated() {
                let l = Int(local)
                guard l < localKeys.count else {
                    throw CatalogError(
                        "bad-index", "sample key \(l) of \(file.relativePath) is outside its key table", category: .software)
                }
                if let g = mapping[l] {
                    global.sampleKeys[row] = g
                    continue
                }
                let enc = Self.encodeKey(localKeys[l])
                find.bind([.int(file.datasetID), .blob(enc)])
                let g: UInt32
                if try find.step() {
                    g = UInt32(find.int(0))
                    find.reset()
                } else {
                    find.reset()
                    try db.statement("INSERT INTO keys(dataset_id, encoded) VALUES(?, ?)").run([.int(file.datasetID), .blob(enc)])
                    g = UInt32(db.lastInsertRowID)
                }
                mapping[l] = g
                global.sampleKeys[row] = g
            }
            let blob = FileIndexCodec.encode(global)
            try db.statement(
                """
                INSERT INTO files(dataset_id, rel_path, format, compression, byte_count, mtime_ns, fingerprint,
                                  sample_count, skipped_count, state, properties_hash, index_blob)
                VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT(dataset_id, rel_path) DO UPDATE SET
                  format = excluded.format, compression = excluded.compression, byte_count = excluded.byte_count,
                  mtime_ns = excluded.mtime_ns, fingerprint = excluded.fingerprint,
                  sample_count = excluded.sample_count, skipped_count = excluded.skipped_count, state = excluded.state,
                  properties_hash = excluded.properties_hash, index_blob = excluded.index_blob
                """
            ).run([
                .int(file.datasetID), .text(file.relativePath), .text(file.format), .text(file.compression),
                .int(file.byteCount), .int(file.mtimeNanoseconds), .text(file.fingerprint), .int(file.sampleCount),
                .int(file.skippedCount), .text(file.state.rawValue), .text(file.propertiesHash), .blob(blob),
            ])
        }
    }

    /// Marks files as removed (kept for lineage, excluded from planning).
    public func markRemoved(fileIDs: [Int64]) throws(CatalogError) {
        guard !fileIDs.isEmpty else { return }
        try db.transaction { () throws(CatalogError) in
            for id in fileIDs { try db.statement("UPDATE files SET state = 'removed' WHERE id = ?").run([.int(id)]) }
        }
    }

    /// Updates only the mtime of an unchanged (same size and fingerprint) file.
    public func touch(fileID: Int64, mtimeNanoseconds: Int64) throws(CatalogError) {
        try db.statement("UPDATE files SET mtime_ns = ? WHERE id = ?").run([.int(mtimeNanoseconds), .int(fileID)])
    }

    /// Decodes a file's index blob.
    /// - Parameter sizes: when false, `textBytes` is empty and `tokens` nil (not decoded).
    public func index(of file: CatalogFile, sizes: Bool = true) throws(CatalogError) -> FileIndex {
        let s = try db.statement("SELECT index_blob FROM files WHERE id = ?")
        s.bind([.int(file.id)])
        guard try s.step() else {
            throw CatalogError("missing", "file \(file.relativePath) is not in the catalog")
        }
        let blob = s.blob(0)
        s.reset()
        return try FileIndexCodec.decode(blob, path: file.relativePath, sizes: sizes)
    }

    /// Caps the connection's page cache at about `kibibytes` KiB (SQLite's default is 2 MiB). Bulk
    /// readers of index blobs read every page once, so a small cache costs nothing.
    public func limitPageCache(kibibytes: Int) throws(CatalogError) {
        try db.execute("PRAGMA cache_size = -\(max(1, kibibytes))")
    }

    /// Frees the connection's cached pages (after bulk reads, before memory-heavy work).
    /// The corresponding C function is `sqlite3_db_release_memory`.
    public func releaseMemory() { sqlite3_db_release_memory(db.handle) }

    /// The catalog's key combinations of a dataset: id → values in categorical-property order.
    public func keys(datasetID: Int64) throws(CatalogError) -> [(id: UInt32, values: [PropertyValue])] {
        let s = try db.statement("SELECT id, encoded FROM keys WHERE dataset_id = ? ORDER BY id")
        s.bind([.int(datasetID)])
        var out: [(UInt32, [PropertyValue])] = []
        while try s.step() { out.append((UInt32(s.int(0)), Self.decodeKey(s.blob(1)))) }
        return out
    }

    /// Total bytes of index blobs (for size reports).
    public func indexBytes() throws(CatalogError) -> Int64 {
        let s = try db.statement("SELECT coalesce(sum(length(index_blob)), 0) FROM files")
        _ = try s.step()
        defer { s.reset() }
        return s.int(0)
    }

    /// A fingerprint of the catalog's logical content: datasets, property definitions and, per live
    /// file, its path, content fingerprint and sample count. Independent of ids and scan order.
    public func contentFingerprint() throws(CatalogError) -> String {
        var w = ByteWriter()
        for d in try datasets() {
            w.write(d.name.utf8)
            w.writeUInt8(0)
            for p in d.properties {
                w.write("\(p.name):\(p.type.rawValue):\(p.source)".utf8)
                w.writeUInt8(0)
            }
            for f in try files(datasetID: d.id) where f.state == .ok {
                w.write(f.relativePath.utf8)
                w.writeUInt8(0)
                w.write(f.fingerprint.utf8)
                w.writeVarint(UInt64(f.sampleCount))
                w.write(f.propertiesHash.utf8)
            }
        }
        return XXH3.hex(XXH3.hash(w.bytes))
    }

    /// Key encoding: per categorical property, varint length + `CategoricalEncoding` bytes.
    public static func encodeKey(_ values: [PropertyValue]) -> [UInt8] {
        var w = ByteWriter()
        for v in values {
            let e = CategoricalEncoding.encode(v)
            w.writeVarint(e.count)
            w.write(e)
        }
        return w.bytes
    }

    public static func decodeKey(_ bytes: [UInt8]) -> [PropertyValue] {
        var r = ByteReader(bytes)
        var out: [PropertyValue] = []
        while !r.isAtEnd {
            guard let n = try? r.readVarint(), let b = try? r.readBytes(Int(n)) else { break }
            out.append(CategoricalEncoding.decode(b))
        }
        return out
    }
}

/// An exclusive, process-wide writer lock on a catalog, released on `release()`, deinit or process exit.
public final class CatalogLock {
    private var fd: Int32

    init(path: String) throws(CatalogError) {
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        if fd < 0 {
            throw CatalogError(
                "lock", "cannot create lock file: \(String(cString: strerror(errno)))", category: .cannotCreate,
                at: DataLocation(path: path))
        }
        if flock(fd, LOCK_EX | LOCK_NB) != 0 {
            close(fd)
            fd = -1
            throw CatalogError(
                "locked", "catalog is locked by another mixtera process; wait for it to finish", category: .locked,
                at: DataLocation(path: path))
        }
    }

    public func release() {
        if fd >= 0 {
            flock(fd, LOCK_UN)
            close(fd)
            fd = -1
        }
    }

    deinit { release() }
}

import CSQLite
import MixteraCore

let SQLITE_TRANSIENT = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

/// A thin owner of one `sqlite3*` connection. Extended result codes are on; every failure becomes a
/// `CatalogError` carrying the code, `sqlite3_errmsg` and the SQL (never bound values).
final class Connection {
    let handle: OpaquePointer
    let path: String
    private var cache: [String: Statement] = [:]

    /// The corresponding C function is `sqlite3_open_v2`.
    init(path: String, readOnly: Bool) throws(CatalogError) {
        self.path = path
        var db: OpaquePointer?
        // Readers open read-write when they can (without creating), so the last connection to close
        // checkpoints and removes the WAL; read-only media fall back to SQLITE_OPEN_READONLY.
        let flags = readOnly ? SQLITE_OPEN_READWRITE : (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE)
        var rc = sqlite3_open_v2(path, &db, flags | SQLITE_OPEN_NOMUTEX, nil)
        if rc != SQLITE_OK && readOnly {
            sqlite3_close_v2(db)
            db = nil
            rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, nil)
        }
        guard rc == SQLITE_OK, let db else {
            let msg = db.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory"
            sqlite3_close_v2(db)
            throw CatalogError(
                "open", "cannot open catalog: \(msg.lowercased())", category: readOnly ? .noInput : .cannotCreate,
                at: DataLocation(path: path), sqliteCode: rc)
        }
        handle = db
        sqlite3_extended_result_codes(db, 1)
        sqlite3_busy_timeout(db, 5000)
    }

    deinit {
        cache.removeAll()
        sqlite3_close_v2(handle)
    }

    func error(_ rc: Int32, sql: String?) -> CatalogError {
        let msg = String(cString: sqlite3_errmsg(handle)).lowercased()
        let base = rc & 0xFF
        let category: ErrorCategory
        switch base {
        case SQLITE_BUSY, SQLITE_LOCKED: category = .locked
        case SQLITE_CORRUPT, SQLITE_NOTADB: category = .data
        case SQLITE_FULL, SQLITE_IOERR: category = .io
        case SQLITE_READONLY, SQLITE_CANTOPEN: category = .cannotCreate
        default: category = .software
        }
        return CatalogError(
            base == SQLITE_CORRUPT || base == SQLITE_NOTADB ? "corrupt" : "sqlite",
            "sqlite error \(rc): \(msg)", category: category, at: DataLocation(path: path), sqliteCode: rc, sql: sql)
    }

    /// Runs one or more statements without results. The corresponding C function is `sqlite3_exec`.
    func execute(_ sql: String) throws(CatalogError) {
        let rc = sqlite3_exec(handle, sql, nil, nil, nil)
        if rc != SQLITE_OK { throw error(rc, sql: sql) }
    }

    /// A cached prepared statement, reset and with bindings cleared.
    func statement(_ sql: String) throws(CatalogError) -> Statement {
        if let s = cache[sql] {
            s.reset()
            return s
        }
        let s = try Statement(connection: self, sql: sql)
        cache[sql] = s
        return s
    }

    private var transactionDepth = 0

    /// Runs `body` inside `BEGIN IMMEDIATE … COMMIT`; a throw rolls back and the body's error wins.
    /// Nested calls join the outermost transaction.
    func transaction<T>(_ body: () throws(CatalogError) -> T) throws(CatalogError) -> T {
        if transactionDepth > 0 {
            transactionDepth += 1
            defer { transactionDepth -= 1 }
            return try body()
        }
        try execute("BEGIN IMMEDIATE")
        transactionDepth = 1
        do {
            let v = try body()
            transactionDepth = 0
            try execute("COMMIT")
            return v
        } catch {
            transactionDepth = 0
            _ = sqlite3_exec(handle, "ROLLBACK", nil, nil, nil)
            throw error
        }
    }

    var lastInsertRowID: Int64 { sqlite3_last_insert_rowid(handle) }
}

/// A prepared statement. The corresponding C functions are `sqlite3_prepare_v3`, `sqlite3_bind_*`,
/// `sqlite3_step`, `sqlite3_column_*`, `sqlite3_finalize`.
final class Statement {
    let handle: OpaquePointer
    unowned let connection: Connection
    let sql: String

    init(connection: Connection, sql: String) throws(CatalogError) {
        var stmt: OpaquePointer?
        let rc = sqlite3_prepare_v3(connection.handle, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &stmt, nil)
        guard rc == SQLITE_OK, let stmt else { throw connection.error(rc, sql: sql) }
        handle = stmt
        self.connection = connection
        self.sql = sql
    }

    deinit { sqlite3_finalize(handle) }

    func reset() {
        sqlite3_reset(handle)
        sqlite3_clear_bindings(handle)
    }

    @discardableResult
    func bind(_ values: [SQLValue]) -> Statement {
        for (i, v) in values.enumerated() {
            let idx = Int32(i + 1)
            switch v {
            case .null: sqlite3_bind_null(handle, idx)
            case .int(let x): sqlite3_bind_int64(handle, idx, x)
            case .double(let x): sqlite3_bind_double(handle, idx, x)
            case .text(let s): sqlite3_bind_text(handle, idx, s, -1, SQLITE_TRANSIENT)
            case .blob(let b):
                b.withUnsafeBytes { p in
                    _ = sqlite3_bind_blob64(
                        handle, idx, p.baseAddress ?? UnsafeRawPointer(bitPattern: 1), UInt64(p.count), SQLITE_TRANSIENT)
                }
            }
        }
        return self
    }

    /// Steps once; true when a row is available.
    func step() throws(CatalogError) -> Bool {
        let rc = sqlite3_step(handle)
        if rc == SQLITE_ROW { return true }
        if rc == SQLITE_DONE { return false }
        throw connection.error(rc, sql: sql)
    }

    func run(_ values: [SQLValue] = []) throws(CatalogError) {
        bind(values)
        while try step() {}
        sqlite3_reset(handle)
    }

    func int(_ i: Int32) -> Int64 { sqlite3_column_int64(handle, i) }
    func double(_ i: Int32) -> Double { sqlite3_column_double(handle, i) }
    func isNull(_ i: Int32) -> Bool { sqlite3_column_type(handle, i) == SQLITE_NULL }
    func text(_ i: Int32) -> String {
        guard let p = sqlite3_column_text(handle, i) else { return "" }
        return String(cString: p)
    }
    func blob(_ i: Int32) -> [UInt8] {
        let n = Int(sqlite3_column_bytes(handle, i))
        guard n > 0, let p = sqlite3_column_blob(handle, i) else { return [] }
        return Array(UnsafeRawBufferPointer(start: p, count: n))
    }
}

enum SQLValue {
    case null
    case int(Int64)
    case double(Double)
    case text(String)
    case blob([UInt8])
}

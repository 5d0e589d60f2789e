import MixteraCore

/// A catalog problem: SQLite errors (with the extended result code and the SQL, never bound values),
/// schema versions, locks, corrupt index blobs.
public struct CatalogError: MixteraError, Sendable {
    public var kind: String
    public var category: ErrorCategory
    public var location: DataLocation?
    public var message: String
    /// SQLite extended result code, when the error came from SQLite.
    public var sqliteCode: Int32?
    public var sql: String?

    public init(
        _ kind: String, _ message: String, category: ErrorCategory = .data, at location: DataLocation? = nil,
        sqliteCode: Int32? = nil, sql: String? = nil
    ) {
        self.kind = kind
        self.message = message
        self.category = category
        self.location = location
        self.sqliteCode = sqliteCode
        self.sql = sql
    }
}

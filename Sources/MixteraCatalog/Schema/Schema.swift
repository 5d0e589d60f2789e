/// The catalog schema (docs/catalog-schema.md). Version history:
/// - 1: datasets, properties, keys, files with one zstd-compressed index blob per file.
/// - 2: index blobs of version 2 (byte planes; version 1 blobs still decode) and
///   `datasets.properties_hash`; a version 1 catalog is migrated when opened for writing.
enum Schema {
    static let version = 2
    /// The oldest version this binary reads and migrates.
    static let migratableFrom = 1

    static let create = """
        CREATE TABLE IF NOT EXISTS meta(
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL
        ) STRICT;
        CREATE TABLE IF NOT EXISTS datasets(
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            root TEXT NOT NULL,
            format TEXT NOT NULL,
            text_field TEXT,
            tokens_field TEXT,
            properties_hash TEXT
        ) STRICT;
        CREATE TABLE IF NOT EXISTS properties(
            dataset_id INTEGER NOT NULL REFERENCES datasets(id),
            position INTEGER NOT NULL,
            name TEXT NOT NULL,
            type TEXT NOT NULL,
            categorical INTEGER NOT NULL,
            source TEXT NOT NULL,
            PRIMARY KEY(dataset_id, name)
        ) STRICT;
        CREATE TABLE IF NOT EXISTS keys(
            id INTEGER PRIMARY KEY,
            dataset_id INTEGER NOT NULL REFERENCES datasets(id),
            encoded BLOB NOT NULL,
            UNIQUE(dataset_id, encoded)
        ) STRICT;
        CREATE TABLE IF NOT EXISTS files(
            id INTEGER PRIMARY KEY,
            dataset_id INTEGER NOT NULL REFERENCES datasets(id),
            rel_path TEXT NOT NULL,
            format TEXT NOT NULL,
            compression TEXT NOT NULL,
            byte_count INTEGER NOT NULL,
            mtime_ns INTEGER NOT NULL,
            fingerprint TEXT NOT NULL,
            sample_count INTEGER NOT NULL,
            skipped_count INTEGER NOT NULL,
            state TEXT NOT NULL,
            properties_hash TEXT NOT NULL,
            index_blob BLOB NOT NULL,
            UNIQUE(dataset_id, rel_path)
        ) STRICT;
        """
}

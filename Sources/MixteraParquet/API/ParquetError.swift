import MixteraCore

/// A problem reading a Parquet file: bad magic, a corrupt footer or page, an unsupported codec or encoding.
///
/// `location` carries the file path and, where known, the byte offset, row group, column path and page index
/// (0-based, counting every page of the column chunk including the dictionary page).
public struct ParquetError: MixteraError, Sendable {
    /// Stable error codes; tests and `--json` output use `rawValue`.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        public let rawValue: String
        public init(_ raw: String) { rawValue = raw }
        public var description: String { rawValue }

        /// The file does not start or end with `PAR1`.
        public static let badMagic = Code("bad-magic")
        /// The footer length or the Thrift-encoded `FileMetaData` is invalid.
        public static let corruptFooter = Code("corrupt-footer")
        /// A page header or page body is invalid (bad levels, bad lengths, bad encoded data).
        public static let corruptPage = Code("corrupt-page")
        /// A page or column chunk extends past its bounds.
        public static let truncatedPage = Code("truncated-page")
        /// A page's CRC32 does not match its bytes.
        public static let crcMismatch = Code("crc-mismatch")
        /// The column chunk uses a codec this reader does not implement (LZO) or an unknown one.
        public static let unsupportedCodec = Code("unsupported-codec")
        /// A page uses an encoding this reader does not implement for the column's type.
        public static let unsupportedEncoding = Code("unsupported-encoding")
        /// The schema uses a physical type or nesting this reader cannot decode.
        public static let unsupportedType = Code("unsupported-type")
        /// The file uses Parquet modular encryption.
        public static let encrypted = Code("encrypted")
        /// The pages of a column chunk hold a different number of values or rows than the metadata says.
        public static let valueCountMismatch = Code("value-count-mismatch")
        /// Decompressing a page failed.
        public static let decompression = Code("decompression")
        /// A requested column path does not exist in the schema.
        public static let noSuchColumn = Code("no-such-column")
        /// A requested row range is outside the file.
        public static let rowOutOfRange = Code("row-out-of-range")
        /// Opening or reading the file failed.
        public static let io = Code("io")
    }

    public var code: Code
    public var location: DataLocation?
    public var message: String
    public var category: ErrorCategory
    public var kind: String { code.rawValue }

    public init(_ code: Code, _ message: String, at location: DataLocation? = nil, category: ErrorCategory = .data) {
        self.code = code
        self.message = message
        self.location = location
        self.category = category
    }

    init(_ core: CoreError) {
        self.init(.io, core.message, at: core.location, category: core.category)
        if core.kind == "truncated" { code = .truncatedPage }
    }

    /// Fills in the location fields that are still unknown.
    func located(path: String, byteOffset: Int64? = nil, rowGroup: Int? = nil, column: String? = nil, page: Int? = nil)
        -> ParquetError
    {
        var e = self
        var loc = e.location ?? DataLocation(path: path)
        if loc.path.isEmpty { loc.path = path }
        if loc.byteOffset == nil { loc.byteOffset = byteOffset }
        if loc.rowGroup == nil { loc.rowGroup = rowGroup }
        if loc.columnName == nil { loc.columnName = column }
        if loc.page == nil { loc.page = page }
        e.location = loc
        return e
    }
}

/// Cold error builders used by the decoders (no location yet; the page reader adds it).
@inline(never)
func corruptPage(_ message: String) -> ParquetError { ParquetError(.corruptPage, message) }

@inline(never)
func truncated(_ what: String, need: Int, have: Int) -> ParquetError {
    ParquetError(.truncatedPage, "\(what) needs \(need) bytes but only \(have) remain; the file is truncated or corrupt")
}

import MixteraCore

/// A problem reading a shard: invalid JSON, a type mismatch, a truncated archive, a decompression failure.
public struct FormatError: MixteraError, Sendable {
    /// Stable kinds (tests and `--json` output use them).
    public struct Kind: Sendable, Hashable, CustomStringConvertible {
        public let rawValue: String
        public init(_ raw: String) { rawValue = raw }
        public var description: String { rawValue }

        public static let invalidJSON = Kind("invalid-json")
        public static let notAnObject = Kind("not-an-object")
        public static let typeMismatch = Kind("type-mismatch")
        public static let missingField = Kind("missing-field")
        public static let lineTooLong = Kind("line-too-long")
        public static let invalidUTF8 = Kind("invalid-utf8")
        public static let numberOutOfRange = Kind("number-out-of-range")
        public static let decompression = Kind("decompression")
        public static let truncated = Kind("truncated")
        public static let badArchive = Kind("bad-archive")
        public static let unsupported = Kind("unsupported")
        public static let io = Kind("io")
    }

    public var code: Kind
    public var location: DataLocation?
    public var message: String
    public var category: ErrorCategory
    public var kind: String { code.rawValue }

    public init(_ code: Kind, _ message: String, at location: DataLocation?, category: ErrorCategory = .data) {
        self.code = code
        self.message = message
        self.location = location
        self.category = category
    }

    public init(_ core: CoreError) {
        self.init(Kind(core.kind), core.message, at: core.location, category: core.category)
    }
}

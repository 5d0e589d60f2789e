import MixteraCore

/// A manifest that cannot be read or trusted: bad magic, unsupported version, checksum mismatch,
/// truncation, a step out of range.
public struct ManifestError: MixteraError, Sendable {
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
}

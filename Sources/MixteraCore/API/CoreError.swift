/// Errors from the core layer: file I/O and compression primitives.
public struct CoreError: MixteraError, Sendable {
    public var category: ErrorCategory
    public var kind: String
    public var location: DataLocation?
    public var message: String

    public init(_ category: ErrorCategory, kind: String, _ message: String, at location: DataLocation? = nil) {
        self.category = category
        self.kind = kind
        self.message = message
        self.location = location
    }
}

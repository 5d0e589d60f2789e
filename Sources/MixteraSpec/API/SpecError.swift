import MixteraCore

/// A problem in a dataset or build spec, located at `spec.yaml:line:column`.
public struct SpecError: MixteraError, Sendable {
    public var category: ErrorCategory
    public var kind: String
    public var location: DataLocation?
    public var message: String

    public init(_ kind: String, _ message: String, at location: DataLocation?, category: ErrorCategory = .data) {
        self.kind = kind
        self.message = message
        self.location = location
        self.category = category
    }
}

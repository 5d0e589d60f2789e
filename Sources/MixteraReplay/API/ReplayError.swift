import MixteraCore

/// Replay cannot proceed: a data file changed or is missing, a manifest problem, a record that no
/// longer parses.
public struct ReplayError: MixteraError, Sendable {
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

    public init(_ e: some MixteraError) {
        self.init(e.kind, e.message, at: e.location, category: e.category)
    }
}

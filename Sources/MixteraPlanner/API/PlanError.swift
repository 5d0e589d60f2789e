import MixteraCore

/// A mixture, schedule or topology that cannot be planned.
public struct PlanError: MixteraError, Sendable {
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

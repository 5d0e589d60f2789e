/// Where in the input a problem was found.
///
/// Text formats render as `path:line:column`; binary formats as
/// `path@offset (row group 2, column "text", page 5)`; tar members as `path@offset (member "a/b.txt")`.
/// Lines and columns are 1-based, byte offsets 0-based.
public struct DataLocation: Sendable, Hashable, CustomStringConvertible {
    public var path: String
    public var line: Int?
    public var column: Int?
    public var byteOffset: Int64?
    public var member: String?
    public var rowGroup: Int?
    public var columnName: String?
    public var page: Int?

    public init(
        path: String, line: Int? = nil, column: Int? = nil, byteOffset: Int64? = nil, member: String? = nil,
        rowGroup: Int? = nil, columnName: String? = nil, page: Int? = nil
    ) {
        self.path = path
        self.line = line
        self.column = column
        self.byteOffset = byteOffset
        self.member = member
        self.rowGroup = rowGroup
        self.columnName = columnName
        self.page = page
    }

    public var description: String {
        var s = path
        if let line {
            s += ":\(line)"
            if let column { s += ":\(column)" }
            return s
        }
        if let byteOffset { s += "@\(byteOffset)" }
        var parts: [String] = []
        if let member { parts.append("member \"\(member)\"") }
        if let rowGroup { parts.append("row group \(rowGroup)") }
        if let columnName { parts.append("column \"\(columnName)\"") }
        if let page { parts.append("page \(page)") }
        if !parts.isEmpty { s += " (" + parts.joined(separator: ", ") + ")" }
        return s
    }
}

/// The documented failure categories shared by every layer; the CLI maps each to one exit code
/// (see `docs/errors.md`).
public enum ErrorCategory: String, Sendable {
    /// Bad command-line usage (exit 64).
    case usage
    /// Bad input data, spec, query, mixture, manifest or a mismatch (exit 65).
    case data
    /// A required input does not exist (exit 66).
    case noInput
    /// A bug in mixtera (exit 70).
    case software
    /// An output cannot be created (exit 73).
    case cannotCreate
    /// A read or write failed (exit 74).
    case io
    /// The catalog is locked by another process (exit 75).
    case locked
}

/// Implemented by every layer's error type so the CLI can print and map them in one place.
public protocol MixteraError: Error, CustomStringConvertible {
    var category: ErrorCategory { get }
    var location: DataLocation? { get }
    /// The message without location, lowercase, no trailing period.
    var message: String { get }
    /// A short stable identifier of the error kind, e.g. `invalid-json`.
    var kind: String { get }
}

extension MixteraError {
    public var description: String {
        if let location { return "\(location): \(message)" }
        return message
    }
}

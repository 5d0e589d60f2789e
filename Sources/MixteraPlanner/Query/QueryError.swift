import MixteraCore

/// An error in a query or filter expression: bad syntax, an unknown property, a type mismatch or an
/// empty `in` list.
///
/// The location is derived from the location of the expression text (see
/// ``CompiledQuery/compile(_:schema:at:)``): same path and line, column advanced by
/// ``expressionOffset``.
public struct QueryError: MixteraError, Sendable {
    /// Stable kinds (tests and `--json` output use them).
    public struct Kind: Sendable, Hashable, CustomStringConvertible {
        public let rawValue: String
        public init(_ raw: String) { rawValue = raw }
        public var description: String { rawValue }

        /// The text is not a well-formed expression (bad token, bad literal, missing operand, …).
        public static let syntax = Kind("syntax")
        /// The expression names a property that the schema does not declare.
        public static let unknownProperty = Kind("unknown-property")
        /// An operator or literal does not fit the property's type.
        public static let typeMismatch = Kind("type-mismatch")
        /// `in []` or `not in []`.
        public static let emptyList = Kind("empty-list")
    }

    public var code: Kind
    public var location: DataLocation?
    public var message: String
    public var category: ErrorCategory
    /// 0-based offset, in Unicode scalars, of the offending token within the expression text.
    public var expressionOffset: Int?
    public var kind: String { code.rawValue }

    public init(
        _ code: Kind, _ message: String, at location: DataLocation?, expressionOffset: Int? = nil,
        category: ErrorCategory = .data
    ) {
        self.code = code
        self.message = Self.oneLine(message)
        self.location = location
        self.expressionOffset = expressionOffset
        self.category = category
    }

    /// Control characters echoed from the expression (a token, a literal) become `\u{A}`-style
    /// escapes, so that every message is one line.
    static func oneLine(_ message: String) -> String {
        guard message.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) else { return message }
        var out = String.UnicodeScalarView()
        for c in message.unicodeScalars {
            if c.value < 0x20 || c.value == 0x7F {
                out.append(contentsOf: "\\u{\(String(c.value, radix: 16, uppercase: true))}".unicodeScalars)
            } else {
                out.append(c)
            }
        }
        return String(out)
    }

    /// Builds the error for a token at `offset` in an expression whose text starts at `start`.
    static func at(_ code: Kind, _ message: String, offset: Int, start: DataLocation?) -> QueryError {
        var location = start
        if var l = location {
            if let column = l.column { l.column = column + offset }
            location = l
        }
        return QueryError(code, message, at: location, expressionOffset: offset)
    }
}

import MixteraSpec

/// The properties a query may reference. A property's index is its position in the list given to
/// ``init(_:)``; compiled queries and residuals refer to properties by that index.
public struct QuerySchema: Sendable {
    public struct Property: Sendable, Hashable {
        public var name: String
        public var type: PropertyType
    }

    public let properties: [Property]
    private let indexByName: [String: Int]

    /// - Precondition: names are unique.
    public init(_ properties: [(name: String, type: PropertyType)]) {
        self.properties = properties.map { Property(name: $0.name, type: $0.type) }
        var index: [String: Int] = [:]
        for (i, p) in properties.enumerated() {
            precondition(index[p.name] == nil, "duplicate property name \"\(p.name)\" in query schema")
            index[p.name] = i
        }
        indexByName = index
    }

    /// The index of the property named `name`, or nil.
    public func index(of name: String) -> Int? { indexByName[name] }

    public var count: Int { properties.count }

    public subscript(index: Int) -> Property { properties[index] }
}

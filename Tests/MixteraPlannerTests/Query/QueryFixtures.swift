import MixteraCore
import MixteraSpec
import Testing

@testable import MixteraPlanner

/// The schema most query tests use. Indices: 0 language, 1 langs, 2 quality, 3 year, 4 flag,
/// 5 source, 6 tokens.
enum QueryFixtures {
    static let properties: [(name: String, type: PropertyType)] = [
        ("language", .string), ("langs", .stringList), ("quality", .float), ("year", .int), ("flag", .bool),
        ("source", .string), ("tokens", .int),
    ]
    static let schema = QuerySchema(properties)
    static let start = DataLocation(path: "build.yaml", line: 3, column: 8)

    static func compile(_ text: String, schema: QuerySchema = schema) throws(QueryError) -> CompiledQuery {
        try CompiledQuery.compile(text, schema: schema, at: start)
    }

    /// Evaluates through `specialize` then `evaluate`, checking that each closure only sees the
    /// properties it is documented to see.
    static func evaluate(
        _ query: CompiledQuery, _ values: [Int: PropertyValue], schema: QuerySchema = schema,
        sourceLocation: SourceLocation = #_sourceLocation
    ) -> Bool {
        let referenced = Set(query.referencedProperties)
        let residual = query.specialize { i in
            #expect(schema[i].type.isCategorical, "categorical closure called with \(i)", sourceLocation: sourceLocation)
            #expect(referenced.contains(i), sourceLocation: sourceLocation)
            return values[i] ?? .null
        }
        switch residual {
        case .alwaysTrue: return true
        case .alwaysFalse: return false
        case .numeric(let p):
            let numericReferenced = Set(p.referencedProperties)
            return p.evaluate { i in
                #expect(!schema[i].type.isCategorical, "numeric closure called with \(i)", sourceLocation: sourceLocation)
                #expect(numericReferenced.contains(i), sourceLocation: sourceLocation)
                return values[i] ?? .null
            }
        }
    }
}

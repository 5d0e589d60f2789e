/// One node of the schema tree (a group or a primitive leaf).
public struct ParquetSchemaNode: Sendable, Hashable {
    public var name: String
    /// Names from the first child of the root down to this node (empty for the root).
    public var path: [String]
    /// `path` joined with dots, e.g. `meta.language`.
    public var dottedPath: String { path.joined(separator: ".") }
    /// Nil for the root.
    public var repetition: ParquetRepetition?
    /// Nil for groups.
    public var physicalType: ParquetPhysicalType?
    /// Byte width of FIXED_LEN_BYTE_ARRAY values.
    public var typeLength: Int32?
    public var logicalType: ParquetLogicalType?
    /// Indices into ``ParquetSchema/nodes``.
    public var children: [Int]
    public var parent: Int?
    /// Index into ``ParquetSchema/columns`` for leaves.
    public var columnIndex: Int?
    /// Maximum definition and repetition levels at this node (counting optional/repeated ancestors and itself).
    public var maxDefinitionLevel: Int
    public var maxRepetitionLevel: Int
    public var fieldID: Int32?

    public var isLeaf: Bool { physicalType != nil }
}

/// A leaf column: what a column chunk in every row group stores.
public struct ParquetColumnDescriptor: Sendable, Hashable {
    /// Position among the leaves (= column chunk index in each row group).
    public var index: Int
    /// Index of the leaf in ``ParquetSchema/nodes``.
    public var nodeIndex: Int
    public var path: [String]
    public var dottedPath: String { path.joined(separator: ".") }
    public var physicalType: ParquetPhysicalType
    public var typeLength: Int32?
    public var logicalType: ParquetLogicalType?
    public var repetition: ParquetRepetition
    public var maxDefinitionLevel: Int
    public var maxRepetitionLevel: Int
}

/// The schema as a tree (node 0 is the root) plus the flat list of leaf columns.
public struct ParquetSchema: Sendable, Hashable {
    public var nodes: [ParquetSchemaNode]
    public var columns: [ParquetColumnDescriptor]

    public var root: ParquetSchemaNode { nodes[0] }

    /// The node with this dotted path (`meta.language`), or nil. The empty string names the root.
    public func node(dottedPath: String) -> Int? {
        if dottedPath.isEmpty { return 0 }
        let parts = dottedPath.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        return node(path: parts)
    }

    /// The node with this path (names from the root's child down), or nil.
    public func node(path: [String]) -> Int? {
        var current = 0
        for name in path {
            guard let next = nodes[current].children.first(where: { nodes[$0].name == name }) else { return nil }
            current = next
        }
        return current
    }

    /// The leaf columns at or below a node, in schema order.
    public func leafColumns(under nodeIndex: Int) -> [Int] {
        var out: [Int] = []
        var stack = [nodeIndex]
        while let n = stack.popLast() {
            if let c = nodes[n].columnIndex { out.append(c) }
            stack.append(contentsOf: nodes[n].children.reversed())
        }
        return out
    }

    /// The root's direct children (top-level fields).
    public var topLevelFields: [Int] { nodes[0].children }
}

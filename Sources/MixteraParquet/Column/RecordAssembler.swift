/// Rebuilds per-row values of a schema node from its leaves' Dremel levels.
///
/// Each leaf under the node is assembled on its own (objects hold only that leaf's branch), then the per-leaf
/// trees are merged: siblings share all list shapes above them, so objects merge by field and lists element-wise.
/// LIST groups become lists of their elements (3-level and legacy 2-level layouts); MAP groups become lists of
/// key/value objects.
struct RecordAssembler {
    let schema: ParquetSchema
    /// The requested node.
    let nodeIndex: Int

    /// Assembles rows `[firstRow, firstRow + count)` (relative to the chunk's first row) of one leaf.
    func assemble(leaf chunk: LeafChunk, column: ParquetColumnDescriptor, rows: Range<Int>) throws(ParquetError)
        -> [ParquetValue]
    {
        var chain: [Int] = []
        var n = column.nodeIndex
        while true {
            chain.append(n)
            if n == nodeIndex { break }
            guard let p = schema.nodes[n].parent else { return [] }
            n = p
        }
        chain.reverse()
        let def = chunk.definitionLevels
        let rep = chunk.repetitionLevels
        let maxDef = Int16(column.maxDefinitionLevel)
        // Row starts.
        var starts: [Int] = []
        if rep.isEmpty {
            starts = Array(rows.lowerBound...rows.upperBound)
        } else {
            var row = 0
            for (k, r) in rep.enumerated() where r == 0 {
                if row >= rows.lowerBound && row <= rows.upperBound { starts.append(k) }
                row += 1
                if row > rows.upperBound { break }
            }
            if starts.count == rows.count { starts.append(chunk.levelCount) }
        }
        guard starts.count == rows.count + 1 else {
            throw ParquetError(.valueCountMismatch, "column chunk has fewer rows than requested")
        }
        // Value index of the first entry considered.
        var valueIndex = 0
        if def.isEmpty {
            valueIndex = starts[0]
        } else {
            for k in 0..<starts[0] where def[k] == maxDef { valueIndex += 1 }
        }
        var builder = Builder(
            schema: schema, chain: chain, def: def, rep: rep, maxDef: maxDef,
            converter: LeafValueConverter(values: chunk.values, logical: column.logicalType), valueIndex: valueIndex)
        var out: [ParquetValue] = []
        out.reserveCapacity(rows.count)
        for r in 0..<rows.count {
            out.append(try builder.row(starts[r], starts[r + 1]))
        }
        return out
    }

    struct Builder {
        let schema: ParquetSchema
        let chain: [Int]
        let def: [Int16]
        let rep: [Int16]
        let maxDef: Int16
        let converter: LeafValueConverter
        var valueIndex: Int

        func d(_ k: Int) -> Int { def.isEmpty ? Int(maxDef) : Int(def[k]) }
        func r(_ k: Int) -> Int { rep.isEmpty ? 0 : Int(rep[k]) }

        mutating func row(_ lo: Int, _ hi: Int) throws(ParquetError) -> ParquetValue {
            guard hi > lo else { throw corruptPage("row has no entries") }
            let top = schema.nodes[chain[0]]
            let parentDef = top.parent.map { schema.nodes[$0].maxDefinitionLevel } ?? 0
            let parentRep = top.parent.map { schema.nodes[$0].maxRepetitionLevel } ?? 0
            if parentRep == 0 {
                if d(lo) < parentDef {
                    skip(lo, hi)
                    return .null
                }
                return try node(0, lo, hi)
            }
            // The node sits under a repeated ancestor: collect its instances across the row.
            var items: [ParquetValue] = []
            var s = lo
            while s < hi {
                var e = s + 1
                while e < hi && r(e) > parentRep { e += 1 }
                if d(s) >= parentDef { items.append(try node(0, s, e)) } else { skip(s, e) }
                s = e
            }
            return .list(items)
        }

        /// Advances the value cursor over entries that produce no value.
        mutating func skip(_ lo: Int, _ hi: Int) {
            for k in lo..<hi where d(k) == Int(maxDef) { valueIndex += 1 }
        }

        mutating func node(_ i: Int, _ lo: Int, _ hi: Int) throws(ParquetError) -> ParquetValue {
            let n = schema.nodes[chain[i]]
            guard n.repetition == .repeated else { return try single(i, lo, hi) }
            if d(lo) < n.maxDefinitionLevel {
                skip(lo, hi)
                return .list([])
            }
            var items: [ParquetValue] = []
            var s = lo
            while s < hi {
                var e = s + 1
                while e < hi && r(e) > n.maxRepetitionLevel { e += 1 }
                items.append(try single(i, s, e))
                s = e
            }
            return .list(items)
        }

        mutating func single(_ i: Int, _ lo: Int, _ hi: Int) throws(ParquetError) -> ParquetValue {
            let n = schema.nodes[chain[i]]
            if n.repetition != .required && n.repetition != nil && d(lo) < n.maxDefinitionLevel {
                skip(lo, hi)
                return .null
            }
            if i == chain.count - 1 {
                guard hi - lo == 1 else {
                    throw corruptPage("leaf \"\(n.dottedPath)\" has \(hi - lo) entries in one slot; its levels are corrupt")
                }
                guard d(lo) == Int(maxDef) else { return .null }
                guard valueIndex < converter.values.count else {
                    throw ParquetError(.valueCountMismatch, "levels reference more values than the pages hold")
                }
                defer { valueIndex += 1 }
                return converter.value(valueIndex)
            }
            let child = try node(i + 1, lo, hi)
            let childNode = schema.nodes[chain[i + 1]]
            if n.logicalType == .list, childNode.repetition == .repeated, case .list(let items) = child {
                // 3-level LIST: unwrap the single-child repeated group, unless it is a legacy struct element.
                if !childNode.isLeaf && childNode.children.count == 1 && childNode.name != "array"
                    && childNode.name != n.name + "_tuple"
                {
                    return .list(items.map { if case .object(let f) = $0, f.count == 1 { return f[0].value } else { return $0 } })
                }
                return .list(items)
            }
            if n.logicalType == .map, childNode.repetition == .repeated { return child }
            return .object([ParquetField(childNode.name, child)])
        }
    }

    /// Merges the per-leaf trees of sibling leaves.
    static func merge(_ a: ParquetValue, _ b: ParquetValue) -> ParquetValue {
        switch (a, b) {
        case (.object(var fa), .object(let fb)):
            for f in fb {
                if let i = fa.firstIndex(where: { $0.name == f.name }) {
                    fa[i].value = merge(fa[i].value, f.value)
                } else {
                    fa.append(f)
                }
            }
            return .object(fa)
        case (.list(let xa), .list(let xb)) where xa.count == xb.count:
            var out: [ParquetValue] = []
            out.reserveCapacity(xa.count)
            for i in 0..<xa.count { out.append(merge(xa[i], xb[i])) }
            return .list(out)
        case (.null, _): return b
        default: return a
        }
    }
}

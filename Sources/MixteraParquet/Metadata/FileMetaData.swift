/// The decoded footer (`FileMetaData`), with the schema rebuilt as a tree.
struct FileMetaData: Sendable {
    var version: Int32
    var rowCount: Int64
    var schema: ParquetSchema
    var rowGroups: [ParquetRowGroupInfo]
    var keyValueMetadata: [(key: String, value: String?)]
    var createdBy: String?
}

/// Converts Thrift structs to metadata; every message names the offending field.
enum MetadataDecoder {
    struct Failure: Error { var message: String }

    static func fileMetaData(_ s: ThriftStruct) throws(Failure) -> FileMetaData {
        if s[8] != nil {
            throw Failure(message: "encrypted Parquet is not supported (plaintext footer with encryption_algorithm)")
        }
        guard let elements = s.structList(2), !elements.isEmpty else {
            throw Failure(message: "footer has no schema")
        }
        guard let rowCount = s.int(3), rowCount >= 0 else { throw Failure(message: "footer has no valid num_rows") }
        let schema = try buildSchema(elements)
        var groups: [ParquetRowGroupInfo] = []
        var first: Int64 = 0
        for (i, rg) in (s.structList(4) ?? []).enumerated() {
            let info = try rowGroup(rg, index: i, firstRow: first, schema: schema)
            let (sum, overflow) = first.addingReportingOverflow(info.rowCount)
            if overflow { throw Failure(message: "row counts overflow") }
            first = sum
            groups.append(info)
        }
        var kv: [(String, String?)] = []
        for item in s.structList(5) ?? [] {
            kv.append((item.string(1) ?? "", item.string(2)))
        }
        return FileMetaData(
            version: s.int32(1) ?? 0, rowCount: rowCount, schema: schema, rowGroups: groups, keyValueMetadata: kv,
            createdBy: s.string(6))
    }

    static func buildSchema(_ elements: [ThriftStruct]) throws(Failure) -> ParquetSchema {
        var nodes: [ParquetSchemaNode] = []
        var columns: [ParquetColumnDescriptor] = []
        nodes.reserveCapacity(elements.count)
        var cursor = 0
        // Iterative depth-first rebuild: stack of (node index, children still expected).
        func makeNode(_ e: ThriftStruct, parent: Int?) throws(Failure) -> ParquetSchemaNode {
            let name = e.string(4) ?? ""
            var repetition: ParquetRepetition? = nil
            if parent != nil {
                guard let r = e.int32(3), let rep = ParquetRepetition(rawValue: r) else {
                    throw Failure(message: "schema element \"\(name)\" has an invalid repetition_type")
                }
                repetition = rep
            }
            var physical: ParquetPhysicalType? = nil
            let childCount = e.int32(5) ?? 0
            if let t = e.int32(1), childCount == 0, parent != nil {
                guard let p = ParquetPhysicalType(rawValue: t) else {
                    throw Failure(message: "schema element \"\(name)\" has unknown physical type \(t)")
                }
                physical = p
            }
            var path: [String] = []
            var maxDef = 0
            var maxRep = 0
            if let parent {
                path = nodes[parent].path + [name]
                maxDef = nodes[parent].maxDefinitionLevel + (repetition == .required ? 0 : 1)
                maxRep = nodes[parent].maxRepetitionLevel + (repetition == .repeated ? 1 : 0)
            }
            let logical = logicalType(e)
            if physical == .fixedLenByteArray {
                guard let len = e.int32(2), len >= 0 else {
                    throw Failure(message: "FIXED_LEN_BYTE_ARRAY column \"\(name)\" has no valid type_length")
                }
                _ = len
            }
            return ParquetSchemaNode(
                name: name, path: path, repetition: repetition, physicalType: physical, typeLength: e.int32(2),
                logicalType: logical, children: [], parent: parent, columnIndex: nil, maxDefinitionLevel: maxDef,
                maxRepetitionLevel: maxRep, fieldID: e.int32(9))
        }

        let rootChildren = elements[0].int32(5) ?? 0
        nodes.append(try makeNode(elements[0], parent: nil))
        cursor = 1
        var stack: [(node: Int, left: Int)] = [(0, Int(max(0, rootChildren)))]
        while let top = stack.last {
            if top.left == 0 {
                stack.removeLast()
                continue
            }
            stack[stack.count - 1].left -= 1
            guard cursor < elements.count else {
                throw Failure(message: "schema declares more children than it has elements")
            }
            if stack.count > 64 { throw Failure(message: "schema nested deeper than 64 levels") }
            let e = elements[cursor]
            cursor += 1
            var node = try makeNode(e, parent: top.node)
            let index = nodes.count
            let childCount = Int(e.int32(5) ?? 0)
            if childCount < 0 { throw Failure(message: "schema element \"\(node.name)\" has negative num_children") }
            if node.physicalType == nil && childCount == 0 {
                throw Failure(message: "schema element \"\(node.name)\" has neither a type nor children")
            }
            if let p = node.physicalType {
                node.columnIndex = columns.count
                columns.append(
                    ParquetColumnDescriptor(
                        index: columns.count, nodeIndex: index, path: node.path, physicalType: p,
                        typeLength: node.typeLength, logicalType: node.logicalType, repetition: node.repetition ?? .required,
                        maxDefinitionLevel: node.maxDefinitionLevel, maxRepetitionLevel: node.maxRepetitionLevel))
            }
            nodes.append(node)
            nodes[top.node].children.append(index)
            if childCount > 0 { stack.append((index, childCount)) }
        }
        if cursor != elements.count {
            throw Failure(message: "schema has \(elements.count - cursor) elements not reachable from the root")
        }
        return ParquetSchema(nodes: nodes, columns: columns)
    }

    static func timeUnit(_ s: ThriftStruct?) -> ParquetTimeUnit {
        switch s?.unionCase?.id {
        case 1: .millis
        case 3: .nanos
        default: .micros
        }
    }

    static func logicalType(_ e: ThriftStruct) -> ParquetLogicalType? {
        if let lt = e.structure(10), let (id, body) = lt.unionCase {
            switch id {
            case 1: return .string
            case 2: return .map
            case 3: return .list
            case 4: return .enumeration
            case 5: return .decimal(precision: body.int32(2) ?? 0, scale: body.int32(1) ?? 0)
            case 6: return .date
            case 7: return .time(unit: timeUnit(body.structure(2)), isAdjustedToUTC: body.bool(1) ?? false)
            case 8: return .timestamp(unit: timeUnit(body.structure(2)), isAdjustedToUTC: body.bool(1) ?? false)
            case 10:
                return .integer(bitWidth: Int8(truncatingIfNeeded: body.int(1) ?? 64), isSigned: body.bool(2) ?? true)
            case 11: return .null
            case 12: return .json
            case 13: return .bson
            case 14: return .uuid
            case 15: return .float16
            default: return .other(id)
            }
        }
        guard let ct = e.int32(6) else { return nil }
        switch ct {
        case 0: return .string
        case 1, 2: return .map
        case 3: return .list
        case 4: return .enumeration
        case 5: return .decimal(precision: e.int32(8) ?? 0, scale: e.int32(7) ?? 0)
        case 6: return .date
        case 7: return .time(unit: .millis, isAdjustedToUTC: true)
        case 8: return .time(unit: .micros, isAdjustedToUTC: true)
        case 9: return .timestamp(unit: .millis, isAdjustedToUTC: true)
        case 10: return .timestamp(unit: .micros, isAdjustedToUTC: true)
        case 11: return .integer(bitWidth: 8, isSigned: false)
        case 12: return .integer(bitWidth: 16, isSigned: false)
        case 13: return .integer(bitWidth: 32, isSigned: false)
        case 14: return .integer(bitWidth: 64, isSigned: false)
        case 15: return .integer(bitWidth: 8, isSigned: true)
        case 16: return .integer(bitWidth: 16, isSigned: true)
        case 17: return .integer(bitWidth: 32, isSigned: true)
        case 18: return .integer(bitWidth: 64, isSigned: true)
        case 19: return .json
        case 20: return .bson
        case 21: return .interval
        default: return nil
        }
    }

    static func rowGroup(_ s: ThriftStruct, index: Int, firstRow: Int64, schema: ParquetSchema) throws(Failure)
        -> ParquetRowGroupInfo
    {
        guard let rows = s.int(3), rows >= 0 else {
            throw Failure(message: "row group \(index) has no valid num_rows")
        }
        let chunks = s.structList(1) ?? []
        guard chunks.count == schema.columns.count else {
            throw Failure(
                message: "row group \(index) has \(chunks.count) column chunks but the schema has \(schema.columns.count) columns"
            )
        }
        var infos: [ParquetColumnChunkInfo] = []
        infos.reserveCapacity(chunks.count)
        for (c, chunk) in chunks.enumerated() {
            let name = schema.columns[c].dottedPath
            if chunk[8] != nil || chunk[9] != nil {
                throw Failure(message: "encrypted Parquet is not supported (column \"\(name)\" is encrypted)")
            }
            if let fp = chunk.string(1), !fp.isEmpty {
                throw Failure(message: "column \"\(name)\" is stored in external file \"\(fp)\", which is not supported")
            }
            guard let md = chunk.structure(3) else {
                throw Failure(message: "row group \(index) column \"\(name)\" has no meta_data")
            }
            guard let codec = md.int32(4), let values = md.int(5), values >= 0,
                let total = md.int(7), total >= 0, let dataOffset = md.int(9), dataOffset >= 0
            else {
                throw Failure(message: "row group \(index) column \"\(name)\" has incomplete column metadata")
            }
            var encodings: [Int32] = []
            for v in md.list(2) ?? [] { if case .int(let e) = v { encodings.append(Int32(truncatingIfNeeded: e)) } }
            infos.append(
                ParquetColumnChunkInfo(
                    columnIndex: c, physicalType: schema.columns[c].physicalType,
                    compression: ParquetCompression(rawValue: codec) ?? .lzo, codecNumber: codec, encodings: encodings,
                    valueCount: values, totalCompressedByteCount: total, totalUncompressedByteCount: md.int(6) ?? 0,
                    dataPageOffset: dataOffset, dictionaryPageOffset: md.int(11),
                    offsetIndexOffset: chunk.int(4), offsetIndexByteCount: chunk.int32(5),
                    nullCount: md.structure(12)?.int(3)))
        }
        return ParquetRowGroupInfo(
            index: index, rowCount: rows, firstRowIndex: firstRow, totalByteCount: s.int(2) ?? 0, columns: infos)
    }
}

import MixteraCore
import MixteraParquet
import MixteraSpec

/// Scans one Parquet shard into a `FileScanResult`.
///
/// - Properties name columns by dotted schema path: a leaf (`lang`), a struct field (`meta.language`), a LIST
///   column by its group name (`tags`) or leaf (`tags.list.element`) for `list<string>`.
/// - Only the projected columns are read: the property columns (through `ParquetFile.readValues`), the text
///   column (through `readColumn` + `byteCountsPerRow`, so texts are never materialised as strings) and the
///   tokens column; every other column chunk is never touched.
/// - Types: string ← STRING/ENUM/JSON/UUID (and other byte arrays are a mismatch); bool ← BOOLEAN; int ← any
///   integer (unsigned values above 2^63 − 1 are out of range), or a string holding an integer; float ← any
///   integer, FLOAT, DOUBLE, FLOAT16 or DECIMAL; list<string> ← a LIST of strings (null elements dropped).
/// - Missing column: an error naming the column and listing the file's columns, unless the property has a
///   `default:` (then every row takes the default). A null follows the JSONL rule (`nullable` keeps it,
///   otherwise `default`, otherwise null).
/// - Locators (`.parquetRows`): `byteOffsets[i]` is the Parquet row index of sample `i` (the manifest
///   locator); `byteLengths[i]` is 0 (the catalog codec stores offsets as gaps after each record's length, so
///   lengths must not overlap the next row index); `textBytes[i]` is the UTF-8 byte count of the text column
///   (0 without `text`).
/// - Errors carry the file, the row group and the column; the message names the row.
public struct ParquetScanner {
    public let dataset: DatasetDecl
    public let schema: ScanSchema

    private enum Target {
        case column(String)
        case constant(PropertyValue)
    }

    private let categoricalTargets: [Target]
    private let numericTargets: [Target]

    /// - Throws: `FormatError` when a `from_path` integer capture is not an integer.
    public init(dataset: DatasetDecl, relativePath: String) throws(FormatError) {
        self.dataset = dataset
        schema = ScanSchema(dataset)
        func target(_ p: PropertyDecl) throws(FormatError) -> Target {
            switch p.source {
            case .field(let path): return .column(path)
            case .fromPath(let pattern, let capture):
                return .constant(
                    try FromPathConstant.value(p, pattern: pattern, capture: capture, relativePath: relativePath))
            }
        }
        var cats: [Target] = []
        for p in schema.categorical { cats.append(try target(p)) }
        var nums: [Target] = []
        for p in schema.numeric { nums.append(try target(p)) }
        categoricalTargets = cats
        numericTargets = nums
    }

    /// A `ParquetError` as a `FormatError` with the same kind, message, location and category.
    static func formatError(_ e: ParquetError) -> FormatError {
        FormatError(FormatError.Kind(e.kind), e.message, at: e.location, category: e.category)
    }

    /// Where a value was found: projected column index or a constant.
    private enum Source {
        case column(Int)
        case constant(PropertyValue)
    }

    /// Scans the file at `path` (absolute); `displayPath` names it in errors.
    public func scan(path: String, displayPath: String) throws(FormatError) -> FileScanResult {
        let file: ParquetFile
        // Mapped, faulted in on demand: only the projected columns' pages and the footer are touched.
        do { file = try ParquetFile(path: path, mode: .map) } catch { throw Self.formatError(error) }
        let fileLocation = DataLocation(path: displayPath)
        let available = file.schema.columns.prefix(50).map(\.dottedPath).joined(separator: ", ")

        // Projection: the distinct node paths to decode, in first-use order.
        var projected: [String] = []
        func project(_ column: String, what: String, prop: PropertyDecl?) throws(FormatError) -> Source {
            if let n = file.schema.node(dottedPath: column), n != 0 {
                if let i = projected.firstIndex(of: column) { return .column(i) }
                projected.append(column)
                return .column(projected.count - 1)
            }
            if let prop, let def = prop.defaultValue { return .constant(def) }
            throw FormatError(
                .missingField, "\(what) column \"\(column)\" does not exist; columns are: \(available)", at: fileLocation)
        }
        func sources(_ targets: [Target], _ props: [PropertyDecl]) throws(FormatError) -> [Source] {
            var out: [Source] = []
            for (t, p) in zip(targets, props) {
                switch t {
                case .constant(let v): out.append(.constant(v))
                case .column(let c): out.append(try project(c, what: "property \"\(p.name)\"", prop: p))
                }
            }
            return out
        }
        let catSources = try sources(categoricalTargets, schema.categorical)
        let numSources = try sources(numericTargets, schema.numeric)
        var tokensSource: Source?
        if let t = dataset.tokens { tokensSource = try project(t, what: "tokens", prop: nil) }
        var textColumn: ParquetColumnDescriptor?
        if let t = dataset.text {
            guard let n = file.schema.node(dottedPath: t), n != 0, let c = file.schema.nodes[n].columnIndex else {
                throw FormatError(
                    .missingField, "text column \"\(t)\" does not exist or is not a leaf column; columns are: \(available)",
                    at: fileLocation)
            }
            let column = file.schema.columns[c]
            guard column.physicalType == .byteArray else {
                throw FormatError(
                    .typeMismatch, "text column \"\(t)\" must hold strings, found physical type \(column.physicalType)",
                    at: DataLocation(path: displayPath, columnName: t))
            }
            textColumn = column
        }

        // Flat STRING/ENUM/JSON byte-array columns are read page by page as spans: each distinct dictionary value is
        // turned into a string and converted once per row group, not once per row.
        let stringColumns: [ParquetColumnDescriptor?] = projected.map { path in
            guard let n = file.schema.node(dottedPath: path), let c = file.schema.nodes[n].columnIndex else { return nil }
            let column = file.schema.columns[c]
            guard ParquetFile.isFlatByteArray(column) else { return nil }
            switch column.logicalType {
            case .string?, .enumeration?, .json?: return column
            default: return nil
            }
        }
        let generalPaths = zip(projected, stringColumns).filter { $0.1 == nil }.map(\.0)
        // Per categorical / numeric slot: converted values by dictionary index (for string columns).
        var catCache = [[PropertyValue?]](repeating: [], count: schema.categorical.count)
        var numCache = [[PropertyValue?]](repeating: [], count: schema.numeric.count)

        var acc = ScanAccumulator(schema: schema, locatorKind: .parquetRows, hasTokens: dataset.tokens != nil)
        var catValues = [PropertyValue](repeating: .null, count: schema.categorical.count)
        var numValues = [PropertyValue](repeating: .null, count: schema.numeric.count)
        // Where replay can start decoding the text column's pages, collected while their lengths are read.
        var syncPoints: [ParquetSyncPoint] = []
        for g in file.rowGroups where g.rowCount > 0 {
            let rows = g.firstRowIndex..<(g.firstRowIndex + g.rowCount)
            var columns = [ColumnRows](repeating: .values([]), count: projected.count)
            do {
                if !generalPaths.isEmpty {
                    let general = try file.readValues(generalPaths, rows: rows)
                    var k = 0
                    for i in projected.indices where stringColumns[i] == nil {
                        columns[i] = .values(general[k])
                        k += 1
                    }
                }
                for (i, c) in stringColumns.enumerated() {
                    guard let c else { continue }
                    columns[i] = .strings(try StringRows(file.byteArrayPages(c, rowGroup: g.index)))
                }
            } catch { throw Self.formatError(error) }
            for (slot, s) in catSources.enumerated() { catCache[slot] = Self.emptyCache(s, columns) }
            for (slot, s) in numSources.enumerated() { numCache[slot] = Self.emptyCache(s, columns) }
            // Per slot reading a string column: its rows' dictionary keys (empty otherwise), so that a cached
            // conversion is found in the row loop without copying the column.
            let catKeys = catSources.map { Self.keys($0, columns) }
            let numKeys = numSources.map { Self.keys($0, columns) }
            var textCounts: [Int?]?
            var textLengths: [Int32] = []
            if let textColumn, ParquetFile.isFlatByteArray(textColumn) {
                // Lengths straight from the pages' length prefixes or dictionary indices.
                do {
                    textLengths = try file.byteArrayRowLengths(textColumn, rowGroup: g.index, syncPoints: &syncPoints)
                } catch {
                    throw Self.formatError(error)
                }
            } else if let textColumn {
                do {
                    textCounts = try file.readColumn(textColumn, rowGroup: g.index).byteCountsPerRow()
                } catch { throw Self.formatError(error) }
                guard textCounts?.count == Int(g.rowCount) else {
                    throw FormatError(
                        .badArchive, "text column has \(textCounts?.count ?? 0) rows, row group has \(g.rowCount)",
                        at: DataLocation(path: displayPath, rowGroup: g.index, columnName: dataset.text))
                }
            }
            for r in 0..<Int(g.rowCount) {
                let row = g.firstRowIndex + Int64(r)
                do throws(FormatError) {
                    func value(_ s: Source, _ p: PropertyDecl, _ cache: inout [PropertyValue?]) throws(FormatError)
                        -> PropertyValue
                    {
                        switch s {
                        case .constant(let v): return v
                        case .column(let i):
                            do {
                                if case .strings(let rows) = columns[i] {
                                    let k = rows.keys[r]
                                    if k >= 0, let hit = cache[Int(k)] { return hit }
                                    let v = try PropertyConversion.convert(rows.raw(r), p)
                                    if k >= 0 { cache[Int(k)] = v }
                                    return v
                                }
                                return try PropertyConversion.convert(columns[i].raw(r), p)
                            } catch {
                                throw FormatError(
                                    error.kind, "\(error.message) in column \"\(projected[i])\" at row \(row)",
                                    at: DataLocation(path: displayPath, rowGroup: g.index, columnName: projected[i]))
                            }
                        }
                    }
                    for i in catSources.indices {
                        if !catKeys[i].isEmpty, catKeys[i][r] >= 0, let hit = catCache[i][Int(catKeys[i][r])] {
                            catValues[i] = hit
                        } else {
                            catValues[i] = try value(catSources[i], schema.categorical[i], &catCache[i])
                        }
                    }
                    for i in numSources.indices {
                        if !numKeys[i].isEmpty, numKeys[i][r] >= 0, let hit = numCache[i][Int(numKeys[i][r])] {
                            numValues[i] = hit
                        } else {
                            numValues[i] = try value(numSources[i], schema.numeric[i], &numCache[i])
                        }
                    }
                    var text: Int64 = 0
                    if !textLengths.isEmpty {
                        let n = textLengths[r]
                        guard n >= 0 else {
                            throw FormatError(
                                .typeMismatch, "text column \"\(dataset.text!)\" is null at row \(row)",
                                at: DataLocation(path: displayPath, rowGroup: g.index, columnName: dataset.text))
                        }
                        text = Int64(n)
                    } else if let textCounts {
                        guard let n = textCounts[r] else {
                            throw FormatError(
                                .typeMismatch, "text column \"\(dataset.text!)\" is null at row \(row)",
                                at: DataLocation(path: displayPath, rowGroup: g.index, columnName: dataset.text))
                        }
                        text = Int64(n)
                    }
                    var tokens: Int64?
                    if let tokensSource, let t = dataset.tokens {
                        var v: Int64?
                        switch tokensSource {
                        case .constant: break
                        case .column(let i):
                            do { v = try PropertyConversion.intValue(columns[i].raw(r), name: t) } catch {
                                throw FormatError(
                                    error.kind, "\(error.message) in column \"\(t)\" at row \(row)",
                                    at: DataLocation(path: displayPath, rowGroup: g.index, columnName: t))
                            }
                        }
                        guard let v else {
                            throw FormatError(
                                .missingField, "tokens column \"\(t)\" is null at row \(row)",
                                at: DataLocation(path: displayPath, rowGroup: g.index, columnName: t))
                        }
                        tokens = v
                    }
                    acc.append(
                        categorical: catValues, numeric: numValues, offset: row, length: 0, textBytes: text,
                        tokens: tokens)
                } catch {
                    guard dataset.onError == .skip else { throw error }
                    acc.skip(error)
                }
            }
        }
        var result = acc.finish()
        result.parquetSync = syncPoints
        do { result.fingerprint = try file.fingerprint() } catch { throw Self.formatError(error) }
        result.fingerprintPrefix = ParquetFooterFingerprint.prefix
        return result
    }

    /// A conversion cache for a slot reading a string column: one entry per dictionary value.
    private static func emptyCache(_ s: Source, _ columns: [ColumnRows]) -> [PropertyValue?] {
        if case .column(let i) = s, case .strings(let rows) = columns[i] {
            return [PropertyValue?](repeating: nil, count: rows.dictionary.count)
        }
        return []
    }

    /// The per-row dictionary keys of the string column a slot reads, or empty.
    private static func keys(_ s: Source, _ columns: [ColumnRows]) -> [Int32] {
        if case .column(let i) = s, case .strings(let rows) = columns[i] { return rows.keys }
        return []
    }

    /// One projected column's rows in a row group.
    enum ColumnRows {
        /// Assembled values (any column).
        case values([ParquetValue])
        /// A flat string column by dictionary index.
        case strings(StringRows)

        func raw(_ r: Int) -> RawValue {
            switch self {
            case .values(let v): return ParquetScanner.raw(v[r])
            case .strings(let s): return s.raw(r)
            }
        }
    }

    /// A flat string column's rows: per row a dictionary index (≥ 0), -1 for null, or -2 - k for the k-th value
    /// of a page without dictionary encoding.
    struct StringRows {
        var keys: [Int32] = []
        var dictionary: [String] = []
        var plain: [String] = []

        init(_ chunk: (dictionary: ParquetByteArrayDictionary, pages: [ParquetByteArrayPage])) {
            dictionary.reserveCapacity(chunk.dictionary.count)
            for i in 0..<chunk.dictionary.count {
                dictionary.append(chunk.dictionary.withValue(i) { String(decoding: $0, as: UTF8.self) })
            }
            for page in chunk.pages {
                if !page.dictionaryIndices.isEmpty {
                    keys.append(contentsOf: page.dictionaryIndices)
                    continue
                }
                for r in 0..<page.rowCount {
                    if let s = page.withValue(r, { String(decoding: $0, as: UTF8.self) }) {
                        keys.append(-2 - Int32(plain.count))
                        plain.append(s)
                    } else {
                        keys.append(-1)
                    }
                }
            }
        }

        func raw(_ r: Int) -> RawValue {
            let k = keys[r]
            if k >= 0 { return .string(dictionary[Int(k)]) }
            if k == -1 { return .null }
            return .string(plain[Int(-2 - k)])
        }
    }

    /// The format-neutral form of a Parquet value.
    static func raw(_ v: ParquetValue) -> RawValue {
        switch v {
        case .null: return .null
        case .bool(let b): return .bool(b)
        case .int(let i): return .int(i)
        case .uint(let u): return .uint(u)
        case .float(let f): return f.isFinite ? .double(Double(f)) : .null
        case .double(let d): return d.isFinite ? .double(d) : .null
        case .string(let s): return .string(s)
        case .uuid(let s): return .string(s)
        case .decimal(let s):
            // Exact decimal text: a float property parses it; a string property rejects it.
            if let d = Double(s) { return .double(d) }
            return .other("a decimal")
        case .bytes: return .other("bytes")
        case .date: return .other("a date")
        case .time: return .other("a time")
        case .timestamp: return .other("a timestamp")
        case .list(let items): return .list(items.map(raw))
        case .object: return .other("a struct")
        }
    }
}

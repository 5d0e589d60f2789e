import MixteraCore
import MixteraFormats
import MixteraParquet

/// Parquet replay (docs/manifest-format.md §4.1): an entry's locator is the Parquet row index of its first
/// sample; the entry covers rows `locator ..< locator + count`. The sample is the text column as a JSON string
/// when the dataset declares `text`, else the whole row as a JSON object (docs/parquet-support.md mapping).
///
/// Opened files are kept (at most 16) and, per file, the last decoded window: the text column's page that
/// holds the entry (page boundaries come from the offset index or, without one, from the page headers), so
/// consecutive entries in one page decode it once and a random entry decodes one page, not a row group.
struct ParquetReplayCache {
    private var files: [Int: ParquetFile] = [:]
    private var decoded: [Int: (window: Range<Int64>, samples: [[UInt8]])] = [:]

    mutating func samples(file i: Int, path: String, textField: String?, firstRow: Int64, count: Int)
        throws(ReplayError) -> [[UInt8]]
    {
        let file: ParquetFile
        if let f = files[i] {
            file = f
        } else {
            do { file = try ParquetFile(path: path) } catch { throw ReplayError(error) }
            if files.count >= 16 {
                files.removeAll()
                decoded.removeAll()
            }
            files[i] = file
        }
        guard firstRow >= 0, count >= 0, firstRow + Int64(count) <= file.rowCount else {
            throw ReplayError(
                "corrupt", "entry rows \(firstRow)..<\(firstRow + Int64(count)) exceed the \(file.rowCount) rows of the file",
                at: DataLocation(path: path))
        }
        var out: [[UInt8]] = []
        out.reserveCapacity(count)
        var row = firstRow
        let end = firstRow + Int64(count)
        while row < end {
            guard
                let g = file.rowGroups.first(where: {
                    $0.rowCount > 0 && row >= $0.firstRowIndex && row < $0.firstRowIndex + $0.rowCount
                })
            else {
                throw ReplayError("corrupt", "row \(row) is in no row group", at: DataLocation(path: path))
            }
            // The window to decode: the text column's page holding `row` when pages are known (decoded once
            // and kept), else exactly the rows this entry needs in this row group.
            let groupEnd = g.firstRowIndex + g.rowCount
            var window = row..<min(end, groupEnd)
            if let textField, let column = try? file.column(textField), let starts = file.pageRowStarts(column, rowGroup: g.index)
            {
                let k = (starts.lastIndex { $0 <= row }) ?? 0
                window = starts[k]..<(k + 1 < starts.count ? starts[k + 1] : groupEnd)
            }
            let rows: [[UInt8]]
            if let d = decoded[i], d.window.contains(row) {
                rows = d.samples
                window = d.window
            } else {
                rows = try Self.decode(file, window, textField: textField)
                decoded[i] = (window, rows)
            }
            let hi = min(end, window.upperBound)
            out.append(contentsOf: rows[Int(row - window.lowerBound)..<Int(hi - window.lowerBound)])
            row = hi
        }
        return out
    }

    /// ASCII fast path, else a full UTF-8 check.
    static func isValidUTF8(_ b: UnsafeRawBufferPointer) -> Bool {
        var i = 0
        while i + 8 <= b.count {
            if b.loadUnaligned(fromByteOffset: i, as: UInt64.self) & 0x8080_8080_8080_8080 != 0 { break }
            i += 8
        }
        if i + 8 > b.count && !b[i...].contains(where: { $0 >= 0x80 }) { return true }
        var it = b.makeIterator()
        var decoder = UTF8()
        while true {
            switch decoder.decode(&it) {
            case .scalarValue: continue
            case .emptyInput: return true
            case .error: return false
            }
        }
    }

    static func decode(_ file: ParquetFile, _ rows: Range<Int64>, textField: String?) throws(ReplayError)
        -> [[UInt8]]
    {
        // Fast path: a flat byte-array text column, JSON-encoded straight from the decoded bytes.
        if let textField, let column = try? file.column(textField), column.maxRepetitionLevel == 0,
            column.physicalType == .byteArray || column.physicalType == .fixedLenByteArray
        {
            let first: Int64
            let data: ParquetColumnData
            do { (first, data) = try file.readColumnPages(column, rows: rows) } catch { throw ReplayError(error) }
            if case .bytes(let b) = data.values {
                let maxDef = Int16(column.maxDefinitionLevel)
                var out: [[UInt8]] = []
                out.reserveCapacity(rows.count)
                var v = 0
                b.bytes.withUnsafeBytes { all in
                    for r in 0..<data.rowCount {
                        let present = data.definitionLevels.isEmpty || data.definitionLevels[r] == maxDef
                        let wanted = rows.contains(first + Int64(r))
                        var json: [UInt8] = []
                        if present {
                            let lo = b.offsets[v]
                            let hi = b.offsets[v + 1]
                            v += 1
                            guard wanted else { continue }
                            let text = UnsafeRawBufferPointer(rebasing: all[lo..<hi])
                            json.reserveCapacity(hi - lo + 2)
                            if Self.isValidUTF8(text) {
                                JSON.writeString(text, into: &json)
                            } else {
                                JSON.writeString(String(decoding: text, as: UTF8.self).utf8, into: &json)
                            }
                        } else {
                            guard wanted else { continue }
                            json = Array("null".utf8)
                        }
                        out.append(json)
                    }
                }
                return out
            }
        }
        do {
            if let textField {
                return try file.readValues([textField], rows: rows)[0].map { v in
                    var out: [UInt8] = []
                    switch v {
                    case .string(let s): JSON.writeString(s.utf8, into: &out)
                    case .bytes(let b): JSON.writeString(String(decoding: b, as: UTF8.self).utf8, into: &out)
                    default: ParquetJSON.write(v, into: &out)
                    }
                    return out
                }
            }
            return try file.readRows(rows).map { v in
                var out: [UInt8] = []
                ParquetJSON.write(v, into: &out)
                return out
            }
        } catch { throw ReplayError(error) }
    }
}

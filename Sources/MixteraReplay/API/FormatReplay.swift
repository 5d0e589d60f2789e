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

/// WebDataset replay (docs/webdataset.md, "Replay"): an entry's locator is the header offset of its first
/// sample's first member; the entry covers that sample and the `count − 1` samples that follow it in the tar.
///
/// The sample table (members, offsets and sizes of every sample) is rebuilt per file by walking the tar
/// headers once, never reading payloads, and kept. Plain tars are then read with one `pread` per member;
/// compressed tars are streamed once per entry up to its last sample.
struct TarReplayCache {
    private var tables: [Int: [WebDatasetSample]] = [:]
    private var readers: [Int: TarDataReader] = [:]

    /// Extensions whose members replay writes as JSON strings of their text (last dot-separated part of the
    /// extension, ASCII-lowercased); every other member is written as a base64 string.
    static let textExtensions: Set<String> = [
        "txt", "text", "json", "jsonl", "cls", "cls2", "id", "index", "inx", "md", "html", "htm", "csv", "tsv",
        "xml", "yaml", "yml", "caption",
    ]

    /// The samples of a tar in archive order, members without data. A damaged archive yields the samples
    /// completed before the damage (as `on_error: skip` indexed them).
    static func table(path: String) throws(ReplayError) -> [WebDatasetSample] {
        let reader: WebDatasetReader
        do { reader = try WebDatasetReader(path: path, options: .init(loadExtensions: [])) } catch {
            throw ReplayError(error)
        }
        var out: [WebDatasetSample] = []
        while true {
            do {
                guard let s = try reader.next() else { break }
                out.append(s)
            } catch {
                if [.truncated, .badArchive, .decompression].contains(error.code) { break }
                throw ReplayError(error)
            }
        }
        return out
    }

    mutating func samples(
        file i: Int, path: String, compressed: Bool, textField: String?, firstHeaderOffset: Int64, count: Int
    ) throws(ReplayError) -> [[UInt8]] {
        let table: [WebDatasetSample]
        if let t = tables[i] {
            table = t
        } else {
            table = try Self.table(path: path)
            if tables.count >= 64 {
                tables.removeAll()
                readers.removeAll()
            }
            tables[i] = table
        }
        // Binary search for the sample whose first member header is at the locator.
        var lo = 0
        var hi = table.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if table[mid].members[0].headerByteOffset < firstHeaderOffset { lo = mid + 1 } else { hi = mid }
        }
        guard lo < table.count, table[lo].members[0].headerByteOffset == firstHeaderOffset, lo + count <= table.count
        else {
            throw ReplayError(
                "corrupt", "no run of \(count) samples starts at header offset \(firstHeaderOffset)",
                at: DataLocation(path: path, byteOffset: firstHeaderOffset))
        }
        let wanted = table[lo..<(lo + count)]
        var withData: [WebDatasetSample] = []
        if compressed {
            do {
                let reader = try WebDatasetReader(
                    path: path,
                    options: .init(
                        loadExtensions: textField.map { [$0] }, maxLoadByteCount: Int(Int32.max),
                        sampleIndices: wanted.map(\.sampleIndex)))
                withData = try reader.readAll()
            } catch { throw ReplayError(error) }
            guard withData.count == count else {
                throw ReplayError(
                    "data-changed", "archive holds \(withData.count) of the \(count) samples wanted",
                    at: DataLocation(path: path, byteOffset: firstHeaderOffset))
            }
        } else {
            let reader: TarDataReader
            if let r = readers[i] {
                reader = r
            } else {
                do { reader = try TarDataReader(path: path) } catch { throw ReplayError(error) }
                readers[i] = reader
            }
            for var s in wanted {
                for k in s.members.indices where textField == nil || s.members[k].extension == textField {
                    let m = s.members[k]
                    do {
                        s.members[k].data = try reader.read(
                            dataByteOffset: m.dataByteOffset, byteCount: m.byteCount, member: m.name)
                    } catch { throw ReplayError(error) }
                }
                withData.append(s)
            }
        }
        return withData.map { Self.json($0, textField: textField) }
    }

    /// The sample as replay prints it: the text member's bytes as a JSON string, or an object
    /// `{"__key__": key, ext: value, …}` with members in archive order.
    static func json(_ s: WebDatasetSample, textField: String?) -> [UInt8] {
        var out: [UInt8] = []
        if let textField {
            if let m = s.member(withExtension: textField), let data = m.data {
                JSON.writeString(String(decoding: data, as: UTF8.self).utf8, into: &out)
            } else {
                out.append(contentsOf: "null".utf8)
            }
            return out
        }
        out.append(UInt8(ascii: "{"))
        JSON.writeString("__key__".utf8, into: &out)
        out.append(UInt8(ascii: ":"))
        JSON.writeString(s.key.utf8, into: &out)
        for m in s.members {
            out.append(UInt8(ascii: ","))
            JSON.writeString(m.extension.utf8, into: &out)
            out.append(UInt8(ascii: ":"))
            let data = m.data ?? []
            if isText(m.extension) {
                JSON.writeString(String(decoding: data, as: UTF8.self).utf8, into: &out)
            } else {
                JSON.writeString(ParquetJSON.base64(data).utf8, into: &out)
            }
        }
        out.append(UInt8(ascii: "}"))
        return out
    }

    static func isText(_ ext: String) -> Bool {
        let last = ext.split(separator: ".", omittingEmptySubsequences: false).last.map(String.init) ?? ext
        let lower = String(decoding: last.utf8.map { $0 >= 65 && $0 <= 90 ? $0 + 32 : $0 }, as: UTF8.self)
        return textExtensions.contains(lower)
    }
}

import MixteraCore
import MixteraFormats
import MixteraParquet

/// WebDataset replay (docs/webdataset.md, "Replay"): an entry's locator is the header offset of its first
/// sample's first member; the entry covers that sample and the `count − 1` samples that follow it in the tar.
///
/// The sample table (``WebDatasetSampleTable``: members, offsets and sizes of every sample) is rebuilt per file
/// by walking the tar headers once, never reading payloads, and kept. A plain tar entry is then read with one
/// `pread` of the bytes its samples span (one per member when that span is large), and its samples are
/// written from that buffer; compressed tars are streamed once per entry up to its last sample.
struct TarReplayCache {
    private var tables: [Int: WebDatasetSampleTable] = [:]
    private var readers: [Int: TarDataReader] = [:]
    /// The bytes of the entry being replayed (plain tars), reused across entries.
    private var span: [UInt8] = []

    /// The largest span read with one `pread`; larger entries read member by member.
    static let maxSpanByteCount: Int64 = 16 << 20

    /// Extensions whose members replay writes as JSON strings of their text (last dot-separated part of the
    /// extension, ASCII-lowercased); every other member is written as a base64 string.
    static let textExtensions: Set<String> = [
        "txt", "text", "json", "jsonl", "cls", "cls2", "id", "index", "inx", "md", "html", "htm", "csv", "tsv",
        "xml", "yaml", "yml", "caption",
    ]

    /// The samples of a tar in archive order. A damaged archive yields the samples completed before the damage
    /// (as `on_error: skip` indexed them).
    static func table(path: String) throws(ReplayError) -> WebDatasetSampleTable {
        do { return try WebDatasetSampleTable(path: path) } catch { throw ReplayError(error) }
    }

    mutating func samples(
        file i: Int, path: String, compressed: Bool, textField: String?, firstHeaderOffset: Int64, count: Int
    ) throws(ReplayError) -> [[UInt8]] {
        let table: WebDatasetSampleTable
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
        guard let lo = table.sample(atHeaderOffset: firstHeaderOffset), lo + count <= table.count else {
            throw ReplayError(
                "corrupt", "no run of \(count) samples starts at header offset \(firstHeaderOffset)",
                at: DataLocation(path: path, byteOffset: firstHeaderOffset))
        }
        if count == 0 { return [] }
        if compressed {
            let withData: [WebDatasetSample]
            do {
                let reader = try WebDatasetReader(
                    path: path,
                    options: .init(
                        loadExtensions: textField.map { [$0] }, maxLoadByteCount: Int(Int32.max),
                        sampleIndices: Array(lo..<(lo + count))))
                withData = try reader.readAll()
            } catch { throw ReplayError(error) }
            guard withData.count == count else {
                throw ReplayError(
                    "data-changed", "archive holds \(withData.count) of the \(count) samples wanted",
                    at: DataLocation(path: path, byteOffset: firstHeaderOffset))
            }
            return withData.map { Self.json($0, textField: textField) }
        }
        let reader: TarDataReader
        if let r = readers[i] {
            reader = r
        } else {
            do { reader = try TarDataReader(path: path) } catch { throw ReplayError(error) }
            readers[i] = reader
        }
        return try plainSamples(table, lo..<(lo + count), reader: reader, path: path, textField: textField)
    }

    /// The samples `range` of a plain tar, read with one `pread` of their span when it is small enough.
    private mutating func plainSamples(
        _ table: WebDatasetSampleTable, _ range: Range<Int>, reader: TarDataReader, path: String, textField: String?
    ) throws(ReplayError) -> [[UInt8]] {
        let start = table.headerOffsets[range.lowerBound]
        let end = table.endOffset(of: range.upperBound - 1)
        var spanRead = false
        if end - start <= Self.maxSpanByteCount {
            let n = Int(end - start)
            if span.count < n { span = [UInt8](repeating: 0, count: n) }
            var got = 0
            var failure: FormatError?
            span.withUnsafeMutableBytes { b in
                do throws(FormatError) {
                    got = try reader.read(into: UnsafeMutableRawBufferPointer(rebasing: b[0..<n]), at: start)
                } catch { failure = error }
            }
            if let failure { throw ReplayError(failure) }
            // A short read (the file shrank) falls back to reading member by member, which names the member.
            spanRead = got == n
        }
        let textMatches = textField.map { table.extensionMatches($0) }
        var out: [[UInt8]] = []
        out.reserveCapacity(range.count)
        for s in range {
            // The members written: the text member only, or all of them.
            var members: [WebDatasetSampleTable.Member] = []
            if let textMatches {
                if let m = table.member(of: s, extensionIn: textMatches) { members = [m] }
            } else {
                members = table.members(of: s)
            }
            var perMember: [[UInt8]] = []
            if !spanRead {
                for m in members {
                    do {
                        perMember.append(
                            try reader.read(
                                dataByteOffset: m.dataByteOffset, byteCount: m.byteCount,
                                member: table.name(of: s, m)))
                    } catch { throw ReplayError(error) }
                }
            }
            func withData<R>(_ k: Int, _ body: (UnsafeRawBufferPointer) -> R) -> R {
                if !spanRead { return perMember[k].withUnsafeBytes(body) }
                let lo = Int(members[k].dataByteOffset - start)
                return span.withUnsafeBytes { body(UnsafeRawBufferPointer(rebasing: $0[lo..<(lo + Int(members[k].byteCount))])) }
            }
            var json: [UInt8] = []
            if textField != nil {
                if members.isEmpty {
                    json.append(contentsOf: "null".utf8)
                } else {
                    json.reserveCapacity(Int(members[0].byteCount) + 16)
                    withData(0) { Self.writeText($0, into: &json) }
                }
            } else {
                json.append(UInt8(ascii: "{"))
                JSON.writeString("__key__".utf8, into: &json)
                json.append(UInt8(ascii: ":"))
                JSON.writeString(table.key(of: s).utf8, into: &json)
                for (k, m) in members.enumerated() {
                    let ext = table.extensionName(m.extensionIndex)
                    json.append(UInt8(ascii: ","))
                    JSON.writeString(ext.utf8, into: &json)
                    json.append(UInt8(ascii: ":"))
                    if Self.isText(ext) {
                        withData(k) { Self.writeText($0, into: &json) }
                    } else {
                        let b64 = withData(k) { ParquetJSON.base64(Array($0)) }
                        JSON.writeString(b64.utf8, into: &json)
                    }
                }
                json.append(UInt8(ascii: "}"))
            }
            out.append(json)
        }
        return out
    }

    /// Writes `bytes` as a JSON string of their text (invalid UTF-8 → U+FFFD).
    static func writeText(_ bytes: UnsafeRawBufferPointer, into out: inout [UInt8]) {
        if UTF8Validator.isValid(bytes) {
            JSON.writeString(bytes, into: &out)
        } else {
            JSON.writeString(String(decoding: bytes, as: UTF8.self).utf8, into: &out)
        }
    }

    /// The sample as replay prints it: the text member's bytes as a JSON string, or an object
    /// `{"__key__": key, ext: value, …}` with members in archive order.
    static func json(_ s: WebDatasetSample, textField: String?) -> [UInt8] {
        var out: [UInt8] = []
        if let textField {
            if let m = s.member(withExtension: textField), let data = m.data {
                data.withUnsafeBytes { writeText($0, into: &out) }
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
                data.withUnsafeBytes { writeText($0, into: &out) }
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

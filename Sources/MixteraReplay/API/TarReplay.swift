import MixteraCore
import MixteraFormats
import MixteraParquet

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

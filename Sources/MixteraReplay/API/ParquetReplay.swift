import MixteraCore
import MixteraFormats
import MixteraParquet
import Synchronization

/// Parquet replay (docs/manifest-format.md §4.1): an entry's locator is the Parquet row index of its first
/// sample; the entry covers rows `locator ..< locator + count`. The sample is the text column as a JSON string
/// when the dataset declares `text`, else the whole row as a JSON object (docs/parquet-support.md mapping).
///
/// Opened files are kept (at most 16). For a flat BYTE_ARRAY text column, a snappy PLAIN page is indexed once
/// (`ParquetFile.sparseByteArrayPage`: row positions and snappy elements) and an entry's rows are produced from the
/// compressed bytes without decompressing the page; other pages are decoded whole (with the chunk's dictionary).
/// Indexes, decoded pages and dictionaries are kept in a least-recently-used cache of at most `budget` bytes,
/// whatever the manifest's size, and only an entry's own rows are JSON-encoded. Page boundaries come from the offset
/// index or, without one, from the page headers. Other columns (and files whose pages cannot be located) decode
/// exactly the entry's rows through the general reader.
struct ParquetReplayCache {
    /// Default memory budget of the page cache.
    static let defaultBudget = 256 << 20

    /// Opened files, lookups and page indexes, which caches on other threads may share.
    let store: ParquetReplayStore

    /// Whether snappy PLAIN text pages are read sparsely (else every page is decoded whole; tests compare both).
    private let sparse: Bool
    /// The decoded window of sparse reads.
    private let window = ParquetSparseWindow()
    /// The sparse page the last entry ended in, so that the next entry of the same page (the usual case: a block's
    /// rows are runs of one page) skips the lookups.
    private var hot: HotPage?
    private struct HotPage {
        let fileIndex: Int
        let file: ParquetFile
        let column: ParquetColumnDescriptor
        let rowGroup: Int
        let page: Page
        enum Page {
            case sparse(ParquetSparseByteArrayPage)
            case synced(ParquetSyncedPage)
        }
        var firstRow: Int64 {
            switch page {
            case .sparse(let p): p.firstRow
            case .synced(let p): p.firstRow
            }
        }
        var rowCount: Int {
            switch page {
            case .sparse(let p): p.rowCount
            case .synced(let p): p.rowCount
            }
        }
    }
    /// Runs read from sync points, and pages whose bytes did not match theirs (for tests).
    private(set) var syncedReads = 0
    private(set) var syncMismatches = 0
    /// The JSON buffer `forEachSample` reuses.
    private var json: [UInt8] = []

    init(
        budget: Int = ParquetReplayCache.defaultBudget, sparse: Bool = true, prefetch: Bool = true,
        syncPoints: [[ParquetSyncPoint]] = []
    ) {
        self.init(
            store: ParquetReplayStore(
                budget: budget, syncPoints: sparse ? syncPoints : [], prefetcher: sparse && prefetch), sparse: sparse)
    }

    /// A cache over `store`, which other caches (on other threads) may use too.
    init(store: ParquetReplayStore, sparse: Bool = true) {
        self.store = store
        self.sparse = sparse
    }

    /// Calls `body` with the JSON of each sample of rows `firstRow ..< firstRow + count` (`samples`, without an
    /// array per sample when the rows are in the sparse page the last entry read). The array passed is reused
    /// afterwards unless `body` keeps it.
    mutating func forEachSample(
        file i: Int, path: String, textField: String?, firstRow: Int64, count: Int,
        _ body: ([UInt8]) throws(ReplayError) -> Void
    ) throws(ReplayError) {
        var json = self.json
        self.json = []
        defer { self.json = json }
        var failure: ReplayError?
        let done = try hotRead(file: i, firstRow: firstRow, count: count) { text in
            guard failure == nil else { return }
            json.removeAll(keepingCapacity: true)
            Self.appendJSON(text, to: &json)
            do throws(ReplayError) { try body(json) } catch { failure = error }
        }
        if let failure { throw failure }
        if done { return }
        for sample in try samples(file: i, path: path, textField: textField, firstRow: firstRow, count: count) {
            try body(sample)
        }
    }

    /// Appends the JSON of each sample of rows `firstRow ..< firstRow + count` to `bytes`, and where it ends to
    /// `ends` (the samples of `forEachSample`, without a buffer per sample).
    mutating func appendSamples(
        file i: Int, path: String, textField: String?, firstRow: Int64, count: Int, to bytes: inout [UInt8],
        ends: inout [Int]
    ) throws(ReplayError) {
        let done = try hotRead(file: i, firstRow: firstRow, count: count) { text in
            Self.appendJSON(text, to: &bytes)
            ends.append(bytes.count)
        }
        if done { return }
        for sample in try samples(file: i, path: path, textField: textField, firstRow: firstRow, count: count) {
            bytes.append(contentsOf: sample)
            ends.append(bytes.count)
        }
    }

    /// Reads the rows when they lie in the page the last entry read (the usual case: a block's rows are runs of one
    /// page), calling `each` with each value; false, having called it for none, when they do not (or the page's
    /// bytes do not match its sync points).
    private mutating func hotRead(
        file i: Int, firstRow: Int64, count: Int, _ each: (UnsafeRawBufferPointer?) -> Void
    ) throws(ReplayError) -> Bool {
        guard let h = hot, h.fileIndex == i, firstRow >= h.firstRow,
            firstRow + Int64(count) <= h.firstRow + Int64(h.rowCount), count > 0
        else { return false }
        let lo = Int(firstRow - h.firstRow)
        switch h.page {
        case .sparse(let page):
            do {
                try h.file.withSparseRows(
                    h.column, rowGroup: h.rowGroup, page: page, rows: lo..<lo + count, window: window
                ) { _, text in each(text) }
            } catch { throw ReplayError(error) }
            return true
        case .synced(let page):
            if h.file.withSyncedRows(page, rows: lo..<lo + count, window: window, { _, text in each(text) }) {
                syncedReads += 1
                return true
            }
            // The page does not decode as its sync points say: index it (`samples`), which reports any damage.
            hot = nil
            return false
        }
    }

    mutating func samples(file i: Int, path: String, textField: String?, firstRow: Int64, count: Int)
        throws(ReplayError) -> [[UInt8]]
    {
        let file = try open(file: i, path: path)
        guard firstRow >= 0, count >= 0, firstRow + Int64(count) <= file.rowCount else {
            throw ReplayError(
                "corrupt", "entry rows \(firstRow)..<\(firstRow + Int64(count)) exceed the \(file.rowCount) rows of the file",
                at: DataLocation(path: path))
        }
        var out: [[UInt8]] = []
        out.reserveCapacity(count)
        let column = textColumn(file: i, file, textField: textField)
        var row = firstRow
        let end = firstRow + Int64(count)
        while row < end {
            guard let g = Self.rowGroup(file, holding: row) else {
                throw ReplayError("corrupt", "row \(row) is in no row group", at: DataLocation(path: path))
            }
            let groupEnd = g.firstRowIndex + g.rowCount
            guard let column, let starts = pageStarts(file: i, file, column, rowGroup: g.index), !starts.isEmpty else {
                let hi = min(end, groupEnd)
                out.append(contentsOf: try Self.decode(file, row..<hi, textField: textField))
                row = hi
                continue
            }
            let lo = Self.page(starts, holding: row)
            let key = PageKey(file: i, rowGroup: g.index, page: lo)
            switch try self.page(file, column, rowGroup: g.index, page: lo, key: key) {
            case .sparse(let page):
                let stop = min(end, page.firstRow + Int64(page.rowCount))
                let rows = Int(row - page.firstRow)..<Int(stop - page.firstRow)
                do {
                    try file.withSparseRows(column, rowGroup: g.index, page: page, rows: rows, window: window) { _, text in
                        out.append(Self.json(text))
                    }
                } catch { throw ReplayError(error) }
                hot = HotPage(fileIndex: i, file: file, column: column, rowGroup: g.index, page: .sparse(page))
                row = stop
            case .synced(let page):
                let stop = min(end, page.firstRow + Int64(page.rowCount))
                let rows = Int(row - page.firstRow)..<Int(stop - page.firstRow)
                if file.withSyncedRows(page, rows: rows, window: window, { _, text in out.append(Self.json(text)) }) {
                    syncedReads += 1
                    hot = HotPage(fileIndex: i, file: file, column: column, rowGroup: g.index, page: .synced(page))
                    row = stop
                } else {
                    // Not as the sync points say: index the page instead (the next turn reads it), which reports any
                    // damage with its location.
                    syncMismatches += 1
                    let indexed: ParquetSparseByteArrayPage?
                    do { indexed = try file.sparseByteArrayPage(column, rowGroup: g.index, page: lo, scratch: window) } catch {
                        throw ReplayError(error)
                    }
                    guard let indexed else {
                        throw ReplayError(
                            "corrupt",
                            "text page \(lo) of row group \(g.index) does not decode as the manifest's parquet_sync says; rescan the file and rebuild the manifest",
                            at: DataLocation(path: path, rowGroup: g.index))
                    }
                    store.put(key, .sparse(indexed), bytes: indexed.byteCount)
                }
            case .syncedDictionaryRows(let first, let indices, let dictionary):
                let stop = min(end, first + Int64(indices.count))
                var r = Int(row - first)
                let hi = Int(stop - first)
                var ok = true
                while r < hi && ok {
                    guard indices[r] >= 0 else {
                        out.append(Self.json(nil))
                        r += 1
                        continue
                    }
                    // A run of rows whose values follow each other in the dictionary is one read.
                    var e = r + 1
                    while e < hi && indices[e] == indices[e - 1] + 1 { e += 1 }
                    let v = Int(indices[r])
                    ok = file.withSyncedRows(dictionary, rows: v..<v + (e - r), window: window) { _, text in
                        out.append(Self.json(text))
                    }
                    if ok { r = e }
                }
                row = first + Int64(r)
                if !ok {
                    // Not as the sync points say: read the dictionary page by indexing it (the next turn), which
                    // reports any damage with its location.
                    syncMismatches += 1
                    store.setSyncedDictionary(PageKey(file: i, rowGroup: g.index, page: -1), nil)
                    store.remove(key)
                }
            case .dictionaryRows(let page):
                let stop = min(end, page.firstRow + Int64(page.rowCount))
                let rows = Int(row - page.firstRow)..<Int(stop - page.firstRow)
                do {
                    try file.withSparseRows(column, rowGroup: g.index, rows: page, range: rows, window: window) { _, text in
                        out.append(Self.json(text))
                    }
                } catch { throw ReplayError(error) }
                row = stop
            case .page(let page):
                let stop = min(end, page.firstRow + Int64(page.rowCount))
                for r in Int(row - page.firstRow)..<Int(stop - page.firstRow) {
                    out.append(page.withValue(r) { Self.json($0) } ?? Self.json(nil))
                }
                row = stop
            case .dictionary:
                preconditionFailure("a data page key holds a dictionary")
            }
        }
        return out
    }

    /// The open file `i`, opening it (the cache keeps at most 16; per-file lookups go with them).
    private mutating func open(file i: Int, path: String) throws(ReplayError) -> ParquetFile {
        if let f = store.file(i) { return f }
        let file: ParquetFile
        do { file = try ParquetFile(path: path, mode: .map) } catch { throw ReplayError(error) }
        return store.insert(file, as: i)
    }

    /// The flat byte-array text column of file `i`, looked up once per opened file; nil when the text field is
    /// not one.
    private mutating func textColumn(file i: Int, _ file: ParquetFile, textField: String?) -> ParquetColumnDescriptor? {
        if let known = store.textColumn(i) { return known }
        var c: ParquetColumnDescriptor?
        if let textField, let found = try? file.column(textField), ParquetFile.isFlatByteArray(found) { c = found }
        store.setTextColumn(i, c)
        return c
    }

    /// The text column's page start rows (file row indices) in `rowGroup`, nil when unknown.
    private mutating func pageStarts(file i: Int, _ file: ParquetFile, _ column: ParquetColumnDescriptor, rowGroup: Int)
        -> [Int64]?
    {
        let key = PageKey(file: i, rowGroup: rowGroup, page: -1)
        if let known = store.pageStarts(key) { return known }
        let starts = file.pageRowStarts(column, rowGroup: rowGroup)
        store.setPageStarts(key, starts)
        return starts
    }

    /// The sync points of file `i` from page `k`'s first row on, when one is at that row (the scan records one
    /// there for every page it could); nil otherwise.
    private func syncSlice(file i: Int, column: ParquetColumnDescriptor, _ file: ParquetFile, rowGroup: Int, page k: Int)
        -> ArraySlice<ParquetSyncPoint>?
    {
        let syncPoints = store.syncPoints
        guard i < syncPoints.count, !syncPoints[i].isEmpty,
            let starts = store.pageStarts(PageKey(file: i, rowGroup: rowGroup, page: -1)) ?? nil, k < starts.count
        else { return nil }
        let points = syncPoints[i]
        let first = starts[k]
        var lo = 0
        var hi = points.count
        while lo < hi {
            let mid = (lo + hi) >> 1
            if points[mid].row < first { lo = mid + 1 } else { hi = mid }
        }
        guard lo < points.count, points[lo].row == first else { return nil }
        let g = file.rowGroups[rowGroup]
        let end = k + 1 < starts.count ? starts[k + 1] : g.firstRowIndex + g.rowCount
        var stop = lo
        while stop < points.count && points[stop].row < end { stop += 1 }
        return points[lo..<stop]
    }

    /// The dictionary page of `rowGroup` for synced reads, when the file has dictionary sync points that fit it
    /// (looked up once per chunk).
    private func syncedDictionary(
        _ file: ParquetFile, _ column: ParquetColumnDescriptor, rowGroup: Int, key: PageKey
    ) throws(ReplayError) -> ParquetSyncedPage? {
        guard key.file < store.dictionarySyncPoints.count, !store.dictionarySyncPoints[key.file].isEmpty else {
            return nil
        }
        if let known = store.syncedDictionary(key) { return known }
        let page: ParquetSyncedPage?
        do {
            page = try file.syncedDictionaryPage(
                column, rowGroup: rowGroup, syncPoints: store.dictionarySyncPoints[key.file])
        } catch { throw ReplayError(error) }
        store.setSyncedDictionary(key, page)
        return page
    }

    private static func rowGroup(_ file: ParquetFile, holding row: Int64) -> ParquetRowGroupInfo? {
        file.rowGroups.first { $0.rowCount > 0 && row >= $0.firstRowIndex && row < $0.firstRowIndex + $0.rowCount }
    }

    /// The page holding `row`: the last start at or before it.
    private static func page(_ starts: [Int64], holding row: Int64) -> Int {
        var lo = 0
        var hi = starts.count
        while hi - lo > 1 {
            let mid = (lo + hi) / 2
            if starts[mid] <= row { lo = mid } else { hi = mid }
        }
        return lo
    }

    /// Starts indexing, on the prefetcher's thread, the sparse text pages rows `firstRow ..< firstRow + count`
    /// of file `i` lie in and the cache does not hold (an entry of step `step`; the reader is at `current`).
    /// Problems are left for the read itself to report.
    mutating func prefetch(
        file i: Int, path: String, textField: String?, firstRow: Int64, count: Int, step: Int, current: Int
    ) {
        guard let prefetcher = store.prefetcher, count > 0, let file = try? open(file: i, path: path),
            firstRow >= 0, firstRow + Int64(count) <= file.rowCount,
            let column = textColumn(file: i, file, textField: textField)
        else { return }
        var row = firstRow
        let end = firstRow + Int64(count)
        while row < end, let g = Self.rowGroup(file, holding: row) {
            guard let starts = pageStarts(file: i, file, column, rowGroup: g.index), !starts.isEmpty else { return }
            let k = Self.page(starts, holding: row)
            let key = PageKey(file: i, rowGroup: g.index, page: k)
            if !store.contains(key) && syncSlice(file: i, column: column, file, rowGroup: g.index, page: k) == nil {
                prefetcher.submit(key, step: step, current: current) { window in
                    try? file.sparseByteArrayPage(column, rowGroup: g.index, page: k, scratch: window)
                }
            }
            row = k + 1 < starts.count ? starts[k + 1] : g.firstRowIndex + g.rowCount
        }
    }

    /// Page `k` of the text column in `rowGroup`, from the cache, else indexed for sparse reads (snappy PLAIN
    /// pages) or decoded whole (with the chunk's dictionary).
    private mutating func page(
        _ file: ParquetFile, _ column: ParquetColumnDescriptor, rowGroup: Int, page k: Int, key: PageKey
    ) throws(ReplayError) -> PageCache.Entry {
        if let e = store.get(key) { return e }
        if let points = syncSlice(file: key.file, column: column, file, rowGroup: rowGroup, page: k) {
            let synced: ParquetSyncedPage?
            do { synced = try file.syncedByteArrayPage(column, rowGroup: rowGroup, page: k, syncPoints: points) } catch {
                throw ReplayError(error)
            }
            if let synced {
                store.put(key, .synced(synced), bytes: synced.byteCount)
                return .synced(synced)
            }
        }
        if let prefetched = store.prefetcher?.take(key) {
            store.put(key, .sparse(prefetched), bytes: prefetched.byteCount)
            return .sparse(prefetched)
        }
        if sparse {
            let indexed: ParquetSparseByteArrayPage?
            do { indexed = try file.sparseByteArrayPage(column, rowGroup: rowGroup, page: k, scratch: window) } catch {
                throw ReplayError(error)
            }
            if let indexed {
                store.put(key, .sparse(indexed), bytes: indexed.byteCount)
                return .sparse(indexed)
            }
            // A dictionary-encoded page: its rows' spans in the chunk's dictionary page, read from its sync points
            // or indexed.
            let dictKey = PageKey(file: key.file, rowGroup: rowGroup, page: -1)
            if let synced = try syncedDictionary(file, column, rowGroup: rowGroup, key: dictKey),
                let starts = store.pageStarts(dictKey) ?? nil, k < starts.count
            {
                let indices: [Int32]?
                do { indices = try file.dictionaryIndices(column, rowGroup: rowGroup, page: k, count: synced.rowCount) } catch {
                    throw ReplayError(error)
                }
                if let indices {
                    let entry = PageCache.Entry.syncedDictionaryRows(
                        firstRow: starts[k], indices: indices, dictionary: synced)
                    store.put(key, entry, bytes: 4 * indices.count + 64)
                    return entry
                }
            }
            let dictionary: ParquetSparseByteArrayPage?
            if let known = store.sparseDictionary(dictKey) {
                dictionary = known
            } else {
                do { dictionary = try file.sparseDictionaryPage(column, rowGroup: rowGroup, scratch: window) } catch {
                    throw ReplayError(error)
                }
                store.setSparseDictionary(dictKey, dictionary)
            }
            if let dictionary {
                let rows: ParquetSparseDictionaryRows?
                do { rows = try file.sparseDictionaryRows(column, rowGroup: rowGroup, page: k, dictionary: dictionary) } catch {
                    throw ReplayError(error)
                }
                if let rows {
                    store.put(key, .dictionaryRows(rows), bytes: rows.byteCount)
                    return .dictionaryRows(rows)
                }
            }
        }
        let dictKey = PageKey(file: key.file, rowGroup: rowGroup, page: -1)
        var dictionary: ParquetByteArrayDictionary
        if case .dictionary(let d)? = store.get(dictKey) {
            dictionary = d
        } else {
            do { dictionary = try file.byteArrayDictionary(column, rowGroup: rowGroup) ?? .empty } catch {
                throw ReplayError(error)
            }
            store.put(dictKey, .dictionary(dictionary), bytes: dictionary.byteCount)
        }
        let p: ParquetByteArrayPage
        do { p = try file.byteArrayPage(column, rowGroup: rowGroup, page: k, dictionary: dictionary) } catch {
            throw ReplayError(error)
        }
        // A dictionary-encoded page shares the dictionary's bytes: count only its own arrays.
        store.put(key, .page(p), bytes: p.dictionaryIndices.isEmpty ? p.byteCount : p.byteCount - p.bytes.count)
        return .page(p)
    }

    /// A text value as a JSON string (`null` when the value is null).
    static func json(_ text: UnsafeRawBufferPointer?) -> [UInt8] {
        var json: [UInt8] = []
        json.reserveCapacity((text?.count ?? 2) + 2)
        appendJSON(text, to: &json)
        return json
    }

    /// Appends a text value as a JSON string (`null` when the value is null; invalid UTF-8 replaced by U+FFFD).
    static func appendJSON(_ text: UnsafeRawBufferPointer?, to json: inout [UInt8]) {
        guard let text else { return json.append(contentsOf: "null".utf8) }
        if UTF8Validator.isValid(text) {
            JSON.writeString(text, into: &json)
        } else {
            JSON.writeString(String(decoding: text, as: UTF8.self).utf8, into: &json)
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
                            if UTF8Validator.isValid(text) {
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

/// What the Parquet caches of one replay share, whichever thread they read on: opened files (at most 16; per-file
/// lookups go with them), the text columns' page starts, sparse dictionaries and the page cache, each behind one
/// lock, and the page prefetcher. Values are functions of the files' bytes, so which thread computed one does not
/// change any output.
final class ParquetReplayStore: @unchecked Sendable {
    private struct State {
        var files: [Int: ParquetFile] = [:]
        /// Per opened file: its flat byte-array text column, nil when the text field is not one.
        var textColumns: [Int: ParquetColumnDescriptor?] = [:]
        var pages: PageCache
        /// Per (file, row group): the text column's page start rows (file row indices), nil when unknown.
        var pageStarts: [PageKey: [Int64]?] = [:]
        /// Per (file, row group): the text column's dictionary page indexed for sparse reads (8 bytes per value),
        /// nil when there is none or it is not snappy PLAIN.
        var sparseDictionaries: [PageKey: ParquetSparseByteArrayPage?] = [:]
        /// Per (file, row group): the text column's dictionary page for synced reads, nil when it has none.
        var syncedDictionaries: [PageKey: ParquetSyncedPage?] = [:]
    }
    private let state: Mutex<State>
    /// Per file of the manifest: its data pages' sync points (docs/manifest-format.md §4.1), in row order; empty
    /// when it has none. Pages they cover are read from them, without indexing.
    let syncPoints: [[ParquetSyncPoint]]
    /// Per file: its dictionary pages' sync points (rows < 0).
    let dictionarySyncPoints: [[ParquetSyncPoint]]
    /// Indexes upcoming pages on another thread (`ParquetReplayCache.prefetch`), when sparse reads are on.
    let prefetcher: ParquetPrefetcher?

    init(budget: Int, syncPoints: [[ParquetSyncPoint]], prefetcher: Bool) {
        state = Mutex(State(pages: PageCache(budget: budget)))
        self.syncPoints = syncPoints.map { $0.filter { $0.row >= 0 } }
        dictionarySyncPoints = syncPoints.map { $0.filter { $0.row < 0 } }
        self.prefetcher = prefetcher ? ParquetPrefetcher() : nil
    }

    func file(_ i: Int) -> ParquetFile? { state.withLock { $0.files[i] } }

    /// Keeps `file` as file `i` (or the one another thread kept first), forgetting all files and their lookups
    /// once 16 are open.
    func insert(_ file: ParquetFile, as i: Int) -> ParquetFile {
        state.withLock { s in
            if let f = s.files[i] { return f }
            if s.files.count >= 16 {
                s.files.removeAll()
                s.pageStarts.removeAll()
                s.textColumns.removeAll()
                s.sparseDictionaries.removeAll()
                s.syncedDictionaries.removeAll()
            }
            s.files[i] = file
            return file
        }
    }

    func textColumn(_ i: Int) -> ParquetColumnDescriptor?? { state.withLock { $0.textColumns[i] } }
    func setTextColumn(_ i: Int, _ c: ParquetColumnDescriptor?) { state.withLock { $0.textColumns[i] = .some(c) } }
    func pageStarts(_ key: PageKey) -> [Int64]?? { state.withLock { $0.pageStarts[key] } }
    func setPageStarts(_ key: PageKey, _ starts: [Int64]?) { state.withLock { $0.pageStarts[key] = .some(starts) } }
    func sparseDictionary(_ key: PageKey) -> ParquetSparseByteArrayPage?? {
        state.withLock { $0.sparseDictionaries[key] }
    }
    func setSparseDictionary(_ key: PageKey, _ d: ParquetSparseByteArrayPage?) {
        state.withLock { $0.sparseDictionaries[key] = .some(d) }
    }
    func syncedDictionary(_ key: PageKey) -> ParquetSyncedPage?? { state.withLock { $0.syncedDictionaries[key] } }
    func setSyncedDictionary(_ key: PageKey, _ d: ParquetSyncedPage?) {
        state.withLock { $0.syncedDictionaries[key] = .some(d) }
    }
    func remove(_ key: PageKey) { state.withLock { $0.pages.remove(key) } }
    func contains(_ key: PageKey) -> Bool { state.withLock { $0.pages.contains(key) } }
    func get(_ key: PageKey) -> PageCache.Entry? { state.withLock { $0.pages.get(key) } }
    func put(_ key: PageKey, _ entry: PageCache.Entry, bytes n: Int) { state.withLock { $0.pages.put(key, entry, bytes: n) } }
}

/// A decoded text page (`page` ≥ 0) or a chunk's dictionary (`page` == -1) of one file's row group.
struct PageKey: Hashable {
    var file: Int
    var rowGroup: Int
    var page: Int
}

/// Decoded pages and dictionaries, least recently used evicted once their bytes pass the budget.
struct PageCache {
    enum Entry {
        case page(ParquetByteArrayPage)
        case dictionary(ParquetByteArrayDictionary)
        case sparse(ParquetSparseByteArrayPage)
        case dictionaryRows(ParquetSparseDictionaryRows)
        case synced(ParquetSyncedPage)
        /// A dictionary-encoded page read against its chunk's dictionary page from sync points: the page's first
        /// file row and, per row, its value's index (−1 when null).
        case syncedDictionaryRows(firstRow: Int64, indices: [Int32], dictionary: ParquetSyncedPage)
    }

    let budget: Int
    private(set) var bytes = 0
    private var entries: [PageKey: (entry: Entry, bytes: Int, used: UInt64)] = [:]
    private var clock: UInt64 = 0

    init(budget: Int) { self.budget = budget }

    /// Whether `key` is cached (its recency unchanged).
    func contains(_ key: PageKey) -> Bool { entries[key] != nil }

    mutating func get(_ key: PageKey) -> Entry? {
        guard var e = entries[key] else { return nil }
        clock += 1
        e.used = clock
        entries[key] = e
        return e.entry
    }

    mutating func remove(_ key: PageKey) {
        if let e = entries.removeValue(forKey: key) { bytes -= e.bytes }
    }

    mutating func put(_ key: PageKey, _ entry: Entry, bytes n: Int) {
        clock += 1
        if let old = entries[key] { bytes -= old.bytes }
        entries[key] = (entry, n, clock)
        bytes += n
        // Evict the least recently used (never the entry just added): a linear pass, as entries are ~1 MB pages.
        while bytes > budget && entries.count > 1 {
            var victim: PageKey?
            var oldest = UInt64.max
            for (k, e) in entries where e.used < oldest && k != key {
                oldest = e.used
                victim = k
            }
            guard let victim, let e = entries.removeValue(forKey: victim) else { break }
            bytes -= e.bytes
        }
    }
}

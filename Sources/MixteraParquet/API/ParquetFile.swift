import MixteraCore
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// An open Parquet file with its parsed footer.
///
/// ```
/// "PAR1" | column chunks (pages) ... | FileMetaData (thrift compact) | footer length (u32 LE) | "PAR1"
/// ```
/// Opening reads only the last 8 bytes and the footer; columns are read on demand, one column chunk (or, with an
/// offset index, the needed pages) at a time. Instances are immutable and safe to share across tasks.
public final class ParquetFile: Sendable {
    public let path: String
    public let byteCount: Int64
    /// Total rows (from the footer; equals the sum of the row groups' row counts).
    public let rowCount: Int64
    public let schema: ParquetSchema
    public let rowGroups: [ParquetRowGroupInfo]
    public let createdBy: String?
    public let formatVersion: Int32
    public let keyValueMetadata: [ParquetKeyValue]

    let file: ReadOnlyFile
    /// Byte offset where the footer starts (pages must end before it).
    let footerOffset: Int64
    /// The whole file mapped read-only, when opened with a mapped `ReadMode` (page reads then copy nothing).
    let mapping: FileMapping?
    let mode: ReadMode

    /// How page bytes are read.
    public enum ReadMode: Sendable {
        /// `pread` into fresh buffers.
        case pread
        /// A read-only mapping of the whole file (falls back to `pread` when mapping fails); the pages a read
        /// touched are dropped from the process's resident set after it (they stay in the page cache).
        case map
        /// A mapping whose pages are faulted in up front (for reading most of the file, e.g. a scan).
        case mapPopulated
    }

    /// Largest footer we accept.
    public static let maxFooterByteCount = 256 << 20

    /// Opens `path` and parses its footer.
    ///
    /// - Throws: `ParquetError` with code `io`, `bad-magic`, `encrypted` or `corrupt-footer`.
    public init(path: String, mode: ReadMode = .pread) throws(ParquetError) {
        self.path = path
        let f: ReadOnlyFile
        let size: Int64
        do {
            f = try ReadOnlyFile(path: path)
            size = try f.stat().byteCount
        } catch {
            throw ParquetError(error)
        }
        func loc(_ offset: Int64? = nil) -> DataLocation { DataLocation(path: path, byteOffset: offset) }
        guard size >= 12 else {
            throw ParquetError(
                .badMagic, "file has \(size) bytes, too small to be Parquet (needs at least 12); check the path",
                at: loc(0))
        }
        let tail: [UInt8]
        let head: [UInt8]
        do {
            tail = try f.readExactly(8, at: size - 8)
            head = try f.readExactly(4, at: 0)
        } catch {
            throw ParquetError(error)
        }
        let par1: [UInt8] = Array("PAR1".utf8)
        let pare: [UInt8] = Array("PARE".utf8)
        if Array(tail[4..<8]) == pare || head == pare {
            throw ParquetError(
                .encrypted, "encrypted Parquet is not supported (magic PARE); decrypt the file first",
                at: loc(Array(tail[4..<8]) == pare ? size - 4 : 0))
        }
        guard head == par1 else {
            throw ParquetError(
                .badMagic, "file does not start with magic PAR1 (found \(Self.show(head))); is it a Parquet file?",
                at: loc(0))
        }
        guard Array(tail[4..<8]) == par1 else {
            throw ParquetError(
                .badMagic,
                "file does not end with magic PAR1 (found \(Self.show(Array(tail[4..<8])))); the file is truncated or not Parquet",
                at: loc(size - 4))
        }
        let footerLength =
            Int64(tail[0]) | Int64(tail[1]) << 8 | Int64(tail[2]) << 16 | Int64(tail[3]) << 24
        guard footerLength > 0, footerLength <= size - 12, footerLength <= Int64(Self.maxFooterByteCount) else {
            throw ParquetError(
                .corruptFooter,
                "footer length \(footerLength) does not fit in a file of \(size) bytes; the file is truncated or corrupt",
                at: loc(size - 8))
        }
        let footerOffset = size - 8 - footerLength
        let footer: [UInt8]
        do { footer = try f.readExactly(Int(footerLength), at: footerOffset) } catch { throw ParquetError(error) }
        var reader = ThriftCompactReader(footer)
        let meta: FileMetaData
        do {
            let s = try reader.readStruct()
            meta = try MetadataDecoder.fileMetaData(s)
        } catch let e as ThriftError {
            throw ParquetError(
                .corruptFooter, "footer metadata is corrupt: \(e.message)", at: loc(footerOffset + Int64(e.byteOffset)))
        } catch let e as MetadataDecoder.Failure {
            let code: ParquetError.Code = e.message.hasPrefix("encrypted") ? .encrypted : .corruptFooter
            throw ParquetError(code, e.message, at: loc(footerOffset))
        } catch {
            throw ParquetError(.corruptFooter, "footer metadata is corrupt", at: loc(footerOffset))
        }
        let sum = meta.rowGroups.reduce(Int64(0)) { $0 &+ $1.rowCount }
        if !meta.rowGroups.isEmpty && sum != meta.rowCount {
            throw ParquetError(
                .corruptFooter, "row groups hold \(sum) rows but the footer says \(meta.rowCount)", at: loc(footerOffset))
        }
        self.file = f
        self.byteCount = size
        self.footerOffset = footerOffset
        self.rowCount = meta.rowGroups.isEmpty ? 0 : meta.rowCount
        self.schema = meta.schema
        self.rowGroups = meta.rowGroups
        self.createdBy = meta.createdBy
        self.formatVersion = meta.version
        self.keyValueMetadata = meta.keyValueMetadata.map { ParquetKeyValue(key: $0.key, value: $0.value) }
        self.mode = mode
        self.mapping = mode == .pread ? nil : FileMapping(fd: f.fd, byteCount: Int(size), populate: mode == .mapPopulated)
    }

    /// The catalog's file fingerprint (`ParquetFooterFingerprint`): XXH3-64 of the footer, its length and
    /// the closing magic — the file's last `byteCount - footerOffset` bytes, already validated by `init`.
    public func fingerprint() throws(ParquetError) -> UInt64 {
        if let mapping {
            return XXH3.hash(UnsafeRawBufferPointer(rebasing: mapping.bytes[Int(footerOffset)..<Int(byteCount)]))
        }
        do { return XXH3.hash(try file.readExactly(Int(byteCount - footerOffset), at: footerOffset)) } catch {
            throw ParquetError(error)
        }
    }

    private static func show(_ b: [UInt8]) -> String {
        let printable = b.allSatisfy { $0 >= 0x20 && $0 < 0x7F }
        if printable { return "\"" + String(decoding: b, as: UTF8.self) + "\"" }
        return b.map { hex(UInt32($0)).dropFirst(8) }.joined()
    }

    // MARK: Column lookup

    /// The leaf column with this dotted path (`meta.language`, `tags.list.element`).
    ///
    /// - Throws: `no-such-column` naming the path and the available leaf columns.
    public func column(_ dottedPath: String) throws(ParquetError) -> ParquetColumnDescriptor {
        if let n = schema.node(dottedPath: dottedPath), let c = schema.nodes[n].columnIndex { return schema.columns[c] }
        throw noSuchColumn(dottedPath, leavesOnly: true)
    }

    /// The schema node with this dotted path (a leaf or a group such as a struct or list).
    public func node(_ dottedPath: String) throws(ParquetError) -> Int {
        if let n = schema.node(dottedPath: dottedPath), n != 0 { return n }
        throw noSuchColumn(dottedPath, leavesOnly: false)
    }

    @inline(never)
    private func noSuchColumn(_ p: String, leavesOnly: Bool) -> ParquetError {
        let names = schema.columns.prefix(20).map(\.dottedPath).joined(separator: ", ")
        return ParquetError(
            .noSuchColumn, "column \"\(p)\" does not exist\(leavesOnly ? " or is not a leaf" : ""); leaf columns are: \(names)",
            at: DataLocation(path: path), category: .usage)
    }

    // MARK: Typed column reads

    func chunkReader(_ column: ParquetColumnDescriptor, rowGroup: Int) -> ColumnChunkReader {
        var reader = ColumnChunkReader(
            file: file, path: path, dataEnd: footerOffset, descriptor: column,
            chunk: rowGroups[rowGroup].columns[column.index], rowGroup: rowGroups[rowGroup])
        reader.mapping = mapping?.bytes
        reader.releaseMappedPages = mode == .map
        reader.derivedLocations = { [self] in pageLocations(column, rowGroup: rowGroup) }
        return reader
    }

    /// The data pages of `column` in `rowGroup`: from the offset index, or derived from the page headers for flat
    /// columns; nil when unknown. Cached per (row group, column).
    func pageLocations(_ column: ParquetColumnDescriptor, rowGroup: Int) -> [PageLocation]? {
        let key = rowGroup << 20 | column.index
        if let hit = pageLocationCache.withLock({ $0[key] }) { return hit.isEmpty ? nil : hit }
        var reader = ColumnChunkReader(
            file: file, path: path, dataEnd: footerOffset, descriptor: column,
            chunk: rowGroups[rowGroup].columns[column.index], rowGroup: rowGroups[rowGroup])
        reader.mapping = mapping?.bytes
        var locations = (try? reader.offsetIndex()) ?? reader.pageLocationsFromHeaders()
        if let l = locations, l.isEmpty || l[0].firstRowIndex != 0 { locations = nil }
        pageLocationCache.withLock { $0[key] = locations ?? [] }
        return locations
    }

    /// File row indices at which the pages of `column` start within `rowGroup` (from the offset index, or
    /// derived from page headers for flat columns); nil when unknown. Lets callers read and cache whole pages.
    public func pageRowStarts(_ column: ParquetColumnDescriptor, rowGroup: Int) -> [Int64]? {
        guard let locations = pageLocations(column, rowGroup: rowGroup) else { return nil }
        return locations.map { rowGroups[rowGroup].firstRowIndex + $0.firstRowIndex }
    }

    /// Page locations (offset index or derived from page headers), per (row group, column).
    let pageLocationCache = Mutex<[Int: [PageLocation]]>([:])

    // MARK: Flat byte-array columns, page by page

    /// Whether `column` is a flat (non-repeated) BYTE_ARRAY column, as the page-level byte-array reads need.
    public static func isFlatByteArray(_ column: ParquetColumnDescriptor) -> Bool {
        column.maxRepetitionLevel == 0 && column.physicalType == .byteArray
    }

    private func requireFlatByteArray(_ column: ParquetColumnDescriptor) throws(ParquetError) {
        guard Self.isFlatByteArray(column) else {
            throw ParquetError(
                .unsupportedType, "column \"\(column.dottedPath)\" is not a flat BYTE_ARRAY column",
                at: DataLocation(path: path, columnName: column.dottedPath), category: .usage)
        }
    }

    /// Per row of `rowGroup`, the byte length of the value of the flat BYTE_ARRAY `column` (a text column's UTF-8
    /// length), or -1 when the row is null. Pages are decompressed into one reused buffer and their length
    /// prefixes (PLAIN) or dictionary indices walked; no value is copied.
    public func byteArrayRowLengths(_ column: ParquetColumnDescriptor, rowGroup: Int) throws(ParquetError) -> [Int32] {
        try requireFlatByteArray(column)
        precondition(rowGroups.indices.contains(rowGroup), "row group \(rowGroup) out of range")
        var lengths: [Int32] = []
        lengths.reserveCapacity(Int(rowGroups[rowGroup].rowCount))
        var scratch = ByteArrayPageScratch()
        try chunkReader(column, rowGroup: rowGroup).byteArrayLengths(into: &lengths, scratch: &scratch)
        return lengths
    }

    /// ``byteArrayRowLengths(_:rowGroup:)``, also appending to `syncPoints` the sync points of the column's snappy
    /// PLAIN pages that keep to 64 KiB fragments and hold no nulls (``ParquetSyncPoint``), in row order.
    public func byteArrayRowLengths(
        _ column: ParquetColumnDescriptor, rowGroup: Int, syncPoints: inout [ParquetSyncPoint]
    ) throws(ParquetError) -> [Int32] {
        try requireFlatByteArray(column)
        precondition(rowGroups.indices.contains(rowGroup), "row group \(rowGroup) out of range")
        var lengths: [Int32] = []
        lengths.reserveCapacity(Int(rowGroups[rowGroup].rowCount))
        var scratch = ByteArrayPageScratch()
        scratch.syncPoints = []
        try chunkReader(column, rowGroup: rowGroup).byteArrayLengths(into: &lengths, scratch: &scratch)
        syncPoints.append(contentsOf: scratch.syncPoints ?? [])
        return lengths
    }

    /// Every data page of the flat BYTE_ARRAY `column` in `rowGroup`, decoded to spans, in row order, with the
    /// chunk's dictionary (empty when none). Dictionary-encoded pages carry per-row dictionary indices, so callers
    /// can convert each distinct value once.
    public func byteArrayPages(_ column: ParquetColumnDescriptor, rowGroup: Int) throws(ParquetError)
        -> (dictionary: ParquetByteArrayDictionary, pages: [ParquetByteArrayPage])
    {
        try requireFlatByteArray(column)
        precondition(rowGroups.indices.contains(rowGroup), "row group \(rowGroup) out of range")
        return try chunkReader(column, rowGroup: rowGroup).byteArrayPages()
    }

    /// The decoded dictionary page of the flat BYTE_ARRAY `column` in `rowGroup` (empty when there is none), for
    /// ``byteArrayPage(_:rowGroup:page:dictionary:)``. Nil when the chunk's pages are unknown (see `pageRowStarts`).
    public func byteArrayDictionary(_ column: ParquetColumnDescriptor, rowGroup: Int) throws(ParquetError)
        -> ParquetByteArrayDictionary?
    {
        try requireFlatByteArray(column)
        guard let locations = pageLocations(column, rowGroup: rowGroup) else { return nil }
        return try chunkReader(column, rowGroup: rowGroup).byteArrayDictionary(locations: locations)
    }

    /// Data page `page` (an index into ``pageRowStarts(_:rowGroup:)``) of the flat BYTE_ARRAY `column` in
    /// `rowGroup`, decoded to spans; `dictionary` is the chunk's (from ``byteArrayDictionary(_:rowGroup:)``).
    public func byteArrayPage(
        _ column: ParquetColumnDescriptor, rowGroup: Int, page: Int, dictionary: ParquetByteArrayDictionary
    ) throws(ParquetError) -> ParquetByteArrayPage {
        try requireFlatByteArray(column)
        guard let locations = pageLocations(column, rowGroup: rowGroup), locations.indices.contains(page) else {
            throw ParquetError(
                .rowOutOfRange, "page \(page) does not exist in row group \(rowGroup) of column \"\(column.dottedPath)\"",
                at: DataLocation(path: path, rowGroup: rowGroup, columnName: column.dottedPath), category: .usage)
        }
        return try chunkReader(column, rowGroup: rowGroup).byteArrayPage(page, locations: locations, dictionary: dictionary)
    }

    /// Data page `page` of the flat BYTE_ARRAY `column` in `rowGroup`, indexed for reading a few of its rows without
    /// decompressing it whole (``withSparseRows(_:rowGroup:page:rows:window:_:)``); nil when the page is not a
    /// snappy PLAIN data page (v1), or the chunk's pages are unknown: read it with
    /// ``byteArrayPage(_:rowGroup:page:dictionary:)`` instead. `scratch` (the same as for the reads) keeps the
    /// walk's working storage warm from page to page.
    public func sparseByteArrayPage(
        _ column: ParquetColumnDescriptor, rowGroup: Int, page: Int, scratch: ParquetSparseWindow = ParquetSparseWindow()
    ) throws(ParquetError) -> ParquetSparseByteArrayPage? {
        try requireFlatByteArray(column)
        guard let locations = pageLocations(column, rowGroup: rowGroup), locations.indices.contains(page) else {
            return nil
        }
        return try chunkReader(column, rowGroup: rowGroup).sparseByteArrayPage(
            page, locations: locations, elementBuffers: scratch.elementBuffers)
    }

    /// Data page `page` of the flat BYTE_ARRAY `column` in `rowGroup` for synced reads from `syncPoints` (the
    /// file's, sorted by row; see ``ParquetSyncPoint``); nil when the page is not snappy PLAIN, no sync point lies
    /// in it, or they do not fit it (read it with ``sparseByteArrayPage(_:rowGroup:page:scratch:)`` then). Only the
    /// page header is read (and the body when it carries a crc).
    public func syncedByteArrayPage(
        _ column: ParquetColumnDescriptor, rowGroup: Int, page: Int, syncPoints: ArraySlice<ParquetSyncPoint>
    ) throws(ParquetError) -> ParquetSyncedPage? {
        try requireFlatByteArray(column)
        guard let locations = pageLocations(column, rowGroup: rowGroup), locations.indices.contains(page) else {
            return nil
        }
        return try chunkReader(column, rowGroup: rowGroup).syncedByteArrayPage(
            page, locations: locations, points: syncPoints)
    }

    /// The dictionary page of the flat BYTE_ARRAY `column` in `rowGroup` for synced reads of its values (value `i`
    /// as row `i`) from `syncPoints`, the file's dictionary sync points (``ParquetSyncPoint/row`` < 0); nil when the
    /// chunk has no snappy PLAIN dictionary page, its pages are unknown, or the points do not fit it.
    public func syncedDictionaryPage(_ column: ParquetColumnDescriptor, rowGroup: Int, syncPoints: [ParquetSyncPoint])
        throws(ParquetError) -> ParquetSyncedPage?
    {
        try requireFlatByteArray(column)
        guard let locations = pageLocations(column, rowGroup: rowGroup) else { return nil }
        return try chunkReader(column, rowGroup: rowGroup).syncedDictionaryPage(locations: locations, points: syncPoints)
    }

    /// Per row of dictionary-encoded data page `page` of `column` in `rowGroup`: the index of its value in the
    /// chunk's dictionary of `count` values (−1 when null; an index past `count` is an error); nil when the page
    /// is not dictionary-encoded or the chunk's pages are unknown.
    public func dictionaryIndices(_ column: ParquetColumnDescriptor, rowGroup: Int, page: Int, count: Int)
        throws(ParquetError) -> [Int32]?
    {
        try requireFlatByteArray(column)
        guard let locations = pageLocations(column, rowGroup: rowGroup), locations.indices.contains(page) else {
            return nil
        }
        return try chunkReader(column, rowGroup: rowGroup).dictionaryIndices(page, locations: locations, count: count)
    }

    /// Reads rows `rows` (page-relative) of `page` from its sync points, decoding into `window`, and calls `body`
    /// with each row's page-relative index and value bytes, in row order (valid only during the call). False when
    /// the page's bytes do not decode as its sync points say; rows already passed to `body` must then be
    /// discarded, and the page read with ``sparseByteArrayPage(_:rowGroup:page:scratch:)``, which reports damage.
    public func withSyncedRows(
        _ page: ParquetSyncedPage, rows: Range<Int>, window: ParquetSparseWindow,
        _ body: (Int, UnsafeRawBufferPointer) -> Void
    ) -> Bool {
        precondition(rows.lowerBound >= 0 && rows.upperBound <= page.rowCount, "rows out of the page")
        guard !rows.isEmpty else { return true }
        guard let bytes = mapping?.bytes, page.bodyOffset >= 4, footerOffset <= bytes.count,
            page.bodyCount <= footerOffset - page.bodyOffset
        else { return false }
        let start = Int(page.bodyOffset)
        defer { releaseSparse() }
        return window.synced(
            UnsafeRawBufferPointer(rebasing: bytes[start..<start + page.bodyCount]), path: path, page: page, rows: rows,
            body)
    }

    /// The dictionary page of the flat BYTE_ARRAY `column` in `rowGroup`, indexed for sparse reads (value `i`
    /// standing for row `i`); nil when the chunk has no dictionary page, it is not snappy PLAIN, or the chunk's
    /// pages are unknown.
    public func sparseDictionaryPage(
        _ column: ParquetColumnDescriptor, rowGroup: Int, scratch: ParquetSparseWindow = ParquetSparseWindow()
    ) throws(ParquetError) -> ParquetSparseByteArrayPage? {
        try requireFlatByteArray(column)
        guard let locations = pageLocations(column, rowGroup: rowGroup) else { return nil }
        return try chunkReader(column, rowGroup: rowGroup).sparseDictionaryPage(
            locations: locations, elementBuffers: scratch.elementBuffers)
    }

    /// Data page `page` of `column` in `rowGroup` decoded against `dictionary` (from
    /// ``sparseDictionaryPage(_:rowGroup:scratch:)`` for the same chunk) without decoding the dictionary's values;
    /// nil when the page is not dictionary-encoded (read it with ``sparseByteArrayPage(_:rowGroup:page:scratch:)``
    /// or ``byteArrayPage(_:rowGroup:page:dictionary:)``).
    public func sparseDictionaryRows(
        _ column: ParquetColumnDescriptor, rowGroup: Int, page: Int, dictionary: ParquetSparseByteArrayPage
    ) throws(ParquetError) -> ParquetSparseDictionaryRows? {
        try requireFlatByteArray(column)
        guard let locations = pageLocations(column, rowGroup: rowGroup), locations.indices.contains(page) else {
            return nil
        }
        return try chunkReader(column, rowGroup: rowGroup).sparseDictionaryRows(
            page, locations: locations, dictionary: dictionary)
    }

    /// Decodes rows `range` (page-relative) of `rows` (from ``sparseDictionaryRows(_:rowGroup:page:dictionary:)``)
    /// from the dictionary's compressed bytes into `window`, then calls `body` with each row's page-relative index
    /// and value bytes (nil when null), in row order. The bytes are valid only during the call.
    public func withSparseRows(
        _ column: ParquetColumnDescriptor, rowGroup: Int, rows: ParquetSparseDictionaryRows, range: Range<Int>,
        window: ParquetSparseWindow, _ body: (Int, UnsafeRawBufferPointer?) -> Void
    ) throws(ParquetError) {
        precondition(range.lowerBound >= 0 && range.upperBound <= rows.rowCount, "rows out of the page")
        var reader = chunkReader(column, rowGroup: rowGroup)
        reader.releaseMappedPages = false
        try reader.withSparseValues(
            rows.dictionary, starts: rows.starts, lengths: rows.lengths, rows: range, window: window, body)
    }

    /// Decodes rows `rows` (page-relative) of `page` (from ``sparseByteArrayPage(_:rowGroup:page:)`` for the same
    /// column and row group) into `window`, then calls `body` with each row's page-relative index and value bytes
    /// (nil when null), in row order. The bytes are valid only during the call.
    public func withSparseRows(
        _ column: ParquetColumnDescriptor, rowGroup: Int, page: ParquetSparseByteArrayPage, rows: Range<Int>,
        window: ParquetSparseWindow, _ body: (Int, UnsafeRawBufferPointer?) -> Void
    ) throws(ParquetError) {
        precondition(rows.lowerBound >= 0 && rows.upperBound <= page.rowCount, "rows out of the page")
        // The common case straight from the mapping: a fragment-keeping page whose body lies in the page data.
        // Anything else (an element index, a decode that fails) goes through the chunk reader, which reports
        // damage with its location.
        if page.elements == nil, let bytes = mapping?.bytes, page.bodyOffset >= 4, footerOffset <= bytes.count,
            page.bodyCount <= footerOffset - page.bodyOffset
        {
            guard let span = ParquetSparseByteArrayPage.span(starts: page.starts, lengths: page.lengths, rows: rows)
            else {
                return ParquetSparseByteArrayPage.emit(
                    starts: page.starts, lengths: page.lengths, rows: rows, from: nil, at: 0, body)
            }
            let body0 = Int(page.bodyOffset)
            let input = UnsafeRawBufferPointer(rebasing: bytes[body0..<body0 + page.bodyCount])
            if let base = window.fragments(
                input, path: path, bodyOffset: page.bodyOffset, fragmentStarts: page.fragmentStarts, range: span,
                outLength: page.outLength)
            {
                ParquetSparseByteArrayPage.emit(
                    starts: page.starts, lengths: page.lengths, rows: rows, from: window.bytes, at: base, body)
                return releaseSparse()
            }
        }
        var reader = chunkReader(column, rowGroup: rowGroup)
        // A sparse read touches a few pages of the mapping: rather than dropping them after each read (a TLB
        // flush each time), the whole mapping is dropped every `sparseReleaseInterval` reads (mode `.map`).
        reader.releaseMappedPages = false
        try reader.withSparseRows(page, rows: rows, window: window, body)
        releaseSparse()
    }

    /// Counts a sparse read, dropping the whole mapping every `sparseReleaseInterval` of them (mode `.map`).
    private func releaseSparse() {
        guard mode == .map, let bytes = mapping?.bytes else { return }
        let due = sparseReads.withLock { n in
            n += 1
            return n % Self.sparseReleaseInterval == 0
        }
        if due { FileMapping.release(bytes, 0..<bytes.count) }
    }

    /// Sparse reads between two releases of the whole mapping (at most a few pages each stay resident meanwhile).
    static let sparseReleaseInterval = 256
    let sparseReads = Mutex<Int>(0)

    /// Decodes one leaf column of one row group: levels plus typed non-null values.
    ///
    /// - Complexity: reads and decodes only this column chunk's bytes.
    /// - Throws: `ParquetError` (page, codec and encoding errors carry row group, column and page).
    public func readColumn(_ column: ParquetColumnDescriptor, rowGroup: Int) throws(ParquetError) -> ParquetColumnData {
        precondition(rowGroups.indices.contains(rowGroup), "row group \(rowGroup) out of range")
        let chunk = try chunkReader(column, rowGroup: rowGroup).read()
        return Self.publicData(chunk, column: column)
    }

    /// Decodes the pages of one leaf column that cover `rows` (file row indices, within one row group): only
    /// those pages (and the dictionary page) are read when page boundaries are known, else the whole chunk.
    /// - Returns: the first decoded row (file index) and the data of the decoded rows, a superset of `rows`.
    public func readColumnPages(_ column: ParquetColumnDescriptor, rows: Range<Int64>) throws(ParquetError)
        -> (firstRow: Int64, data: ParquetColumnData)
    {
        guard
            let g = rowGroups.first(where: {
                $0.rowCount > 0 && rows.lowerBound >= $0.firstRowIndex
                    && rows.upperBound <= $0.firstRowIndex + $0.rowCount
            })
        else {
            throw ParquetError(
                .rowOutOfRange, "rows \(rows) are not within one row group", at: DataLocation(path: path), category: .usage)
        }
        let local = (rows.lowerBound - g.firstRowIndex)..<(rows.upperBound - g.firstRowIndex)
        let chunk = try chunkReader(column, rowGroup: g.index).read(rows: local)
        return (g.firstRowIndex + chunk.firstRow, Self.publicData(chunk, column: column))
    }

    /// Decodes one leaf column over all row groups, concatenated.
    public func readColumn(_ column: ParquetColumnDescriptor) throws(ParquetError) -> ParquetColumnData {
        var all = LeafChunk(values: ValueBuffer(physicalType: column.physicalType, fixedWidth: Int(column.typeLength ?? 0)))
        for g in rowGroups.indices {
            let c = try chunkReader(column, rowGroup: g).read()
            all.definitionLevels.append(contentsOf: c.definitionLevels)
            all.repetitionLevels.append(contentsOf: c.repetitionLevels)
            all.levelCount += c.levelCount
            all.rowCount += c.rowCount
            append(&all.values, c.values)
        }
        return Self.publicData(all, column: column)
    }

    private func append(_ a: inout ValueBuffer, _ b: ValueBuffer) {
        a.bools += b.bools
        a.int32s += b.int32s
        a.int64s += b.int64s
        a.floats += b.floats
        a.doubles += b.doubles
        let base = a.bytes.count
        a.bytes += b.bytes
        a.offsets.append(contentsOf: b.offsets.dropFirst().map { $0 + base })
    }

    static func publicData(_ c: LeafChunk, column: ParquetColumnDescriptor) -> ParquetColumnData {
        let v = c.values
        let values: ParquetValues
        switch v.physicalType {
        case .boolean: values = .boolean(v.bools)
        case .int32: values = .int32(v.int32s)
        case .int64: values = .int64(v.int64s)
        case .float: values = .float(v.floats)
        case .double: values = .double(v.doubles)
        case .byteArray, .fixedLenByteArray, .int96: values = .bytes(ParquetByteArrays(bytes: v.bytes, offsets: v.offsets))
        }
        return ParquetColumnData(
            column: column, definitionLevels: c.definitionLevels, repetitionLevels: c.repetitionLevels, values: values,
            entryCount: c.levelCount, rowCount: c.rowCount)
    }

    // MARK: Row values

    /// Per requested node (dotted path to a leaf or a group), the value of every row in `rows`.
    ///
    /// Groups become objects, LIST becomes a list, MAP a list of key/value objects. A node below a repeated
    /// ancestor (`items.list.element.name`) yields per row the list of its values across that ancestor.
    /// Only the column chunks of the requested nodes' leaves are read, and only the row groups overlapping
    /// `rows` (and, with an offset index, only the overlapping pages).
    ///
    /// - Parameters:
    ///   - paths: dotted paths; each result array is in `paths` order.
    ///   - rows: file row indices; nil means every row.
    /// - Returns: `result[p][r]` is the value of `paths[p]` in row `rows.lowerBound + r`.
    /// - Throws: `no-such-column`, `row-out-of-range`, and page-level `ParquetError`s.
    public func readValues(_ paths: [String], rows: Range<Int64>? = nil) throws(ParquetError) -> [[ParquetValue]] {
        var nodes: [Int] = []
        for p in paths { nodes.append(try node(p)) }
        return try readNodes(nodes, rows: rows ?? 0..<rowCount)
    }

    /// Whole rows as objects with one field per top-level column.
    public func readRows(_ rows: Range<Int64>) throws(ParquetError) -> [ParquetValue] {
        let top = schema.topLevelFields
        let cols = try readNodes(top, rows: rows)
        var out: [ParquetValue] = []
        out.reserveCapacity(rows.count)
        for r in 0..<Int(rows.count) {
            var fields: [ParquetField] = []
            for (i, n) in top.enumerated() { fields.append(ParquetField(schema.nodes[n].name, cols[i][r])) }
            out.append(.object(fields))
        }
        return out
    }

    /// Whole rows rendered as compact JSON objects (see `docs/parquet-support.md` for the mapping).
    public func readRowsAsJSON(_ rows: Range<Int64>) throws(ParquetError) -> [String] {
        try readRows(rows).map { ParquetJSON.render($0) }
    }

    func readNodes(_ nodes: [Int], rows: Range<Int64>) throws(ParquetError) -> [[ParquetValue]] {
        guard rows.lowerBound >= 0, rows.upperBound <= rowCount else {
            throw ParquetError(
                .rowOutOfRange, "rows \(rows.lowerBound)..<\(rows.upperBound) are outside the file's \(rowCount) rows",
                at: DataLocation(path: path), category: .usage)
        }
        var out = [[ParquetValue]](repeating: [], count: nodes.count)
        for i in out.indices { out[i].reserveCapacity(rows.count) }
        for g in rowGroups where g.rowCount > 0 {
            let lo = max(rows.lowerBound, g.firstRowIndex)
            let hi = min(rows.upperBound, g.firstRowIndex + g.rowCount)
            guard lo < hi else { continue }
            let local = (lo - g.firstRowIndex)..<(hi - g.firstRowIndex)
            // Decode each needed leaf once, even when several nodes share it.
            var decoded: [Int: LeafChunk] = [:]
            for (i, n) in nodes.enumerated() {
                let assembler = RecordAssembler(schema: schema, nodeIndex: n)
                var merged: [ParquetValue]? = nil
                for c in schema.leafColumns(under: n) {
                    let column = schema.columns[c]
                    let chunk: LeafChunk
                    if let cached = decoded[c] {
                        chunk = cached
                    } else {
                        let whole = local.count == Int(g.rowCount)
                        chunk = try chunkReader(column, rowGroup: g.index).read(rows: whole ? nil : local)
                        decoded[c] = chunk
                    }
                    let start = Int(local.lowerBound - chunk.firstRow)
                    let values: [ParquetValue]
                    do {
                        values = try assembler.assemble(leaf: chunk, column: column, rows: start..<(start + local.count))
                    } catch {
                        throw error.located(path: path, rowGroup: g.index, column: column.dottedPath)
                    }
                    if var m = merged {
                        for r in m.indices { m[r] = RecordAssembler.merge(m[r], values[r]) }
                        merged = m
                    } else {
                        merged = values
                    }
                }
                out[i].append(contentsOf: merged ?? [ParquetValue](repeating: .null, count: local.count))
            }
        }
        return out
    }
}

/// One entry of the footer's key/value metadata.
public struct ParquetKeyValue: Sendable, Hashable {
    public var key: String
    public var value: String?
}

/// A read-only mapping of a whole file, unmapped when the last reference goes.
final class FileMapping: @unchecked Sendable {
    let bytes: UnsafeRawBufferPointer

    init?(fd: Int32, byteCount: Int, populate: Bool) {
        guard byteCount > 0,
            let p = mmap(nil, byteCount, PROT_READ, MAP_PRIVATE | (populate ? MAP_POPULATE : 0), fd, 0),
            p != MAP_FAILED
        else { return nil }
        bytes = UnsafeRawBufferPointer(start: p, count: byteCount)
    }

    deinit { munmap(UnsafeMutableRawPointer(mutating: bytes.baseAddress), bytes.count) }

    /// Drops the whole pages inside `range` of `mapping` from the resident set (`MADV_DONTNEED`; a later read
    /// faults them in again from the page cache).
    static func release(_ mapping: UnsafeRawBufferPointer, _ range: Range<Int>) {
        guard let base = mapping.baseAddress else { return }
        let page = 4096
        let lo = (range.lowerBound + page - 1) / page * page
        let hi = range.upperBound / page * page
        guard hi > lo else { return }
        madvise(UnsafeMutableRawPointer(mutating: base + lo), hi - lo, MADV_DONTNEED)
    }
}

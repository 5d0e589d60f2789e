/// A snappy-compressed PLAIN data page (v1) of a flat BYTE_ARRAY column, indexed so that a few of its rows can be
/// read without decompressing the page: each row's value position in the decompressed page, and the snappy block's
/// element index (`SnappyElementIndex`). A row range is produced from the compressed bytes alone: literal bytes are
/// copied from the input, copied bytes resolved from the earlier output they repeat. Reading a row costs about its
/// own bytes (plus the copies it repeats), not the page's. When the block keeps to 64 KiB fragments (as the reference
/// snappy compressor writes it), only each fragment's input offset is kept and a range is decoded from the start of
/// its fragment (`SnappyFragments`): memory is then 8 bytes per row. Otherwise the element index is kept: 8 more
/// bytes per snappy element.
public struct ParquetSparseByteArrayPage: Sendable {
    /// File row index of the page's first row.
    public let firstRow: Int64
    /// Data page index within the chunk's page locations, and its page number for error locations.
    let page: Int
    let pageNumber: Int
    /// The compressed body: file offset and byte count.
    let bodyOffset: Int64
    let bodyCount: Int
    /// Decompressed byte count.
    let outLength: Int
    /// Per row: where the value starts in the decompressed page, or -1 when null; and its byte length (-1 when null).
    let starts: [Int32]
    let lengths: [Int32]
    /// The input offset of each 64 KiB output fragment when the block keeps to them, else empty.
    let fragmentStarts: [Int32]
    /// The snappy block's elements, when it does not keep to fragments.
    let elements: SnappyElementIndex?

    public var rowCount: Int { starts.count }
    /// Memory held, for cache budgets.
    public var byteCount: Int {
        8 * starts.count + 4 * fragmentStarts.count + 8 * (elements?.count ?? 0) + 4 * (elements?.buckets.count ?? 0)
            + 128
    }

    /// The decompressed byte range the values of `rows` span; nil when they are all null or empty.
    static func span(starts: [Int32], lengths: [Int32], rows: Range<Int>) -> Range<Int>? {
        var lo = Int.max
        var hi = 0
        for r in rows where starts[r] >= 0 {
            lo = min(lo, Int(starts[r]))
            hi = max(hi, Int(starts[r]) + Int(lengths[r]))
        }
        return lo < hi ? lo..<hi : nil
    }

    /// Calls `body` with each row of `rows` and its value, read from `bytes`, which holds the decompressed page
    /// from output position `base` on (nil when `span` found nothing to read: values are then empty or null).
    static func emit(
        starts: [Int32], lengths: [Int32], rows: Range<Int>, from bytes: UnsafeMutableRawPointer?, at base: Int,
        _ body: (Int, UnsafeRawBufferPointer?) -> Void
    ) {
        for r in rows {
            let s = Int(starts[r])
            if s < 0 {
                body(r, nil)
            } else if let bytes {
                body(r, UnsafeRawBufferPointer(start: bytes + (s - base), count: Int(lengths[r])))
            } else {
                body(r, UnsafeRawBufferPointer(start: nil, count: 0))
            }
        }
    }
}

/// A dictionary-encoded data page of a flat BYTE_ARRAY column read against a sparse dictionary page: per row, the
/// span of its value in the decompressed dictionary (-1 when null). Rows are produced from the dictionary's
/// compressed bytes like a sparse page's (`ParquetFile.withSparseRows(_:rowGroup:rows:range:window:_:)`).
public struct ParquetSparseDictionaryRows: Sendable {
    /// File row index of the page's first row.
    public let firstRow: Int64
    let starts: [Int32]
    let lengths: [Int32]
    /// The chunk's dictionary page.
    let dictionary: ParquetSparseByteArrayPage

    public var rowCount: Int { starts.count }
    /// Memory held, for cache budgets (the dictionary index is counted with the dictionary).
    public var byteCount: Int { 8 * starts.count + 64 }
}

/// Scratch space of sparse reads, reused from call to call: the window `ParquetFile.withSparseRows` decodes into
/// and the element storage `ParquetFile.sparseByteArrayPage` walks a page into.
public final class ParquetSparseWindow {
    private(set) var bytes: UnsafeMutableRawPointer
    private(set) var capacity: Int
    /// What `bytes` holds after a fragment decode, so that the next read of the same page continues it: the page
    /// (file path and body offset), the output position `bytes` starts at, how far it is decoded, and the input
    /// offset to continue from. `body` is -1 when the window holds nothing reusable.
    var decodedPath = ""
    var decodedBody: Int64 = -1
    var decodedBase = 0
    var decodedEnd = 0
    var decodedIn = 0
    /// Synced reads (`synced`): the page-relative row whose length prefix is at output position `cursorOffset`,
    /// where the last read of the page stopped; -1 when unknown.
    var cursorRow = -1
    var cursorOffset = 0
    /// Where each row of a synced read starts in the decompressed page (reused).
    var syncedValues: [Int] = []
    /// The snappy element storage pages are walked into (warm from page to page; each index copies its part).
    let elementBuffers = SnappyElementBuffers()

    public init() {
        capacity = 1 << 16
        bytes = .allocate(byteCount: capacity, alignment: 16)
    }

    /// Grows the buffer to at least `n` bytes (its contents are not kept).
    func reserve(_ n: Int) {
        decodedBody = -1
        cursorRow = -1
        guard n > capacity else { return }
        bytes.deallocate()
        capacity = max(n, capacity * 2)
        bytes = .allocate(byteCount: capacity, alignment: 16)
    }

    /// Grows the buffer to at least `n` bytes, keeping its first `keep` bytes.
    func grow(to n: Int, keeping keep: Int) {
        guard n > capacity else { return }
        capacity = max(n, capacity * 2)
        let new = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 16)
        new.copyMemory(from: bytes, byteCount: keep)
        bytes.deallocate()
        bytes = new
    }

    /// Makes output bytes `range` of a fragment-keeping snappy block (`input`, the body of the page at `bodyOffset`
    /// of `path`) available in `bytes` and returns the output position `bytes` starts at; nil when the block
    /// breaks the fragment rule or its length `outLength`. A read of the same page at or after the last one continues
    /// its decode.
    func fragments(
        _ input: UnsafeRawBufferPointer, path: String, bodyOffset: Int64, fragmentStarts: [Int32], range: Range<Int>,
        outLength: Int
    ) -> Int? {
        let f = range.lowerBound / SnappyFragments.size
        let fragmentStart = f * SnappyFragments.size
        let reuse =
            decodedBody == bodyOffset && decodedBase <= range.lowerBound && fragmentStart <= decodedEnd
            && decodedPath == path
        if !reuse {
            guard f < fragmentStarts.count else { return nil }
            cursorRow = -1
            decodedPath = path
            decodedBody = bodyOffset
            decodedBase = fragmentStart
            decodedEnd = fragmentStart
            decodedIn = Int(fragmentStarts[f])
        }
        if range.upperBound > decodedEnd {
            var o = decodedEnd - decodedBase
            guard
                SnappyFragments.decode(
                    input, from: &decodedIn, to: &o, through: range.upperBound - decodedBase,
                    limit: outLength - decodedBase, window: self)
            else {
                decodedBody = -1
                cursorRow = -1
                return nil
            }
            decodedEnd = decodedBase + o
        }
        return decodedBase
    }

    deinit { bytes.deallocate() }
}

extension ColumnChunkReader {
    /// Indexes data page `k` of `locations` for sparse reads; nil when the page is not a snappy PLAIN data page (v1)
    /// with RLE definition levels (read it whole with `byteArrayPage`). The page is checked as strictly as a full
    /// decode: header, crc, snappy structure and exact length, value lengths and the row count.
    func sparseByteArrayPage(_ k: Int, locations: [PageLocation], elementBuffers: SnappyElementBuffers) throws(ParquetError)
        -> ParquetSparseByteArrayPage?
    {
        let codec = try codec()
        guard codec == .snappy else { return nil }
        let loc = locations[k]
        let endRow = k + 1 < locations.count ? locations[k + 1].firstRowIndex : rowGroup.rowCount
        let pageNumber = k + (locations[0].offset > chunk.startOffset ? 1 : 0)
        let maxDef = Int16(descriptor.maxDefinitionLevel)
        return try withDataPage(loc, pageNumber: pageNumber) { header in
            !(PageType(rawValue: header.type) == .dataPage && ParquetEncoding(rawValue: header.encoding) == .plain
                && (maxDef == 0 || header.definitionLevelEncoding == 3))
        } _: { (header, body, bodyOffset) throws(ParquetError) -> ParquetSparseByteArrayPage? in
            if let crc = header.crc, PageCRC.crc32(body) != crc {
                throw ParquetError(.crcMismatch, "page crc32 differs from its header; the file is corrupt")
            }
            let n = header.valueCount
            guard n <= Self.maxValuesPerPage else {
                throw ParquetError(
                    .valueCountMismatch, "data page declares \(n) values (page limit \(Self.maxValuesPerPage))")
            }
            guard Int64(n) == endRow - loc.firstRowIndex else {
                throw ParquetError(
                    .valueCountMismatch, "page holds \(n) rows but the page index says \(endRow - loc.firstRowIndex)")
            }
            return try sparsePage(
                body, header: header, maxDef: maxDef, firstRow: rowGroup.firstRowIndex + loc.firstRowIndex, page: k,
                pageNumber: pageNumber, bodyOffset: bodyOffset, elementBuffers: elementBuffers)
        } ?? nil
    }

    /// Indexes the chunk's dictionary page for sparse reads, its values standing for rows (`firstRow` 0); nil when
    /// the chunk has none or it is not a snappy PLAIN dictionary page. Checked as strictly as a full decode.
    func sparseDictionaryPage(locations: [PageLocation], elementBuffers: SnappyElementBuffers) throws(ParquetError)
        -> ParquetSparseByteArrayPage?
    {
        guard try codec() == .snappy else { return nil }
        return try withDictionaryPage(locations: locations) {
            (header, body, bodyOffset) throws(ParquetError) -> ParquetSparseByteArrayPage? in
            guard header.encoding == 0 || header.encoding == 2 else { return nil }
            guard header.valueCount <= Self.maxValuesPerPage else {
                throw ParquetError(
                    .valueCountMismatch,
                    "dictionary page declares \(header.valueCount) values (page limit \(Self.maxValuesPerPage))")
            }
            return try sparsePage(
                body, header: header, maxDef: 0, firstRow: 0, page: -1, pageNumber: 0, bodyOffset: bodyOffset,
                elementBuffers: elementBuffers)
        } ?? nil
    }

    /// Walks the snappy PLAIN values of `body` (a data page v1 with `maxDef`, or a dictionary page with 0) into a
    /// sparse page.
    func sparsePage(
        _ body: UnsafeRawBufferPointer, header: PageHeader, maxDef: Int16, firstRow: Int64, page: Int, pageNumber: Int,
        bodyOffset: Int64, elementBuffers: SnappyElementBuffers
    ) throws(ParquetError) -> ParquetSparseByteArrayPage {
        var scratch = ByteArrayPageScratch()
        scratch.sparse = elementBuffers
        var lengths: [Int32] = []
        var starts: [Int32]? = []
        starts?.reserveCapacity(header.valueCount)
        let rd = try sparsePlainWalk(body, header: header, maxDef: maxDef, scratch: &scratch, lengths: &lengths, starts: &starts)
        let fragments = rd.fragmentIndependent && !rd.fragmentStarts.isEmpty
        return ParquetSparseByteArrayPage(
            firstRow: firstRow, page: page, pageNumber: pageNumber, bodyOffset: bodyOffset,
            bodyCount: header.compressedByteCount, outLength: rd.outLength, starts: starts ?? [], lengths: lengths,
            fragmentStarts: fragments ? rd.fragmentStarts : [], elements: fragments ? nil : rd.elementIndex())
    }

    /// Data page `k` of `locations` decoded against a sparse `dictionary` (from `sparseDictionaryPage`): each row's
    /// value span in the decompressed dictionary page. Nil when the page is not dictionary-encoded.
    func sparseDictionaryRows(_ k: Int, locations: [PageLocation], dictionary: ParquetSparseByteArrayPage)
        throws(ParquetError) -> ParquetSparseDictionaryRows?
    {
        // The spans of a dictionary-encoded page only index the dictionary's starts and lengths; its bytes stay
        // compressed in the file.
        let spans = ParquetByteArrayDictionary(bytes: [], starts: dictionary.starts, lengths: dictionary.lengths)
        let p = try byteArrayPage(k, locations: locations, dictionary: spans)
        guard !p.dictionaryIndices.isEmpty || p.rowCount == 0 else { return nil }
        return ParquetSparseDictionaryRows(
            firstRow: p.firstRow, starts: p.starts, lengths: p.lengths, dictionary: dictionary)
    }

    /// Decodes the bytes of rows `rows` (page-relative) of `page` into `window` and calls `body` with each row's
    /// index and value (nil when null), in order.
    func withSparseRows(
        _ page: ParquetSparseByteArrayPage, rows: Range<Int>, window: ParquetSparseWindow,
        _ body: (Int, UnsafeRawBufferPointer?) -> Void
    ) throws(ParquetError) {
        precondition(rows.lowerBound >= 0 && rows.upperBound <= page.rowCount, "rows out of the page")
        try withSparseValues(page, starts: page.starts, lengths: page.lengths, rows: rows, window: window, body)
    }

    /// Decodes the values at `starts`/`lengths` (positions in `page`'s decompressed bytes, -1 for null) of rows
    /// `rows` into `window` and calls `body` with each row's index and value (nil when null), in order.
    func withSparseValues(
        _ page: ParquetSparseByteArrayPage, starts: [Int32], lengths: [Int32], rows: Range<Int>,
        window: ParquetSparseWindow, _ body: (Int, UnsafeRawBufferPointer?) -> Void
    ) throws(ParquetError) {
        guard let span = ParquetSparseByteArrayPage.span(starts: starts, lengths: lengths, rows: rows) else {
            return ParquetSparseByteArrayPage.emit(starts: starts, lengths: lengths, rows: rows, from: nil, at: 0, body)
        }
        let (lo, hi) = (span.lowerBound, span.upperBound)
        let base = try withRange(page.bodyOffset, Int64(page.bodyCount), what: "data page") {
            (input: UnsafeRawBufferPointer) throws(ParquetError) -> Int in
            if let elements = page.elements {
                window.reserve(hi - lo)
                if elements.copy(lo..<hi, from: input, into: window.bytes, budget: elements.count + 256) { return lo }
            } else if let base = window.fragments(
                input, path: path, bodyOffset: page.bodyOffset, fragmentStarts: page.fragmentStarts, range: lo..<hi,
                outLength: page.outLength)
            {
                return base
            }
            // Copies too deep to follow within the budget (or off the fragment rule): decompress the page whole.
            window.reserve(page.outLength)
            do throws(ParquetError) {
                _ = try PageDecompressor.decompress(
                    input, codec: .snappy, into: UnsafeMutableRawBufferPointer(start: window.bytes, count: page.outLength))
            } catch {
                throw self.error(error, page: page.pageNumber, at: page.bodyOffset)
            }
            return 0
        }
        ParquetSparseByteArrayPage.emit(starts: starts, lengths: lengths, rows: rows, from: window.bytes, at: base, body)
    }
}

import MixteraCore

/// A snappy PLAIN data page (v1) of a flat BYTE_ARRAY column with the sync points that lie in it: rows are read by
/// decoding from the sync point at or before them (``ParquetFile/withSyncedRows(_:page:rows:window:_:)``). Built
/// from the page header alone: the page's snappy elements are not walked.
public struct ParquetSyncedPage: Sendable {
    /// File row index of the page's first row.
    public let firstRow: Int64
    public let rowCount: Int
    let pageNumber: Int
    /// The compressed body: file offset and byte count.
    let bodyOffset: Int64
    let bodyCount: Int
    /// Decompressed byte count.
    let outLength: Int
    /// Per sync point, in row order: its page-relative row, its fragment's input offset in the body, and its
    /// length prefix's offset in the decompressed page.
    let syncRows: [Int32]
    let syncInputs: [Int32]
    let syncValues: [Int32]

    /// Memory held, for cache budgets.
    public var byteCount: Int { 12 * syncRows.count + 128 }

    /// The last sync point at or before page-relative row `r` (the first when none is).
    func sync(before r: Int) -> Int {
        var lo = 0
        var hi = syncRows.count
        while hi - lo > 1 {
            let mid = (lo + hi) >> 1
            if Int(syncRows[mid]) <= r { lo = mid } else { hi = mid }
        }
        return lo
    }
}

extension ParquetSyncedPage {
    /// The page of `header` (its body at file offset `bodyOffset`, its first row `firstRow`) with `points`, rows
    /// page-relative and in order; nil unless they fit it: the first at row 0, rows within the page, fragment
    /// offsets inside the body, prefixes inside the decompressed page, and rows, fragments and prefixes advancing
    /// together (one point per fragment).
    init?(fitting points: [ParquetSyncPoint], firstRow: Int64, pageNumber: Int, header: PageHeader, bodyOffset: Int64) {
        guard points.first?.row == 0 else { return nil }
        var rows: [Int32] = []
        var inputs: [Int32] = []
        var values: [Int32] = []
        var previous: (row: Int64, input: Int64, value: Int64) = (-1, -1, -1)
        for p in points {
            let input = p.offset - bodyOffset
            guard p.row > previous.row, p.row < Int64(header.valueCount), input > max(0, previous.input),
                input < Int64(header.compressedByteCount), p.value > previous.value,
                p.value <= Int64(header.uncompressedByteCount) - 4,
                previous.value < 0 || p.value >> 16 > previous.value >> 16
            else { return nil }
            previous = (p.row, input, p.value)
            rows.append(Int32(truncatingIfNeeded: p.row))
            inputs.append(Int32(truncatingIfNeeded: input))
            values.append(Int32(truncatingIfNeeded: p.value))
        }
        self.init(
            firstRow: firstRow, rowCount: header.valueCount, pageNumber: pageNumber, bodyOffset: bodyOffset,
            bodyCount: header.compressedByteCount, outLength: header.uncompressedByteCount, syncRows: rows,
            syncInputs: inputs, syncValues: values)
    }
}

extension ColumnChunkReader {
    /// Data page `k` of `locations` for synced reads from `points` (sorted by row; those outside the page are
    /// ignored); nil when the page is not a snappy PLAIN data page (v1), or no point lies in it, or a point does
    /// not fit the page (the caller then indexes the page instead). Only the page header is read, and the body's
    /// crc when the header has one.
    func syncedByteArrayPage(_ k: Int, locations: [PageLocation], points: ArraySlice<ParquetSyncPoint>)
        throws(ParquetError) -> ParquetSyncedPage?
    {
        guard try codec() == .snappy else { return nil }
        let loc = locations[k]
        let endRow = k + 1 < locations.count ? locations[k + 1].firstRowIndex : rowGroup.rowCount
        let first = rowGroup.firstRowIndex + loc.firstRowIndex
        let last = rowGroup.firstRowIndex + endRow
        let inPage = points.filter { $0.row >= first && $0.row < last }
        guard inPage.first?.row == first else { return nil }
        let pageNumber = k + (locations[0].offset > chunk.startOffset ? 1 : 0)
        let maxDef = Int16(descriptor.maxDefinitionLevel)
        return try withDataPage(loc, pageNumber: pageNumber) { header in
            !(PageType(rawValue: header.type) == .dataPage && ParquetEncoding(rawValue: header.encoding) == .plain
                && (maxDef == 0 || header.definitionLevelEncoding == 3))
        } _: { (header, body, bodyOffset) throws(ParquetError) -> ParquetSyncedPage? in
            guard Int64(header.valueCount) == endRow - loc.firstRowIndex else { return nil }
            if let crc = header.crc, PageCRC.crc32(body) != crc {
                throw ParquetError(.crcMismatch, "page crc32 differs from its header; the file is corrupt")
            }
            return ParquetSyncedPage(
                fitting: inPage.map { ParquetSyncPoint(row: $0.row - first, offset: $0.offset, value: $0.value) },
                firstRow: first, pageNumber: pageNumber, header: header, bodyOffset: bodyOffset)
        } ?? nil
    }

    /// The chunk's dictionary page for synced reads of its values (value i standing for row i) from `points`, the
    /// file's dictionary sync points (rows −(i + 1), any order; those outside the page are ignored); nil when the
    /// chunk has no snappy PLAIN dictionary page, no point lies in it, or they do not fit it.
    func syncedDictionaryPage(locations: [PageLocation], points: [ParquetSyncPoint]) throws(ParquetError)
        -> ParquetSyncedPage?
    {
        guard try codec() == .snappy else { return nil }
        return try withDictionaryPage(locations: locations) {
            (header, body, bodyOffset) throws(ParquetError) -> ParquetSyncedPage? in
            guard header.encoding == 0 || header.encoding == 2 else { return nil }
            let end = bodyOffset + Int64(body.count)
            let mine = points.filter { $0.row < 0 && $0.offset > bodyOffset && $0.offset < end }
                .map { ParquetSyncPoint(row: -$0.row - 1, offset: $0.offset, value: $0.value) }
                .sorted { $0.row < $1.row }
            return ParquetSyncedPage(fitting: mine, firstRow: 0, pageNumber: 0, header: header, bodyOffset: bodyOffset)
        } ?? nil
    }

    /// Per row of dictionary-encoded data page `k` of `locations`: its value's index in a dictionary of `count`
    /// values (−1 when null); nil when the page is not dictionary-encoded.
    func dictionaryIndices(_ k: Int, locations: [PageLocation], count: Int) throws(ParquetError) -> [Int32]? {
        let spans = ParquetByteArrayDictionary(
            bytes: [], starts: [Int32](repeating: 0, count: count), lengths: [Int32](repeating: 0, count: count))
        let p = try byteArrayPage(k, locations: locations, dictionary: spans)
        guard !p.dictionaryIndices.isEmpty || p.rowCount == 0 else { return nil }
        return p.dictionaryIndices
    }

    /// The sync points of a walked page: per 64 KiB fragment of `reader`'s block, the first row whose length prefix
    /// starts in it. Appends nothing when the block does not keep to fragments or a row is null.
    static func appendSyncPoints(
        _ points: inout [ParquetSyncPoint], reader rd: SnappySparseReader, starts: [Int32], firstRow: Int64,
        bodyOffset: Int64, dictionary: Bool = false
    ) {
        guard rd.fragmentIndependent, !rd.fragmentStarts.isEmpty, !starts.contains(where: { $0 < 4 }) else { return }
        var fragment = -1
        for (r, s) in starts.enumerated() {
            let prefix = Int(s) - 4
            let f = prefix >> 16
            guard f > fragment else { continue }
            guard f < rd.fragmentStarts.count else { return }
            fragment = f
            points.append(
                ParquetSyncPoint(
                    row: dictionary ? -Int64(r) - 1 : firstRow + Int64(r),
                    offset: bodyOffset + Int64(rd.fragmentStarts[f]), value: Int64(prefix)))
        }
    }
}

extension ParquetSparseWindow {
    /// Reads rows `rows` (page-relative) of a synced page whose compressed body is `input` (`path` names the file):
    /// decodes from the sync point at or before the first row, or continues the last read of the same page, and
    /// calls `body` with each row and its value. False when the bytes do not decode as the sync points say (the
    /// caller then reads the page by indexing it, which reports any damage); rows already passed to `body` are
    /// then the caller's to discard.
    func synced(
        _ input: UnsafeRawBufferPointer, path: String, page: ParquetSyncedPage, rows: Range<Int>,
        _ body: (Int, UnsafeRawBufferPointer) -> Void
    ) -> Bool {
        let a = rows.lowerBound
        let s = page.sync(before: a)
        let syncRow = Int(page.syncRows[s])
        let syncValue = Int(page.syncValues[s])
        guard syncRow <= a else { return false }
        let samePage =
            decodedBody == page.bodyOffset && decodedPath == path && cursorRow >= 0 && cursorOffset >= decodedBase
        var r: Int
        var off: Int
        if samePage && cursorRow <= a && syncRow <= cursorRow {
            // The cursor is at or past the sync point: continue from it.
            (r, off) = (cursorRow, cursorOffset)
        } else if samePage && syncValue >= decodedBase && syncValue < decodedEnd {
            // The sync point is ahead of the cursor (or the cursor is past the rows) and already decoded.
            (r, off) = (syncRow, syncValue)
        } else if samePage && cursorRow <= a && (syncValue >> 16) << 16 <= decodedEnd {
            // The sync point's fragment follows the decoded bytes directly: continuing decodes no more.
            (r, off) = (cursorRow, cursorOffset)
        } else {
            decodedPath = path
            decodedBody = page.bodyOffset
            decodedBase = (syncValue >> 16) << 16
            decodedEnd = decodedBase
            decodedIn = Int(page.syncInputs[s])
            (r, off) = (syncRow, syncValue)
        }
        // First every row's length prefix is read and checked (decoding as far as the last row's end), then the rows
        // are passed on: a page that does not decode as its sync points say passes none.
        let end = rows.upperBound
        let out = page.outLength
        syncedValues.removeAll(keepingCapacity: true)
        while r < end {
            guard out - off >= 4, ensureDecoded(input, through: off + 4, outLength: out) else { return fail() }
            let n = Int(UInt32(littleEndian: (bytes + (off - decodedBase)).loadUnaligned(as: UInt32.self)))
            guard out - off - 4 >= n, ensureDecoded(input, through: off + 4 + n, outLength: out) else { return fail() }
            if r >= a { syncedValues.append(off + 4) }
            off += 4 + n
            r += 1
        }
        cursorRow = r
        cursorOffset = off
        for (i, start) in syncedValues.enumerated() {
            let next = i + 1 < syncedValues.count ? syncedValues[i + 1] - 4 : off
            body(a + i, UnsafeRawBufferPointer(start: bytes + (start - decodedBase), count: next - start))
        }
        return true
    }

    private func fail() -> Bool {
        decodedBody = -1
        cursorRow = -1
        return false
    }

    /// Decodes whole elements until output position `end` is decoded.
    private func ensureDecoded(_ input: UnsafeRawBufferPointer, through end: Int, outLength: Int) -> Bool {
        guard end > decodedEnd else { return true }
        var o = decodedEnd - decodedBase
        guard
            SnappyFragments.decode(
                input, from: &decodedIn, to: &o, through: end - decodedBase, limit: outLength - decodedBase, window: self)
        else { return false }
        decodedEnd = decodedBase + o
        return true
    }
}

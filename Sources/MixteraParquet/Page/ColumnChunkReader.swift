import MixteraCore

/// The decoded levels and non-null values of (part of) one column chunk.
struct LeafChunk: Sendable {
    var definitionLevels: [Int16] = []
    var repetitionLevels: [Int16] = []
    var values: ValueBuffer
    /// Row index (within the row group) of the first decoded row.
    var firstRow: Int64 = 0
    var rowCount: Int = 0
    var levelCount: Int = 0
}

/// Where a page sits, for error locations.
struct PageContext {
    var path: String
    var rowGroup: Int
    var column: String
    var page: Int
    var byteOffset: Int64
}

/// Reads the pages of one column chunk: header, CRC, decompression, levels and values.
struct ColumnChunkReader {
    let file: ReadOnlyFile
    let path: String
    /// End of the page data region (the footer starts here).
    let dataEnd: Int64
    let descriptor: ParquetColumnDescriptor
    let chunk: ParquetColumnChunkInfo
    let rowGroup: ParquetRowGroupInfo
    /// The whole file mapped into memory, when the `ParquetFile` was opened mapped (reads then copy nothing).
    var mapping: UnsafeRawBufferPointer? = nil
    /// Drop mapped pages from the process after each read (random access: keeps the resident set small).
    var releaseMappedPages = false
    /// Page locations derived from page headers (for chunks without an offset index), when known.
    var derivedLocations: (() -> [PageLocation]?)? = nil

    var columnName: String { descriptor.dottedPath }

    func error(_ e: ParquetError, page: Int? = nil, at offset: Int64? = nil) -> ParquetError {
        e.located(path: path, byteOffset: offset, rowGroup: rowGroup.index, column: columnName, page: page)
    }

    func readBytes(_ offset: Int64, _ count: Int64, what: String) throws(ParquetError) -> [UInt8] {
        guard offset >= 4, count >= 0, offset <= dataEnd, count <= dataEnd - offset else {
            throw error(
                ParquetError(
                    .truncatedPage,
                    "\(what) at byte \(offset) with \(count) bytes extends past the page data, which ends at byte \(dataEnd); the file is truncated or its metadata is corrupt"
                ), at: offset)
        }
        do {
            return try file.readExactly(Int(count), at: offset)
        } catch {
            throw self.error(ParquetError(error), at: offset)
        }
    }

    /// The codec of this chunk, or the typed error for an unsupported one.
    func codec() throws(ParquetError) -> ParquetCompression {
        guard let codec = ParquetCompression(rawValue: chunk.codecNumber), codec != .lzo else {
            let name = ParquetCompression(rawValue: chunk.codecNumber)?.description ?? "number \(chunk.codecNumber)"
            throw error(
                ParquetError(
                    .unsupportedCodec,
                    "column \"\(columnName)\" uses compression codec \(name), which is not supported; rewrite the file with zstd, snappy or gzip"
                ), at: chunk.startOffset)
        }
        return codec
    }

    /// Decodes the whole chunk, or only the pages overlapping `rows` (row indices within the row group) when the
    /// chunk has a valid offset index.
    func read(rows: Range<Int64>? = nil) throws(ParquetError) -> LeafChunk {
        let codec = try codec()
        var out = LeafChunk(
            values: ValueBuffer(physicalType: descriptor.physicalType, fixedWidth: Int(descriptor.typeLength ?? 0)))
        if let rows, let locations = (try? offsetIndex()) ?? derivedLocations?(), !locations.isEmpty,
            locations[0].firstRowIndex == 0
        {
            // Pages overlapping `rows`.
            var first = 0
            while first + 1 < locations.count && locations[first + 1].firstRowIndex <= rows.lowerBound { first += 1 }
            var last = first
            while last + 1 < locations.count && locations[last + 1].firstRowIndex < rows.upperBound { last += 1 }
            let startOffset = chunk.startOffset
            if startOffset < locations[0].offset {
                // The dictionary page (and anything else before the first data page).
                let dict = try readBytes(startOffset, locations[0].offset - startOffset, what: "dictionary page")
                var state = DecodeState()
                try decodePages(
                    dict, baseOffset: startOffset, firstPageIndex: 0, codec: codec, into: &out, state: &state,
                    dictionaryOnly: true)
                let pageIndex = state.pageIndex
                let begin = locations[first].offset
                let end = locations[last].offset + Int64(locations[last].compressedByteCount)
                let bytes = try readBytes(begin, end - begin, what: "data pages")
                state.pageIndex = pageIndex + first
                try decodePages(
                    bytes, baseOffset: begin, firstPageIndex: state.pageIndex, codec: codec, into: &out, state: &state,
                    dictionaryOnly: false)
            } else {
                let begin = locations[first].offset
                let end = locations[last].offset + Int64(locations[last].compressedByteCount)
                let bytes = try readBytes(begin, end - begin, what: "data pages")
                var state = DecodeState()
                state.pageIndex = first
                try decodePages(
                    bytes, baseOffset: begin, firstPageIndex: first, codec: codec, into: &out, state: &state,
                    dictionaryOnly: false)
            }
            out.firstRow = locations[first].firstRowIndex
            let endRow = last + 1 < locations.count ? locations[last + 1].firstRowIndex : rowGroup.rowCount
            guard Int64(out.rowCount) == endRow - out.firstRow else {
                throw error(
                    ParquetError(
                        .valueCountMismatch,
                        "pages \(first)...\(last) hold \(out.rowCount) rows but the offset index says \(endRow - out.firstRow)"),
                    at: locations[first].offset)
            }
            return out
        }
        let bytes = try readBytes(chunk.startOffset, chunk.totalCompressedByteCount, what: "column chunk")
        var state = DecodeState()
        try decodePages(
            bytes, baseOffset: chunk.startOffset, firstPageIndex: 0, codec: codec, into: &out, state: &state,
            dictionaryOnly: false)
        guard Int64(out.levelCount) == chunk.valueCount else {
            throw error(
                ParquetError(
                    .valueCountMismatch,
                    "pages hold \(out.levelCount) values but the column metadata says \(chunk.valueCount)"),
                at: chunk.startOffset)
        }
        guard Int64(out.rowCount) == rowGroup.rowCount else {
            throw error(
                ParquetError(
                    .valueCountMismatch, "pages hold \(out.rowCount) rows but the row group has \(rowGroup.rowCount)"),
                at: chunk.startOffset)
        }
        return out
    }

    /// Page locations from the page headers alone, for flat (non-repeated) columns without an offset index:
    /// walks the headers with small reads, never the page bodies. Rows per page are the v1 value count
    /// (one level per row when nothing repeats) or the v2 row count. Nil when anything looks off.
    func pageLocationsFromHeaders() -> [PageLocation]? {
        guard descriptor.maxRepetitionLevel == 0 else { return nil }
        let end = chunk.startOffset + chunk.totalCompressedByteCount
        guard end <= dataEnd else { return nil }
        var pos = chunk.startOffset
        var rows: Int64 = 0
        var out: [PageLocation] = []
        var window = 512
        while pos < end {
            let n = Int(min(Int64(window), end - pos))
            guard let bytes = try? file.readExactly(n, at: pos) else { return nil }
            var thrift = ThriftCompactReader(bytes, from: 0)
            guard let s = try? thrift.readStruct(), let header = try? PageHeader(s) else {
                if n < Int(end - pos) && window < 1 << 20 {
                    window *= 4
                    continue
                }
                return nil
            }
            let total = Int64(thrift.position + header.compressedByteCount)
            switch PageType(rawValue: header.type) {
            case .dataPage:
                out.append(PageLocation(offset: pos, compressedByteCount: Int32(total), firstRowIndex: rows))
                rows += Int64(header.valueCount)
            case .dataPageV2:
                out.append(PageLocation(offset: pos, compressedByteCount: Int32(total), firstRowIndex: rows))
                rows += Int64(header.rowCount)
            default:
                if !out.isEmpty { return nil }  // a dictionary page after data pages
            }
            pos += total
            window = 512
        }
        guard rows == rowGroup.rowCount else { return nil }
        return out
    }

    /// The chunk's offset index, if it has a valid one.
    func offsetIndex() throws(ParquetError) -> [PageLocation]? {
        guard let o = chunk.offsetIndexOffset, let n = chunk.offsetIndexByteCount, n > 0, o >= 4,
            Int64(n) <= dataEnd - o
        else { return nil }
        let bytes: [UInt8]
        do { bytes = try file.readExactly(Int(n), at: o) } catch { return nil }
        var r = ThriftCompactReader(bytes)
        guard let s = try? r.readStruct() else { return nil }
        return OffsetIndexDecoder.decode(s)
    }

    struct DecodeState {
        var dictionary: ValueBuffer?
        var pageIndex = 0
    }

    /// The typed error for a page header that does not decode (truncated or corrupt Thrift, bad fields).
    func pageHeaderError(_ e: any Error, page: Int, at pageOffset: Int64) -> ParquetError {
        switch e {
        case let e as ThriftError:
            let kind: ParquetError.Code =
                e.message.contains("end of") || e.message.contains("exceeds") ? .truncatedPage : .corruptPage
            return error(ParquetError(kind, "page header is corrupt: \(e.message)"), page: page, at: pageOffset)
        case let e as PageHeader.Failure:
            return error(ParquetError(.corruptPage, e.message), page: page, at: pageOffset)
        default:
            return error(ParquetError(.corruptPage, "page header is corrupt"), page: page, at: pageOffset)
        }
    }

    private func decodePages(
        _ bytes: [UInt8], baseOffset: Int64, firstPageIndex: Int, codec: ParquetCompression, into out: inout LeafChunk,
        state: inout DecodeState, dictionaryOnly: Bool
    ) throws(ParquetError) {
        var pos = 0
        while pos < bytes.count {
            if !dictionaryOnly && rowsComplete(out) { break }
            let pageOffset = baseOffset + Int64(pos)
            let page = state.pageIndex
            var thrift = ThriftCompactReader(bytes, from: pos)
            let header: PageHeader
            do {
                header = try PageHeader(try thrift.readStruct())
            } catch {
                throw pageHeaderError(error, page: page, at: pageOffset)
            }
            let bodyStart = thrift.position
            guard header.compressedByteCount <= bytes.count - bodyStart else {
                throw error(
                    ParquetError(
                        .truncatedPage,
                        "page body of \(header.compressedByteCount) bytes extends past the column chunk, which has \(bytes.count - bodyStart) bytes left"
                    ), page: page, at: pageOffset)
            }
            let bodyEnd = bodyStart + header.compressedByteCount
            do {
                try withBytes(bytes) { (all: UnsafeRawBufferPointer) throws(ParquetError) in
                    let body = UnsafeRawBufferPointer(rebasing: all[bodyStart..<bodyEnd])
                    if let crc = header.crc {
                        let actual = PageCRC.crc32(body)
                        guard actual == crc else {
                            throw ParquetError(
                                .crcMismatch,
                                "page crc32 is \(hex(actual)) but the header says \(hex(crc)); the file is corrupt")
                        }
                    }
                    switch PageType(rawValue: header.type) {
                    case .dictionaryPage:
                        guard state.dictionary == nil else { throw corruptPage("column chunk has a second dictionary page") }
                        let data = try PageDecompressor.decompress(
                            body, codec: codec, uncompressedByteCount: header.uncompressedByteCount)
                        var dict = ValueBuffer(physicalType: out.values.physicalType, fixedWidth: out.values.fixedWidth)
                        guard header.encoding == 0 || header.encoding == 2 else {
                            throw ParquetError(
                                .unsupportedEncoding, "dictionary page encoding \(encodingName(header.encoding)) is not supported"
                            )
                        }
                        try withBytes(data) { (d: UnsafeRawBufferPointer) throws(ParquetError) in
                            // Every value takes at least one bit, so a count over 8x the bytes is corrupt.
                            guard header.valueCount <= d.count * 8 else {
                                throw truncated(
                                    "dictionary of \(header.valueCount) values", need: header.valueCount / 8, have: d.count)
                            }
                            try PlainDecoder.decode(d, from: 0, count: header.valueCount, into: &dict)
                        }
                        state.dictionary = dict
                    case .dataPage:
                        if dictionaryOnly { return }
                        let data = try PageDecompressor.decompress(
                            body, codec: codec, uncompressedByteCount: header.uncompressedByteCount)
                        try withBytes(data) { (d: UnsafeRawBufferPointer) throws(ParquetError) in
                            try decodeDataPageV1(d, header: header, dictionary: state.dictionary, into: &out)
                        }
                    case .dataPageV2:
                        if dictionaryOnly { return }
                        try decodeDataPageV2(body, header: header, codec: codec, dictionary: state.dictionary, into: &out)
                    case .indexPage, nil:
                        break  // skipped
                    }
                }
            } catch {
                throw self.error(error, page: page, at: pageOffset)
            }
            state.pageIndex += 1
            pos = bodyEnd
            if dictionaryOnly { break }
        }
    }

    private func rowsComplete(_ out: LeafChunk) -> Bool {
        Int64(out.levelCount) >= chunk.valueCount && out.levelCount > 0
    }

    static func bitWidth(_ maxLevel: Int) -> Int {
        var w = 0
        while (1 << w) <= maxLevel { w += 1 }
        return w
    }

    private func decodeDataPageV1(
        _ d: UnsafeRawBufferPointer, header: PageHeader, dictionary: ValueBuffer?, into out: inout LeafChunk
    ) throws(ParquetError) {
        let n = header.valueCount
        var pos = 0
        try checkPageValueCount(n, decodedSoFar: out.levelCount)
        let repStart = out.repetitionLevels.count
        if descriptor.maxRepetitionLevel > 0 {
            pos += try readLevelsV1(
                d, from: pos, count: n, maxLevel: descriptor.maxRepetitionLevel, encoding: header.repetitionLevelEncoding,
                into: &out.repetitionLevels, what: "repetition")
        }
        let defStart = out.definitionLevels.count
        if descriptor.maxDefinitionLevel > 0 {
            pos += try readLevelsV1(
                d, from: pos, count: n, maxLevel: descriptor.maxDefinitionLevel, encoding: header.definitionLevelEncoding,
                into: &out.definitionLevels, what: "definition")
        }
        let nonNull = try finishLevels(&out, count: n, repStart: repStart, defStart: defStart)
        try decodeValues(
            UnsafeRawBufferPointer(rebasing: d[pos...]), count: nonNull, encoding: header.encoding, dictionary: dictionary,
            into: &out.values)
    }

    private func decodeDataPageV2(
        _ body: UnsafeRawBufferPointer, header: PageHeader, codec: ParquetCompression, dictionary: ValueBuffer?,
        into out: inout LeafChunk
    ) throws(ParquetError) {
        let n = header.valueCount
        let rl = header.repetitionLevelsByteCount
        let dl = header.definitionLevelsByteCount
        guard rl <= body.count, dl <= body.count - rl else {
            throw truncated("data page v2 levels", need: rl + dl, have: body.count)
        }
        try checkPageValueCount(n, decodedSoFar: out.levelCount)
        let repStart = out.repetitionLevels.count
        if descriptor.maxRepetitionLevel > 0 {
            var rle = try RLEBitPackedDecoder(
                body, from: 0, to: rl, bitWidth: Self.bitWidth(descriptor.maxRepetitionLevel))
            try rle.decode(n, into: &out.repetitionLevels)
        }
        let defStart = out.definitionLevels.count
        if descriptor.maxDefinitionLevel > 0 {
            var rle = try RLEBitPackedDecoder(
                body, from: rl, to: rl + dl, bitWidth: Self.bitWidth(descriptor.maxDefinitionLevel))
            try rle.decode(n, into: &out.definitionLevels)
        }
        let nonNull = try finishLevels(&out, count: n, repStart: repStart, defStart: defStart)
        guard nonNull == n - header.nullCount else {
            throw ParquetError(
                .valueCountMismatch,
                "data page v2 has \(nonNull) non-null values by its levels but its header says \(n - header.nullCount)")
        }
        let valuesSection = UnsafeRawBufferPointer(rebasing: body[(rl + dl)...])
        if header.isCompressed && codec != .uncompressed {
            let size = header.uncompressedByteCount - rl - dl
            guard size >= 0 else {
                throw corruptPage("data page v2 uncompressed size \(header.uncompressedByteCount) is smaller than its levels")
            }
            let data = try PageDecompressor.decompress(valuesSection, codec: codec, uncompressedByteCount: size)
            try withBytes(data) { (d: UnsafeRawBufferPointer) throws(ParquetError) in
                try decodeValues(d, count: nonNull, encoding: header.encoding, dictionary: dictionary, into: &out.values)
            }
        } else {
            try decodeValues(valuesSection, count: nonNull, encoding: header.encoding, dictionary: dictionary, into: &out.values)
        }
    }

    /// Most values one data page may declare (guards allocations driven by hostile RLE runs).
    static let maxValuesPerPage = 1 << 26

    /// A page may not declare more values than the chunk has left (per its metadata), nor over the per-page cap.
    func checkPageValueCount(_ n: Int, decodedSoFar: Int) throws(ParquetError) {
        let left = chunk.valueCount - Int64(decodedSoFar)
        guard n <= Self.maxValuesPerPage, Int64(n) <= max(left, 0) || n == 0 else {
            throw ParquetError(
                .valueCountMismatch,
                "data page declares \(n) values but the column chunk has only \(max(left, 0)) left (page limit \(Self.maxValuesPerPage))"
            )
        }
    }

    /// Validates the levels just appended, counts rows and returns the number of non-null values.
    private func finishLevels(_ out: inout LeafChunk, count n: Int, repStart: Int, defStart: Int) throws(ParquetError) -> Int {
        let maxDef = Int16(descriptor.maxDefinitionLevel)
        let maxRep = Int16(descriptor.maxRepetitionLevel)
        var nonNull = n
        if maxDef > 0 {
            nonNull = 0
            for i in defStart..<out.definitionLevels.count {
                let l = out.definitionLevels[i]
                if l == maxDef {
                    nonNull += 1
                } else if l > maxDef || l < 0 {
                    throw corruptPage("definition level \(l) exceeds the column's maximum \(maxDef)")
                }
            }
        }
        if maxRep > 0 {
            var rows = 0
            for i in repStart..<out.repetitionLevels.count {
                let l = out.repetitionLevels[i]
                if l == 0 {
                    rows += 1
                } else if l > maxRep || l < 0 {
                    throw corruptPage("repetition level \(l) exceeds the column's maximum \(maxRep)")
                }
            }
            if out.levelCount == 0 && n > 0 && out.repetitionLevels[repStart] != 0 {
                throw corruptPage(
                    "the first value of the column chunk has repetition level \(out.repetitionLevels[repStart]), not 0")
            }
            out.rowCount += rows
        } else {
            out.rowCount += n
        }
        out.levelCount += n
        return nonNull
    }

    func readLevelsV1(
        _ d: UnsafeRawBufferPointer, from start: Int, count: Int, maxLevel: Int, encoding: Int32, into levels: inout [Int16],
        what: String
    ) throws(ParquetError) -> Int {
        let width = Self.bitWidth(maxLevel)
        switch encoding {
        case 3:  // RLE with a 4-byte length prefix
            var c = ByteCursor(d, from: start)
            let length = Int(try c.readUInt32LE())
            guard length <= c.remaining else { throw truncated("\(what) levels", need: length, have: c.remaining) }
            var rle = try RLEBitPackedDecoder(d, from: start + 4, to: start + 4 + length, bitWidth: width)
            try rle.decode(count, into: &levels)
            return 4 + length
        case 4:
            return try LegacyBitPackedDecoder.decode(d, from: start, count: count, bitWidth: width, into: &levels)
        default:
            throw ParquetError(.unsupportedEncoding, "\(what) level encoding \(encodingName(encoding)) is not supported")
        }
    }

    func decodeValues(
        _ d: UnsafeRawBufferPointer, count: Int, encoding: Int32, dictionary: ValueBuffer?, into values: inout ValueBuffer
    ) throws(ParquetError) {
        switch ParquetEncoding(rawValue: encoding) {
        case .plain:
            try PlainDecoder.decode(d, from: 0, count: count, into: &values)
        case .plainDictionary, .rleDictionary:
            guard let dictionary else { throw corruptPage("dictionary-encoded page without a dictionary page") }
            try DictionaryDecoder.decode(d, from: 0, count: count, dictionary: dictionary, into: &values)
        case .rle:
            guard values.physicalType == .boolean else {
                throw ParquetError(.unsupportedEncoding, "RLE value encoding is only supported for BOOLEAN columns")
            }
            var c = ByteCursor(d)
            let length = Int(try c.readUInt32LE())
            guard length <= c.remaining else { throw truncated("RLE booleans", need: length, have: c.remaining) }
            var rle = try RLEBitPackedDecoder(d, from: 4, to: 4 + length, bitWidth: 1)
            var bits: [UInt8] = []
            try rle.decode(count, into: &bits)
            values.bools.append(contentsOf: bits.lazy.map { $0 != 0 })
        case .deltaBinaryPacked:
            try DeltaBinaryPackedDecoder.decode(d, from: 0, count: count, into: &values)
        case .deltaLengthByteArray:
            try DeltaLengthByteArrayDecoder.decode(d, from: 0, count: count, into: &values)
        case .deltaByteArray:
            try DeltaByteArrayDecoder.decode(d, from: 0, count: count, into: &values)
        case .byteStreamSplit:
            try ByteStreamSplitDecoder.decode(d, from: 0, count: count, into: &values)
        case .bitPacked, nil:
            throw ParquetError(
                .unsupportedEncoding,
                "value encoding \(encodingName(encoding)) is not supported for \(values.physicalType) columns")
        }
    }
}

func encodingName(_ raw: Int32) -> String {
    ParquetEncoding(rawValue: raw)?.description ?? "number \(raw)"
}

func hex(_ v: UInt32) -> String {
    let digits = Array("0123456789abcdef".utf8)
    var out: [UInt8] = Array("0x".utf8)
    for i in (0..<8).reversed() { out.append(digits[Int((v >> (4 * UInt32(i))) & 0xF)]) }
    return String(decoding: out, as: UTF8.self)
}

import MixteraCore

/// The decoded dictionary page of a flat BYTE_ARRAY column chunk: value `i` is
/// `bytes[starts[i] ..< starts[i] + lengths[i]]`. Empty when the chunk has no dictionary page.
public struct ParquetByteArrayDictionary: Sendable {
    let bytes: [UInt8]
    let starts: [Int32]
    let lengths: [Int32]

    public static let empty = ParquetByteArrayDictionary(bytes: [], starts: [], lengths: [])

    public var count: Int { starts.count }
    /// Memory held, for cache budgets.
    public var byteCount: Int { bytes.count + 8 * starts.count }

    /// Calls `body` with the bytes of value `i` (`0 ..< count`).
    public func withValue<R>(_ i: Int, _ body: (UnsafeRawBufferPointer) -> R) -> R {
        bytes.withUnsafeBytes { all in
            let s = Int(starts[i])
            return body(UnsafeRawBufferPointer(rebasing: all[s..<s + Int(lengths[i])]))
        }
    }
}

/// The rows of one data page of a flat BYTE_ARRAY column as spans into one byte buffer: the decompressed page
/// (PLAIN), the chunk's dictionary (dictionary-encoded pages) or the decoded values (other encodings). No value is
/// copied on its own.
public struct ParquetByteArrayPage: Sendable {
    /// File row index of the page's first row.
    public let firstRow: Int64
    /// The bytes the spans point into.
    public let bytes: [UInt8]
    /// Per row: where its value starts in `bytes`, or -1 when the row is null.
    public let starts: [Int32]
    /// Per row: the value's byte length, or -1 when the row is null.
    public let lengths: [Int32]
    /// Per row of a dictionary-encoded page: the dictionary index, or -1 when null; empty for other encodings.
    public let dictionaryIndices: [Int32]

    public var rowCount: Int { starts.count }
    /// Memory held, for cache budgets (a shared dictionary buffer is counted in full).
    public var byteCount: Int { bytes.count + 8 * starts.count + 4 * dictionaryIndices.count }

    /// Calls `body` with the bytes of row `r` (`0 ..< rowCount`); nil when the row is null.
    public func withValue<R>(_ r: Int, _ body: (UnsafeRawBufferPointer) -> R) -> R? {
        let s = Int(starts[r])
        if s < 0 { return nil }
        return bytes.withUnsafeBytes { all in body(UnsafeRawBufferPointer(rebasing: all[s..<s + Int(lengths[r])])) }
    }
}

/// Buffers reused from page to page.
struct ByteArrayPageScratch {
    /// The decompressed page (or values section); only its first `used` bytes are meaningful.
    var decompressed: [UInt8] = []
    var levels: [Int16] = []
    var indices: [UInt32] = []
    /// When set, dictionary-encoded pages also record each row's dictionary index here (-1 when null).
    var recordIndices = false
    var rowIndices: [Int32] = []
    /// Element arrays of the sparse snappy reader, and the level bytes it materialises.
    var sparse = SnappyElementBuffers()
    var levelBytes: [UInt8] = []
    /// When non-nil, snappy PLAIN pages walked for their lengths append their sync points here; `pageFirstRow` and
    /// `pageBodyOffset` locate the page being decoded.
    var syncPoints: [ParquetSyncPoint]?
    var pageFirstRow: Int64 = 0
    var pageBodyOffset: Int64 = 0
}

/// Where the spans of a decoded page point.
enum SpanBase {
    /// Into `scratch.decompressed`.
    case decompressed(count: Int)
    case dictionary
    case owned([UInt8])
}

extension ColumnChunkReader {
    /// Calls `body` with the page-data bytes `offset ..< offset + count`: a view of the mapping, or a copy.
    func withRange<R>(
        _ offset: Int64, _ count: Int64, what: String, _ body: (UnsafeRawBufferPointer) throws(ParquetError) -> R
    ) throws(ParquetError) -> R {
        if let mapping {
            guard offset >= 4, count >= 0, offset <= dataEnd, count <= dataEnd - offset, dataEnd <= mapping.count else {
                return try withBytes(try readBytes(offset, count, what: what), body)  // raises the located error
            }
            let result = try body(UnsafeRawBufferPointer(rebasing: mapping[Int(offset)..<Int(offset + count)]))
            if releaseMappedPages { FileMapping.release(mapping, Int(offset)..<Int(offset + count)) }
            return result
        }
        return try withBytes(try readBytes(offset, count, what: what), body)
    }

    /// Parses the page header at `pos` of `all` (copying only the header's bytes); returns it and its length.
    func pageHeader(_ all: UnsafeRawBufferPointer, at pos: Int, page: Int, pageOffset: Int64) throws(ParquetError)
        -> (PageHeader, Int)
    {
        var window = 256
        while true {
            let n = min(window, all.count - pos)
            var thrift = ThriftCompactReader(Array(UnsafeRawBufferPointer(rebasing: all[pos..<pos + n])))
            do {
                let header = try PageHeader(try thrift.readStruct())
                return (header, thrift.position)
            } catch is ThriftError where n < all.count - pos {
                window *= 16  // the header may be longer than the window: read more
            } catch {
                throw pageHeaderError(error, page: page, at: pageOffset)
            }
        }
    }

    /// Decompresses `input` into `scratch.decompressed` (grown without zeroing) and returns the byte count.
    static func decompress(
        _ input: UnsafeRawBufferPointer, codec: ParquetCompression, uncompressedByteCount n: Int,
        into scratch: inout ByteArrayPageScratch
    ) throws(ParquetError) -> Int {
        guard n <= PageDecompressor.maxPageByteCount else {
            throw ParquetError(.corruptPage, "page declares \(n) uncompressed bytes, over the 1 GiB limit")
        }
        if scratch.decompressed.count < n {
            scratch.decompressed = [UInt8](unsafeUninitializedCapacity: n) { _, count in count = n }
        }
        let result = scratch.decompressed.withUnsafeMutableBytes { dst -> Result<Int, ParquetError> in
            do throws(ParquetError) {
                return .success(
                    try PageDecompressor.decompress(
                        input, codec: codec, into: UnsafeMutableRawBufferPointer(rebasing: dst[0..<n])))
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }

    /// Walks PLAIN byte arrays in `d[start...]`, one per row (skipping rows whose level is below `maxDef`), and
    /// appends their spans. Returns the end position.
    @inline(__always)
    static func walkPlain(
        _ d: UnsafeRawBufferPointer, from start: Int, rows n: Int, levels: [Int16], maxDef: Int16,
        starts: inout [Int32], lengths: inout [Int32]
    ) throws(ParquetError) -> Int {
        var pos = start
        let hasLevels = !levels.isEmpty
        for r in 0..<n {
            if hasLevels && levels[r] != maxDef {
                starts.append(-1)
                lengths.append(-1)
                continue
            }
            guard d.count - pos >= 4 else { throw truncated("PLAIN byte array \(r) length", need: 4, have: d.count - pos) }
            let len = Int(UInt32(littleEndian: d.loadUnaligned(fromByteOffset: pos, as: UInt32.self)))
            pos += 4
            guard d.count - pos >= len else { throw truncated("PLAIN byte array \(r)", need: len, have: d.count - pos) }
            starts.append(Int32(truncatingIfNeeded: pos))
            lengths.append(Int32(truncatingIfNeeded: len))
            pos += len
        }
        return pos
    }

    /// The lengths of a snappy PLAIN dictionary page's values, read through the sparse reader (`bytes` stays
    /// empty; the values are not decompressed); with `scratch.syncPoints`, the page's sync points are appended to
    /// it (value i as row −(i + 1); the body is at `scratch.pageBodyOffset`).
    func sparseDictionaryLengths(
        _ body: UnsafeRawBufferPointer, header: PageHeader, scratch: inout ByteArrayPageScratch
    ) throws(ParquetError) -> ParquetByteArrayDictionary {
        guard header.encoding == 0 || header.encoding == 2 else {
            throw ParquetError(
                .unsupportedEncoding, "dictionary page encoding \(encodingName(header.encoding)) is not supported")
        }
        var rd = try SnappySparseReader(body, expectedLength: header.uncompressedByteCount, buffers: scratch.sparse)
        guard header.valueCount <= rd.outLength / 4 + 1 else {
            throw truncated("dictionary of \(header.valueCount) values", need: header.valueCount * 4, have: rd.outLength)
        }
        let sync = scratch.syncPoints != nil
        var lengths: [Int32] = []
        lengths.reserveCapacity(header.valueCount)
        var starts: [Int32] = []
        var pos = 0
        for i in 0..<header.valueCount {
            let len = Int(try rd.uint32(at: pos))
            pos += 4
            guard rd.outLength - pos >= len else {
                throw truncated("PLAIN byte array \(i)", need: len, have: rd.outLength - pos)
            }
            lengths.append(Int32(truncatingIfNeeded: len))
            if sync { starts.append(Int32(truncatingIfNeeded: pos)) }
            pos += len
        }
        try rd.finish()
        if sync {
            Self.appendSyncPoints(
                &scratch.syncPoints!, reader: rd, starts: starts, firstRow: 0, bodyOffset: scratch.pageBodyOffset,
                dictionary: true)
        }
        return ParquetByteArrayDictionary(bytes: [], starts: [Int32](repeating: 0, count: lengths.count), lengths: lengths)
    }

    /// Decodes a dictionary page body into a dictionary.
    func decodeByteArrayDictionary(_ body: UnsafeRawBufferPointer, header: PageHeader, codec: ParquetCompression)
        throws(ParquetError) -> ParquetByteArrayDictionary
    {
        guard header.encoding == 0 || header.encoding == 2 else {
            throw ParquetError(
                .unsupportedEncoding, "dictionary page encoding \(encodingName(header.encoding)) is not supported")
        }
        var scratch = ByteArrayPageScratch()
        let n: Int
        if codec == .uncompressed {
            guard body.count == header.uncompressedByteCount else {
                throw corruptPage(
                    "uncompressed page has \(body.count) bytes but its header says \(header.uncompressedByteCount)")
            }
            scratch.decompressed = Array(body)
            n = body.count
        } else {
            n = try Self.decompress(body, codec: codec, uncompressedByteCount: header.uncompressedByteCount, into: &scratch)
        }
        // Every PLAIN byte array takes at least its 4-byte length.
        guard header.valueCount <= n / 4 + 1 else {
            throw truncated("dictionary of \(header.valueCount) values", need: header.valueCount * 4, have: n)
        }
        var starts: [Int32] = []
        var lengths: [Int32] = []
        starts.reserveCapacity(header.valueCount)
        lengths.reserveCapacity(header.valueCount)
        try withBytes(scratch.decompressed) { (all: UnsafeRawBufferPointer) throws(ParquetError) in
            _ = try Self.walkPlain(
                UnsafeRawBufferPointer(rebasing: all[0..<n]), from: 0, rows: header.valueCount, levels: [], maxDef: 0,
                starts: &starts, lengths: &lengths)
        }
        return ParquetByteArrayDictionary(bytes: scratch.decompressed, starts: starts, lengths: lengths)
    }

    /// Decodes one data page (v1 or v2) of a flat BYTE_ARRAY column, appending one span per row; `keep` asks for
    /// spans that stay valid (uncompressed values are then copied into the scratch buffer).
    /// - Returns: where the spans point and the page's row count.
    func decodeByteArrayDataPage(
        _ body: UnsafeRawBufferPointer, header: PageHeader, codec: ParquetCompression,
        dictionary: ParquetByteArrayDictionary, keep: Bool, scratch: inout ByteArrayPageScratch,
        starts: inout [Int32], lengths: inout [Int32]
    ) throws(ParquetError) -> (SpanBase, Int) {
        let n = header.valueCount
        guard n <= Self.maxValuesPerPage else {
            throw ParquetError(.valueCountMismatch, "data page declares \(n) values (page limit \(Self.maxValuesPerPage))")
        }
        let maxDef = Int16(descriptor.maxDefinitionLevel)
        scratch.levels.removeAll(keepingCapacity: true)
        if !keep && codec == .snappy && ParquetEncoding(rawValue: header.encoding) == .plain
            && PageType(rawValue: header.type) == .dataPage && (maxDef == 0 || header.definitionLevelEncoding == 3)
        {
            if scratch.syncPoints != nil {
                var pageStarts: [Int32]? = []
                let rd = try sparsePlainWalk(
                    body, header: header, maxDef: maxDef, scratch: &scratch, lengths: &lengths, starts: &pageStarts)
                Self.appendSyncPoints(
                    &scratch.syncPoints!, reader: rd, starts: pageStarts ?? [], firstRow: scratch.pageFirstRow,
                    bodyOffset: scratch.pageBodyOffset)
            } else {
                try sparsePlainLengths(body, header: header, maxDef: maxDef, scratch: &scratch, lengths: &lengths)
            }
            return (.decompressed(count: 0), n)
        }
        starts.reserveCapacity(starts.count + n)
        lengths.reserveCapacity(lengths.count + n)
        // The values section: (bytes, offset of the values within them, whether they sit in the scratch buffer).
        var valuesStart = 0
        var valuesCount = 0
        var inScratch = false
        var page = body
        if PageType(rawValue: header.type) == .dataPage {
            if codec != .uncompressed {
                let m = try Self.decompress(
                    body, codec: codec, uncompressedByteCount: header.uncompressedByteCount, into: &scratch)
                inScratch = true
                valuesCount = m
            } else {
                guard body.count == header.uncompressedByteCount else {
                    throw corruptPage(
                        "uncompressed page has \(body.count) bytes but its header says \(header.uncompressedByteCount)")
                }
                valuesCount = body.count
            }
            if maxDef > 0 {
                let levels: Int
                if inScratch {
                    levels = try scratch.decompressed.withUnsafeBytes { d -> Result<Int, ParquetError> in
                        do throws(ParquetError) {
                            return .success(
                                try readLevelsV1(
                                    UnsafeRawBufferPointer(rebasing: d[0..<valuesCount]), from: 0, count: n,
                                    maxLevel: Int(maxDef), encoding: header.definitionLevelEncoding, into: &scratch.levels,
                                    what: "definition"))
                        } catch { return .failure(error) }
                    }.get()
                } else {
                    levels = try readLevelsV1(
                        body, from: 0, count: n, maxLevel: Int(maxDef), encoding: header.definitionLevelEncoding,
                        into: &scratch.levels, what: "definition")
                }
                valuesStart = levels
            }
        } else {
            let rl = header.repetitionLevelsByteCount
            let dl = header.definitionLevelsByteCount
            guard rl == 0 || descriptor.maxRepetitionLevel > 0, rl <= body.count, dl <= body.count - rl else {
                throw truncated("data page v2 levels", need: rl + dl, have: body.count)
            }
            if maxDef > 0 {
                var rle = try RLEBitPackedDecoder(body, from: rl, to: rl + dl, bitWidth: Self.bitWidth(Int(maxDef)))
                try rle.decode(n, into: &scratch.levels)
            }
            let section = UnsafeRawBufferPointer(rebasing: body[(rl + dl)...])
            if header.isCompressed && codec != .uncompressed {
                let size = header.uncompressedByteCount - rl - dl
                guard size >= 0 else {
                    throw corruptPage(
                        "data page v2 uncompressed size \(header.uncompressedByteCount) is smaller than its levels")
                }
                valuesCount = try Self.decompress(section, codec: codec, uncompressedByteCount: size, into: &scratch)
                inScratch = true
            } else {
                page = section
                valuesCount = section.count
            }
        }
        if keep && !inScratch {
            // Uncompressed values: copy them so the spans outlive the page bytes.
            let src = UnsafeRawBufferPointer(rebasing: page[valuesStart..<valuesCount])
            scratch.decompressed = Array(src)
            valuesCount = src.count
            valuesStart = 0
            inScratch = true
        }
        var nonNull = n
        if maxDef > 0 {
            nonNull = 0
            for l in scratch.levels {
                if l == maxDef {
                    nonNull += 1
                } else if l > maxDef || l < 0 {
                    throw corruptPage("definition level \(l) exceeds the column's maximum \(maxDef)")
                }
            }
        }
        if PageType(rawValue: header.type) == .dataPageV2 && nonNull != n - header.nullCount {
            throw ParquetError(
                .valueCountMismatch,
                "data page v2 has \(nonNull) non-null values by its levels but its header says \(n - header.nullCount)")
        }
        let levels = scratch.levels
        func decode(_ d: UnsafeRawBufferPointer) throws(ParquetError) -> SpanBase {
            let values = UnsafeRawBufferPointer(rebasing: d[valuesStart..<valuesCount])
            switch ParquetEncoding(rawValue: header.encoding) {
            case .plain:
                _ = try Self.walkPlain(
                    UnsafeRawBufferPointer(rebasing: d[0..<valuesCount]), from: valuesStart, rows: n, levels: levels,
                    maxDef: maxDef, starts: &starts, lengths: &lengths)
                return .decompressed(count: valuesCount)
            case .plainDictionary, .rleDictionary:
                guard dictionary.count > 0 || nonNull == 0 else {
                    throw corruptPage("dictionary-encoded page without a dictionary page")
                }
                scratch.indices.removeAll(keepingCapacity: true)
                if nonNull > 0 {
                    guard !values.isEmpty else { throw truncated("dictionary index bit width", need: 1, have: 0) }
                    var rle = try RLEBitPackedDecoder(values, from: 1, to: values.count, bitWidth: Int(values[0]))
                    try rle.decode(nonNull, into: &scratch.indices)
                }
                let dictCount = UInt32(truncatingIfNeeded: dictionary.count)
                let record = scratch.recordIndices
                var k = 0
                for r in 0..<n {
                    if !levels.isEmpty && levels[r] != maxDef {
                        starts.append(-1)
                        lengths.append(-1)
                        if record { scratch.rowIndices.append(-1) }
                        continue
                    }
                    let i = scratch.indices[k]
                    k += 1
                    guard i < dictCount else {
                        throw corruptPage("dictionary index \(i) is out of range for a dictionary of \(dictCount) values")
                    }
                    starts.append(dictionary.starts[Int(i)])
                    lengths.append(dictionary.lengths[Int(i)])
                    if record { scratch.rowIndices.append(Int32(i)) }
                }
                return .dictionary
            default:
                var buffer = ValueBuffer(physicalType: descriptor.physicalType, fixedWidth: Int(descriptor.typeLength ?? 0))
                try decodeValues(values, count: nonNull, encoding: header.encoding, dictionary: nil, into: &buffer)
                guard buffer.count == nonNull, buffer.bytes.count <= Int(Int32.max) else {
                    throw corruptPage("page values do not fit the page's \(nonNull) non-null rows")
                }
                var k = 0
                for r in 0..<n {
                    if !levels.isEmpty && levels[r] != maxDef {
                        starts.append(-1)
                        lengths.append(-1)
                        continue
                    }
                    starts.append(Int32(buffer.offsets[k]))
                    lengths.append(Int32(buffer.offsets[k + 1] - buffer.offsets[k]))
                    k += 1
                }
                return .owned(buffer.bytes)
            }
        }
        let base: SpanBase
        if inScratch {
            base = try scratch.decompressed.withUnsafeBytes { d -> Result<SpanBase, ParquetError> in
                do throws(ParquetError) { return .success(try decode(d)) } catch { return .failure(error) }
            }.get()
        } else {
            base = try decode(page)
        }
        return (base, n)
    }

    /// The lengths of a snappy-compressed PLAIN data page (v1) through the sparse reader: only the level bytes and
    /// the 4-byte length prefixes are resolved; the values are skipped without being decompressed.
    func sparsePlainLengths(
        _ body: UnsafeRawBufferPointer, header: PageHeader, maxDef: Int16, scratch: inout ByteArrayPageScratch,
        lengths: inout [Int32]
    ) throws(ParquetError) {
        var none: [Int32]? = nil
        _ = try sparsePlainWalk(body, header: header, maxDef: maxDef, scratch: &scratch, lengths: &lengths, starts: &none)
    }

    /// `sparsePlainLengths`, also appending each value's start in the decompressed page (-1 when null) to `starts`
    /// when it is non-nil. Returns the fully indexed reader (its element storage is `scratch.sparse`).
    @inline(__always)
    func sparsePlainWalk(
        _ body: UnsafeRawBufferPointer, header: PageHeader, maxDef: Int16, scratch: inout ByteArrayPageScratch,
        lengths: inout [Int32], starts: inout [Int32]?
    ) throws(ParquetError) -> SnappySparseReader {
        let n = header.valueCount
        var rd = try SnappySparseReader(body, expectedLength: header.uncompressedByteCount, buffers: scratch.sparse)
        let out = rd.outLength
        var pos = 0
        if maxDef > 0 {
            let levelLength = Int(try rd.uint32(at: 0))
            guard levelLength <= out - 4 else { throw truncated("definition levels", need: levelLength, have: out - 4) }
            scratch.levelBytes.removeAll(keepingCapacity: true)
            for i in 0..<(4 + levelLength) { scratch.levelBytes.append(try rd.byte(at: i)) }
            let levelBytes = scratch.levelBytes
            var levels = scratch.levels
            pos = try withBytes(levelBytes) { (d: UnsafeRawBufferPointer) throws(ParquetError) -> Int in
                try readLevelsV1(
                    d, from: 0, count: n, maxLevel: Int(maxDef), encoding: 3, into: &levels, what: "definition")
            }
            for l in levels where l > maxDef || l < 0 {
                throw corruptPage("definition level \(l) exceeds the column's maximum \(maxDef)")
            }
            scratch.levels = levels
        }
        lengths.reserveCapacity(lengths.count + n)
        let hasLevels = maxDef > 0
        for r in 0..<n {
            if hasLevels && scratch.levels[r] != maxDef {
                lengths.append(-1)
                starts?.append(-1)
                continue
            }
            let len = Int(try rd.uint32(at: pos))
            pos += 4
            guard out - pos >= len else { throw truncated("PLAIN byte array \(r)", need: len, have: out - pos) }
            lengths.append(Int32(truncatingIfNeeded: len))
            starts?.append(Int32(truncatingIfNeeded: pos))
            pos += len
        }
        try rd.finish()
        return rd
    }

    /// Per row of the chunk, the byte length of its value, or -1 when null, appended to `lengths`. Pages are
    /// decompressed into `scratch` and walked; no value is copied.
    func byteArrayLengths(into lengths: inout [Int32], scratch: inout ByteArrayPageScratch) throws(ParquetError) {
        var none: [ParquetByteArrayPage]? = nil
        try walkByteArrayChunk(lengths: &lengths, scratch: &scratch, pages: &none)
    }

    /// The chunk's data pages, decoded to spans, in row order, with its dictionary.
    func byteArrayPages() throws(ParquetError) -> (ParquetByteArrayDictionary, [ParquetByteArrayPage]) {
        var lengths: [Int32] = []
        var scratch = ByteArrayPageScratch()
        var pages: [ParquetByteArrayPage]? = []
        let dictionary = try walkByteArrayChunk(lengths: &lengths, scratch: &scratch, pages: &pages)
        return (dictionary, pages ?? [])
    }

    /// Walks every page of the chunk, appending each row's length (-1 when null) to `lengths` and, when `pages`
    /// is non-nil, each data page decoded to spans. Returns the chunk's dictionary.
    @discardableResult
    func walkByteArrayChunk(
        lengths: inout [Int32], scratch: inout ByteArrayPageScratch, pages: inout [ParquetByteArrayPage]?
    ) throws(ParquetError) -> ParquetByteArrayDictionary {
        let codec = try codec()
        var starts: [Int32] = []
        let first = lengths.count
        let keep = pages != nil
        scratch.recordIndices = keep
        var dictionary = ParquetByteArrayDictionary.empty
        try withRange(chunk.startOffset, chunk.totalCompressedByteCount, what: "column chunk") {
            (all: UnsafeRawBufferPointer) throws(ParquetError) in
            var pos = 0
            var page = 0
            var rows = 0
            var sawDictionary = false
            while pos < all.count && Int64(rows) < rowGroup.rowCount {
                let pageOffset = chunk.startOffset + Int64(pos)
                let (header, headerLength) = try pageHeader(all, at: pos, page: page, pageOffset: pageOffset)
                let bodyStart = pos + headerLength
                guard header.compressedByteCount <= all.count - bodyStart else {
                    throw error(
                        ParquetError(
                            .truncatedPage,
                            "page body of \(header.compressedByteCount) bytes extends past the column chunk, which has \(all.count - bodyStart) bytes left"
                        ), page: page, at: pageOffset)
                }
                let body = UnsafeRawBufferPointer(rebasing: all[bodyStart..<bodyStart + header.compressedByteCount])
                do throws(ParquetError) {
                    if let crc = header.crc, PageCRC.crc32(body) != crc {
                        throw ParquetError(
                            .crcMismatch,
                            "page crc32 is \(hex(PageCRC.crc32(body))) but the header says \(hex(crc)); the file is corrupt")
                    }
                    switch PageType(rawValue: header.type) {
                    case .dictionaryPage:
                        guard !sawDictionary else { throw corruptPage("column chunk has a second dictionary page") }
                        sawDictionary = true
                        if !keep && codec == .snappy {
                            // Lengths only: the values are not decompressed.
                            scratch.pageBodyOffset = chunk.startOffset + Int64(bodyStart)
                            dictionary = try sparseDictionaryLengths(body, header: header, scratch: &scratch)
                        } else {
                            dictionary = try decodeByteArrayDictionary(body, header: header, codec: codec)
                        }
                    case .dataPage, .dataPageV2:
                        guard Int64(header.valueCount) <= rowGroup.rowCount - Int64(rows) else {
                            throw ParquetError(
                                .valueCountMismatch,
                                "data page declares \(header.valueCount) values but the column chunk has only \(rowGroup.rowCount - Int64(rows)) left"
                            )
                        }
                        starts.removeAll(keepingCapacity: true)
                        let pageFirst = lengths.count
                        scratch.rowIndices.removeAll(keepingCapacity: true)
                        scratch.pageFirstRow = rowGroup.firstRowIndex + Int64(rows)
                        scratch.pageBodyOffset = chunk.startOffset + Int64(bodyStart)
                        let (base, n) = try decodeByteArrayDataPage(
                            body, header: header, codec: codec, dictionary: dictionary, keep: keep, scratch: &scratch,
                            starts: &starts, lengths: &lengths)
                        if keep {
                            let bytes: [UInt8]
                            switch base {
                            case .decompressed(let count): bytes = Array(scratch.decompressed[0..<count])
                            case .dictionary: bytes = dictionary.bytes
                            case .owned(let b): bytes = b
                            }
                            pages?.append(
                                ParquetByteArrayPage(
                                    firstRow: rowGroup.firstRowIndex + Int64(rows), bytes: bytes, starts: starts,
                                    lengths: Array(lengths[pageFirst...]), dictionaryIndices: scratch.rowIndices))
                        }
                        rows += n
                    case .indexPage, nil:
                        break
                    }
                } catch {
                    throw self.error(error, page: page, at: pageOffset)
                }
                page += 1
                pos = bodyStart + header.compressedByteCount
            }
        }
        guard Int64(lengths.count - first) == rowGroup.rowCount else {
            throw error(
                ParquetError(
                    .valueCountMismatch, "pages hold \(lengths.count - first) rows but the row group has \(rowGroup.rowCount)"),
                at: chunk.startOffset)
        }
        return dictionary
    }

    /// The chunk's dictionary page, decoded (empty when the chunk has none).
    func byteArrayDictionary(locations: [PageLocation]) throws(ParquetError) -> ParquetByteArrayDictionary {
        let codec = try codec()
        return try withDictionaryPage(locations: locations) { (header, body, _) throws(ParquetError) in
            try decodeByteArrayDictionary(body, header: header, codec: codec)
        } ?? .empty
    }

    /// Calls `body` with the chunk's dictionary page header, its (crc-checked) body and the body's file offset; nil
    /// when the chunk has no dictionary page. Errors are located at the page.
    func withDictionaryPage<R>(
        locations: [PageLocation], _ body: (PageHeader, UnsafeRawBufferPointer, Int64) throws(ParquetError) -> R
    ) throws(ParquetError) -> R? {
        let start = chunk.startOffset
        guard let firstData = locations.first?.offset, start < firstData else { return nil }
        return try withRange(start, firstData - start, what: "dictionary page") {
            (all: UnsafeRawBufferPointer) throws(ParquetError) -> R? in
            let (header, headerLength) = try pageHeader(all, at: 0, page: 0, pageOffset: start)
            guard PageType(rawValue: header.type) == .dictionaryPage else { return nil }
            guard header.compressedByteCount <= all.count - headerLength else {
                throw error(
                    ParquetError(.truncatedPage, "dictionary page body extends past the first data page"), page: 0, at: start)
            }
            let page = UnsafeRawBufferPointer(rebasing: all[headerLength..<headerLength + header.compressedByteCount])
            do throws(ParquetError) {
                if let crc = header.crc, PageCRC.crc32(page) != crc {
                    throw ParquetError(.crcMismatch, "dictionary page crc32 differs from its header; the file is corrupt")
                }
                return try body(header, page, start + Int64(headerLength))
            } catch {
                throw self.error(error, page: 0, at: start)
            }
        }
    }

    /// Decodes data page `k` of `locations` with the chunk's `dictionary`.
    func byteArrayPage(_ k: Int, locations: [PageLocation], dictionary: ParquetByteArrayDictionary) throws(ParquetError)
        -> ParquetByteArrayPage
    {
        let codec = try codec()
        let loc = locations[k]
        let endRow = k + 1 < locations.count ? locations[k + 1].firstRowIndex : rowGroup.rowCount
        let pageNumber = k + (dictionary.count > 0 ? 1 : 0)
        // Nothing is skipped, so the page is always there.
        return try withDataPage(loc, pageNumber: pageNumber) {
            (header, body, _) throws(ParquetError) -> ParquetByteArrayPage in
            guard PageType(rawValue: header.type) == .dataPage || PageType(rawValue: header.type) == .dataPageV2 else {
                throw corruptPage("page \(k) of the page index is not a data page")
            }
            if let crc = header.crc, PageCRC.crc32(body) != crc {
                throw ParquetError(.crcMismatch, "page crc32 differs from its header; the file is corrupt")
            }
            var scratch = ByteArrayPageScratch()
            scratch.recordIndices = true
            var starts: [Int32] = []
            var lengths: [Int32] = []
            let (base, n) = try decodeByteArrayDataPage(
                body, header: header, codec: codec, dictionary: dictionary, keep: true, scratch: &scratch,
                starts: &starts, lengths: &lengths)
            guard Int64(n) == endRow - loc.firstRowIndex else {
                throw ParquetError(
                    .valueCountMismatch, "page holds \(n) rows but the page index says \(endRow - loc.firstRowIndex)")
            }
            let bytes: [UInt8]
            switch base {
            case .decompressed(let count):
                if scratch.decompressed.count > count { scratch.decompressed.removeLast(scratch.decompressed.count - count) }
                bytes = scratch.decompressed
            case .dictionary: bytes = dictionary.bytes
            case .owned(let b): bytes = b
            }
            return ParquetByteArrayPage(
                firstRow: rowGroup.firstRowIndex + loc.firstRowIndex, bytes: bytes, starts: starts, lengths: lengths,
                dictionaryIndices: scratch.rowIndices)
        }!
    }

    /// Calls `body` with the header of the data page at `location`, its body and the body's file offset; nil when
    /// `skip` declines the header (checked before the body's length). Errors are located at the page.
    func withDataPage<R>(
        _ location: PageLocation, pageNumber: Int, skip: (PageHeader) -> Bool = { _ in false },
        _ body: (PageHeader, UnsafeRawBufferPointer, Int64) throws(ParquetError) -> R
    ) throws(ParquetError) -> R? {
        try withRange(location.offset, Int64(location.compressedByteCount), what: "data page") {
            (all: UnsafeRawBufferPointer) throws(ParquetError) -> R? in
            let (header, headerLength) = try pageHeader(all, at: 0, page: pageNumber, pageOffset: location.offset)
            if skip(header) { return nil }
            guard header.compressedByteCount <= all.count - headerLength else {
                throw error(
                    ParquetError(.truncatedPage, "page body extends past its offset-index length"), page: pageNumber,
                    at: location.offset)
            }
            let page = UnsafeRawBufferPointer(rebasing: all[headerLength..<headerLength + header.compressedByteCount])
            do throws(ParquetError) {
                return try body(header, page, location.offset + Int64(headerLength))
            } catch {
                throw self.error(error, page: pageNumber, at: location.offset)
            }
        }
    }
}

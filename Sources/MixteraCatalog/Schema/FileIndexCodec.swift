import MixteraCore
import MixteraSpec

/// Encodes `FileIndex` into the compact `files.index_blob` (docs/catalog-schema.md §Index blobs).
///
/// Version 2 (written): an uncompressed header, then column sections, each column split into byte
/// planes that are stored raw, as one repeated byte, or as their own zstd frame (whichever is
/// smallest), so zstd's Huffman stage sees one homogeneous distribution per plane:
///
/// ```
/// u8 version (2) · varint sampleCount · u8 locatorKind · u8 flags (bit0 tokens, bit1 Parquet sync points)
/// keys     varint m · m × varint catalog key id (first-seen order) · int column: local key index
/// lengths  int column: record byte length
/// gaps     int column: offset[i] − (offset[i−1] + length[i−1])
/// text     u8 predictor (0: textBytes, 1: length − textBytes) · int column
/// tokens   (flag bit0) zigzag varint ratio q (16.16 fixed point) · int column: tokens − ((textBytes·q + 2^15) >> 16)
/// numerics varint columnCount; per column: u8 type (0 int, 1 float), u8 hasNulls, [plane: null bitmap],
///          int column (int) or 8 planes of the IEEE-754 bits, least significant first (float)
/// frames   varint count; (varint Δcompressed offset, varint Δdecompressed offset) per zstd frame
/// sync     (flag bit1) varint count; (zigzag Δrow, zigzag Δfile offset, varint value offset) per Parquet sync point
///
/// int column: u8 mode · 0 constant: zigzag varint value
///                     · 1 frame of reference: zigzag varint min, u8 width w, w planes of (v − min), LSB first
///                     · 2 deltas (v[i] − v[i−1], v[−1] = 0), then as 1
/// plane (n bytes):    u8 kind · 0 raw: n bytes · 1 zstd: varint size, frame · 2 constant: u8 byte
/// ```
///
/// Version 1 (still decoded): one zstd frame (level 9) of varint columns.
enum FileIndexCodec {
    static let version: UInt8 = 2
    /// zstd level of each plane. Planes are near-memoryless, so all that helps is zstd's Huffman stage:
    /// level 1 comes within ~1% of level 19 on the benchmark's planes, while the lazy matchers of
    /// levels 5–12 spend bits on useless short matches (~10% larger) and take longer.
    static let planeLevel: Int32 = 1

    static func encode(_ x: FileIndex) -> [UInt8] {
        let n = x.sampleCount
        var w = ByteWriter(capacity: n * 2 + 64)
        w.writeUInt8(version)
        w.writeVarint(n)
        w.writeUInt8(x.locatorKind.rawValue)
        w.writeUInt8((x.tokens != nil ? 1 : 0) | (x.parquetSync.isEmpty ? 0 : 2))
        // Keys: a local table in first-seen order, then per-sample local indexes.
        var local: [UInt32: Int64] = [:]
        var table: [UInt32] = []
        var localKeys = [Int64](repeating: 0, count: n)
        for (i, k) in x.sampleKeys.enumerated() {
            if let l = local[k] {
                localKeys[i] = l
            } else {
                local[k] = Int64(table.count)
                localKeys[i] = Int64(table.count)
                table.append(k)
            }
        }
        w.writeVarint(table.count)
        for k in table { w.writeVarint(UInt64(k)) }
        writeInts(&w, localKeys)
        writeInts(&w, x.byteLengths)
        var gaps = [Int64](repeating: 0, count: n)
        var end: Int64 = 0
        for i in 0..<n {
            gaps[i] = x.byteOffsets[i] &- end
            end = x.byteOffsets[i] &+ x.byteLengths[i]
        }
        writeInts(&w, gaps)
        // Text bytes: as they are (e.g. all 0 without a text field) or as the record's overhead.
        let overhead = (0..<n).map { x.byteLengths[$0] &- x.textBytes[$0] }
        let a = encodedInts(x.textBytes)
        let b = encodedInts(overhead)
        w.writeUInt8(a.count <= b.count ? 0 : 1)
        w.write(a.count <= b.count ? a : b)
        if let tokens = x.tokens {
            let q = tokenRatio(tokens: tokens, text: x.textBytes)
            w.writeSignedVarint(q)
            writeInts(&w, (0..<n).map { tokens[$0] &- predictTokens(x.textBytes[$0], q) })
        }
        w.writeVarint(x.numericColumns.count)
        for c in x.numericColumns {
            switch c {
            case .int(let v, let nulls):
                w.writeUInt8(0)
                writeNullPlane(&w, nulls)
                writeInts(&w, v)
            case .float(let v, let nulls):
                w.writeUInt8(1)
                writeNullPlane(&w, nulls)
                let bits = v.map(\.bitPattern)
                for b in 0..<8 { writePlane(&w, bits.map { UInt8(truncatingIfNeeded: $0 >> UInt64(8 * b)) }) }
            }
        }
        w.writeVarint(x.frames.count)
        var pc: Int64 = 0
        var pd: Int64 = 0
        for f in x.frames {
            w.writeVarint(UInt64(f.compressedOffset - pc))
            w.writeVarint(UInt64(f.decompressedOffset - pd))
            pc = f.compressedOffset
            pd = f.decompressedOffset
        }
        if !x.parquetSync.isEmpty {
            w.writeVarint(x.parquetSync.count)
            var pr: Int64 = 0
            var po: Int64 = 0
            for p in x.parquetSync {
                w.writeSignedVarint(p.row &- pr)
                w.writeSignedVarint(p.offset &- po)
                w.writeVarint(UInt64(max(0, p.value)))
                pr = p.row
                po = p.offset
            }
        }
        return w.bytes
    }

    /// Tokens per text byte in 16.16 fixed point (0 without text bytes).
    static func tokenRatio(tokens: [Int64], text: [Int64]) -> Int64 {
        var t: Double = 0
        var b: Double = 0
        for (x, y) in zip(tokens, text) {
            t += Double(x)
            b += Double(y)
        }
        guard b > 0, t.isFinite else { return 0 }
        return Int64(min(max((t / b * 65536).rounded(), 0), 1e15))
    }

    @inline(__always) static func predictTokens(_ textBytes: Int64, _ q: Int64) -> Int64 {
        (textBytes &* q &+ 32768) >> 16
    }

    // MARK: Columns and planes

    static func encodedInts(_ v: [Int64]) -> [UInt8] {
        var w = ByteWriter(capacity: v.count + 16)
        writeInts(&w, v)
        return w.bytes
    }

    static func writeInts(_ w: inout ByteWriter, _ v: [Int64]) {
        guard let first = v.first else {
            w.writeUInt8(0)
            w.writeSignedVarint(0)
            return
        }
        var lo = first
        var hi = first
        var dlo = first
        var dhi = first
        var prev: Int64 = 0
        for e in v {
            lo = min(lo, e)
            hi = max(hi, e)
            let d = e &- prev
            dlo = min(dlo, d)
            dhi = max(dhi, d)
            prev = e
        }
        if lo == hi {
            w.writeUInt8(0)
            w.writeSignedVarint(lo)
            return
        }
        let range = UInt64(bitPattern: hi &- lo)
        let drange = UInt64(bitPattern: dhi &- dlo)
        if drange < range / 2 {
            w.writeUInt8(2)
            var deltas = v
            var p: Int64 = 0
            for i in 0..<v.count {
                deltas[i] = v[i] &- p
                p = v[i]
            }
            writeFrameOfReference(&w, deltas, min: dlo, range: drange)
        } else {
            w.writeUInt8(1)
            writeFrameOfReference(&w, v, min: lo, range: range)
        }
    }

    private static func writeFrameOfReference(_ w: inout ByteWriter, _ v: [Int64], min: Int64, range: UInt64) {
        w.writeSignedVarint(min)
        let width = (64 - range.leadingZeroBitCount + 7) / 8
        w.writeUInt8(UInt8(width))
        let u = v.map { UInt64(bitPattern: $0 &- min) }
        for b in 0..<width { writePlane(&w, u.map { UInt8(truncatingIfNeeded: $0 >> UInt64(8 * b)) }) }
    }

    static func writePlane(_ w: inout ByteWriter, _ plane: [UInt8]) {
        if let f = plane.first, plane.allSatisfy({ $0 == f }) {
            w.writeUInt8(2)
            w.writeUInt8(f)
            return
        }
        if plane.count >= 32 {
            let z = Zstd.compress(plane, level: planeLevel)
            if z.count + 3 < plane.count {
                w.writeUInt8(1)
                w.writeVarint(z.count)
                w.write(z)
                return
            }
        }
        w.writeUInt8(0)
        w.write(plane)
    }

    private static func writeNullPlane(_ w: inout ByteWriter, _ nulls: [Bool]?) {
        guard let nulls else {
            w.writeUInt8(0)
            return
        }
        w.writeUInt8(1)
        var bytes = [UInt8](repeating: 0, count: (nulls.count + 7) / 8)
        for (i, n) in nulls.enumerated() where n { bytes[i / 8] |= 1 << UInt8(i & 7) }
        writePlane(&w, bytes)
    }

    static func readPlane(_ r: inout ByteReader, count n: Int) throws(ByteReaderError) -> [UInt8] {
        switch try r.readUInt8() {
        case 0: return Array(try r.readBytes(n))
        case 1:
            let size = Int(try r.readVarint())
            let z = try r.readBytes(size)
            guard let plane = try? Zstd.decompress(z, maxSize: n), plane.count == n else { throw .truncated(offset: r.offset) }
            return plane
        case 2: return [UInt8](repeating: try r.readUInt8(), count: n)
        default: throw .truncated(offset: r.offset)
        }
    }

    static func readInts(_ r: inout ByteReader, count n: Int) throws(ByteReaderError) -> [Int64] {
        let mode = try r.readUInt8()
        if mode == 0 { return [Int64](repeating: try r.readSignedVarint(), count: n) }
        guard mode == 1 || mode == 2 else { throw .truncated(offset: r.offset) }
        let lo = try r.readSignedVarint()
        let width = Int(try r.readUInt8())
        guard width <= 8 else { throw .truncated(offset: r.offset) }
        // Planes are OR-ed into the result's bit patterns in place (no intermediate array).
        var v = [Int64](repeating: 0, count: n)
        for b in 0..<width {
            let plane = try readPlane(&r, count: n)
            let shift = Int64(8 * b)
            v.withUnsafeMutableBufferPointer { out in
                plane.withUnsafeBufferPointer { p in
                    for i in 0..<n { out[i] |= Int64(p[i]) << shift }
                }
            }
        }
        v.withUnsafeMutableBufferPointer { out in
            if mode == 1 {
                for i in 0..<n { out[i] = lo &+ out[i] }
            } else {
                var p: Int64 = 0
                for i in 0..<n {
                    p = p &+ (lo &+ out[i])
                    out[i] = p
                }
            }
        }
        return v
    }

    /// Moves past an int column without decoding it.
    static func skipInts(_ r: inout ByteReader, count n: Int) throws(ByteReaderError) {
        let mode = try r.readUInt8()
        if mode == 0 {
            _ = try r.readSignedVarint()
            return
        }
        guard mode == 1 || mode == 2 else { throw .truncated(offset: r.offset) }
        _ = try r.readSignedVarint()
        let width = Int(try r.readUInt8())
        guard width <= 8 else { throw .truncated(offset: r.offset) }
        for _ in 0..<width { try skipPlane(&r, count: n) }
    }

    static func skipPlane(_ r: inout ByteReader, count n: Int) throws(ByteReaderError) {
        switch try r.readUInt8() {
        case 0: _ = try r.readBytes(n)
        case 1: _ = try r.readBytes(Int(try r.readVarint()))
        case 2: _ = try r.readUInt8()
        default: throw .truncated(offset: r.offset)
        }
    }

    /// - Parameter sizes: when false, `textBytes` is left empty and `tokens` nil (version 2 blobs skip
    ///   their sections without decoding them), for readers that need neither.
    static func decode(_ blob: [UInt8], path: String, sizes: Bool = true) throws(CatalogError) -> FileIndex {
        // Version 1 blobs are one zstd frame (magic 28 B5 2F FD); version 2 starts with its version byte.
        if blob.count >= 4 && blob[0] == 0x28 && blob[1] == 0xB5 && blob[2] == 0x2F && blob[3] == 0xFD {
            return try decodeV1(blob, path: path)
        }
        do { return try decodeV2(blob, sizes: sizes) } catch {
            throw CatalogError("corrupt", "index blob of \(path) is corrupt (\(error)); rescan with `mixtera scan`")
        }
    }

    private static func decodeV2(_ raw: [UInt8], sizes: Bool = true) throws(ByteReaderError) -> FileIndex {
        var r = ByteReader(raw)
        guard try r.readUInt8() == 2 else { throw .truncated(offset: 0) }
        let n = Int(try r.readVarint())
        guard n <= 1 << 40 else { throw .truncated(offset: r.offset) }
        let locator = LocatorKind(rawValue: try r.readUInt8()) ?? .fileOffsets
        let flags = try r.readUInt8()
        let m = Int(try r.readVarint())
        guard m <= max(n, 1) else { throw .truncated(offset: r.offset) }
        var table: [UInt32] = []
        for _ in 0..<m { table.append(UInt32(truncatingIfNeeded: try r.readVarint())) }
        var keys = [UInt32](repeating: 0, count: n)
        do {
            let localKeys = try readInts(&r, count: n)
            for i in 0..<n {
                guard localKeys[i] >= 0 && localKeys[i] < Int64(m) else { throw .truncated(offset: r.offset) }
                keys[i] = table[Int(localKeys[i])]
            }
        }
        let lengths = try readInts(&r, count: n)
        // Offsets are decoded in place over the gaps.
        var offsets = try readInts(&r, count: n)
        var end: Int64 = 0
        for i in 0..<n {
            offsets[i] = end &+ offsets[i]
            end = offsets[i] &+ lengths[i]
        }
        let predictor = try r.readUInt8()
        var text: [Int64] = []
        var tokens: [Int64]?
        if sizes {
            text = try readInts(&r, count: n)
            if predictor == 1 { for i in 0..<n { text[i] = lengths[i] &- text[i] } }
            if flags & 1 != 0 {
                let q = try r.readSignedVarint()
                var t = try readInts(&r, count: n)
                for i in 0..<n { t[i] = t[i] &+ predictTokens(text[i], q) }
                tokens = t
            }
        } else {
            try skipInts(&r, count: n)
            if flags & 1 != 0 {
                _ = try r.readSignedVarint()
                try skipInts(&r, count: n)
            }
        }
        let columnCount = Int(try r.readVarint())
        guard columnCount < 4096 else { throw .truncated(offset: r.offset) }
        var columns: [NumericColumn] = []
        for _ in 0..<columnCount {
            let type = try r.readUInt8()
            var nulls: [Bool]?
            if try r.readUInt8() == 1 {
                let bytes = try readPlane(&r, count: (n + 7) / 8)
                nulls = (0..<n).map { i in bytes[i / 8] & (1 << UInt8(i & 7)) != 0 }
            }
            if type == 0 {
                columns.append(.int(try readInts(&r, count: n), nulls: nulls))
            } else {
                var bits = [UInt64](repeating: 0, count: n)
                for b in 0..<8 {
                    let plane = try readPlane(&r, count: n)
                    for i in 0..<n { bits[i] |= UInt64(plane[i]) << UInt64(8 * b) }
                }
                columns.append(.float(bits.map { Double(bitPattern: $0) }, nulls: nulls))
            }
        }
        let frames = try readFrames(&r, limit: raw.count)
        let sync = flags & 2 != 0 ? try readSync(&r, limit: raw.count) : []
        return FileIndex(
            sampleCount: n, sampleKeys: keys, locatorKind: locator, byteOffsets: offsets, byteLengths: lengths,
            textBytes: text, tokens: tokens, numericColumns: columns, frames: frames, parquetSync: sync)
    }

    /// The Parquet sync point section: a varint count, then (zigzag Δrow, zigzag Δoffset, varint value) each.
    private static func readSync(_ r: inout ByteReader, limit: Int) throws(ByteReaderError) -> [ParquetSyncPoint] {
        let count = Int(try r.readVarint())
        guard count <= limit else { throw .truncated(offset: r.offset) }
        var points: [ParquetSyncPoint] = []
        points.reserveCapacity(count)
        var row: Int64 = 0
        var offset: Int64 = 0
        for _ in 0..<count {
            row &+= try r.readSignedVarint()
            offset &+= try r.readSignedVarint()
            points.append(ParquetSyncPoint(row: row, offset: offset, value: Int64(truncatingIfNeeded: try r.readVarint())))
        }
        return points
    }

    // MARK: Version 1

    /// Version 1 encoder, kept for tests of the v1 decoder.
    static func encodeV1(_ x: FileIndex) -> [UInt8] {
        var w = ByteWriter(capacity: x.sampleCount * 6 + 64)
        w.writeUInt8(1)
        w.writeVarint(x.sampleCount)
        w.writeUInt8(x.locatorKind.rawValue)
        w.writeUInt8((x.tokens != nil ? 1 : 0) | (x.parquetSync.isEmpty ? 0 : 2))
        var i = 0
        while i < x.sampleCount {
            let k = x.sampleKeys[i]
            var j = i + 1
            while j < x.sampleCount && x.sampleKeys[j] == k { j += 1 }
            w.writeVarint(UInt64(k))
            w.writeVarint(j - i)
            i = j
        }
        for l in x.byteLengths { w.writeVarint(UInt64(l)) }
        var end: Int64 = 0
        for (o, l) in zip(x.byteOffsets, x.byteLengths) {
            w.writeVarint(UInt64(o - end))
            end = o + l
        }
        for (l, t) in zip(x.byteLengths, x.textBytes) { w.writeSignedVarint(l - t) }
        if let tokens = x.tokens { for t in tokens { w.writeVarint(UInt64(max(0, t))) } }
        w.writeVarint(x.numericColumns.count)
        for c in x.numericColumns {
            switch c {
            case .int(let v, let nulls):
                w.writeUInt8(0)
                writeNulls(&w, nulls)
                var prev: Int64 = 0
                for e in v {
                    w.writeSignedVarint(e &- prev)
                    prev = e
                }
            case .float(let v, let nulls):
                w.writeUInt8(1)
                writeNulls(&w, nulls)
                for e in v { w.writeUInt64LE(e.bitPattern) }
            }
        }
        w.writeVarint(x.frames.count)
        var pc: Int64 = 0
        var pd: Int64 = 0
        for f in x.frames {
            w.writeVarint(UInt64(f.compressedOffset - pc))
            w.writeVarint(UInt64(f.decompressedOffset - pd))
            pc = f.compressedOffset
            pd = f.decompressedOffset
        }
        return Zstd.compress(w.bytes, level: 9)
    }

    private static func writeNulls(_ w: inout ByteWriter, _ nulls: [Bool]?) {
        guard let nulls else {
            w.writeUInt8(0)
            return
        }
        w.writeUInt8(1)
        var byte: UInt8 = 0
        for (i, n) in nulls.enumerated() {
            if n { byte |= 1 << UInt8(i & 7) }
            if i & 7 == 7 {
                w.writeUInt8(byte)
                byte = 0
            }
        }
        if nulls.count & 7 != 0 { w.writeUInt8(byte) }
    }

    private static func decodeV1(_ blob: [UInt8], path: String) throws(CatalogError) -> FileIndex {
        let raw: [UInt8]
        do { raw = try Zstd.decompress(blob, maxSize: 1 << 34) } catch {
            throw CatalogError("corrupt", "index blob of \(path) is corrupt; rescan with `mixtera scan`")
        }
        do { return try decodeV1Raw(raw) } catch {
            throw CatalogError("corrupt", "index blob of \(path) is corrupt (\(error)); rescan with `mixtera scan`")
        }
    }

    private static func decodeV1Raw(_ raw: [UInt8]) throws(ByteReaderError) -> FileIndex {
        var r = ByteReader(raw)
        let v = try r.readUInt8()
        guard v == 1 else { throw .truncated(offset: 0) }
        let n = Int(try r.readVarint())
        guard n <= raw.count * 64 else { throw .truncated(offset: r.offset) }
        let locator = LocatorKind(rawValue: try r.readUInt8()) ?? .fileOffsets
        let flags = try r.readUInt8()
        var keys = [UInt32]()
        keys.reserveCapacity(n)
        while keys.count < n {
            let k = UInt32(truncatingIfNeeded: try r.readVarint())
            let run = Int(try r.readVarint())
            guard run > 0, keys.count + run <= n else { throw .truncated(offset: r.offset) }
            keys.append(contentsOf: repeatElement(k, count: run))
        }
        var lengths = [Int64](repeating: 0, count: n)
        for i in 0..<n { lengths[i] = Int64(try r.readVarint()) }
        var offsets = [Int64](repeating: 0, count: n)
        var end: Int64 = 0
        for i in 0..<n {
            offsets[i] = end + Int64(try r.readVarint())
            end = offsets[i] + lengths[i]
        }
        var text = [Int64](repeating: 0, count: n)
        for i in 0..<n { text[i] = lengths[i] - (try r.readSignedVarint()) }
        var tokens: [Int64]?
        if flags & 1 != 0 {
            var t = [Int64](repeating: 0, count: n)
            for i in 0..<n { t[i] = Int64(try r.readVarint()) }
            tokens = t
        }
        let columnCount = Int(try r.readVarint())
        guard columnCount < 4096 else { throw .truncated(offset: r.offset) }
        var columns: [NumericColumn] = []
        for _ in 0..<columnCount {
            let type = try r.readUInt8()
            var nulls: [Bool]?
            if try r.readUInt8() == 1 {
                let bytes = try r.readBytes((n + 7) / 8)
                nulls = (0..<n).map { i in bytes[bytes.startIndex + i / 8] & (1 << UInt8(i & 7)) != 0 }
            }
            if type == 0 {
                var vals = [Int64](repeating: 0, count: n)
                var prev: Int64 = 0
                for i in 0..<n {
                    prev = prev &+ (try r.readSignedVarint())
                    vals[i] = prev
                }
                columns.append(.int(vals, nulls: nulls))
            } else {
                var vals = [Double](repeating: 0, count: n)
                for i in 0..<n { vals[i] = Double(bitPattern: try r.readUInt64LE()) }
                columns.append(.float(vals, nulls: nulls))
            }
        }
        let frames = try readFrames(&r, limit: raw.count)
        return FileIndex(
            sampleCount: n, sampleKeys: keys, locatorKind: locator, byteOffsets: offsets, byteLengths: lengths,
            textBytes: text, tokens: tokens, numericColumns: columns, frames: frames)
    }

    /// The zstd frame table section: a varint count, then delta-coded (compressed, decompressed) offsets.
    private static func readFrames(_ r: inout ByteReader, limit: Int) throws(ByteReaderError) -> [ZstdFrame] {
        let frameCount = Int(try r.readVarint())
        guard frameCount <= limit else { throw .truncated(offset: r.offset) }
        var frames: [ZstdFrame] = []
        var pc: Int64 = 0
        var pd: Int64 = 0
        for _ in 0..<frameCount {
            pc += Int64(try r.readVarint())
            pd += Int64(try r.readVarint())
            frames.append(ZstdFrame(compressedOffset: pc, decompressedOffset: pd))
        }
        return frames
    }
}

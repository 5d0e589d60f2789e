import MixteraCore
import MixteraSpec

/// Encodes `FileIndex` into the compact `files.index_blob` (docs/catalog-schema.md):
///
/// ```
/// zstd frame of:
///   u8 version (1) · varint sampleCount · u8 locatorKind · u8 flags (bit0 tokens)
///   keys     : runs of (varint keyID, varint runLength) until sampleCount samples are covered
///   lengths  : varint byteLength per sample
///   gaps     : varint (offset[i] - (offset[i-1] + length[i-1])), offset[-1]+length[-1] = 0
///   text     : zigzag varint (byteLength - textBytes) per sample
///   tokens   : varint per sample (when flag bit0)
///   numerics : varint columnCount, then per column: u8 type (0 int, 1 float), u8 hasNulls,
///              [null bitmap, ceil(n/8) bytes, LSB first], values (int: zigzag delta from the previous
///              value; float: 8 bytes LE IEEE-754 bits)
///   frames   : varint count, then (varint compressedOffset delta, varint decompressedOffset delta)
/// ```
/// Sections are column-wise so zstd sees similar bytes together.
enum FileIndexCodec {
    static let version: UInt8 = 1

    static func encode(_ x: FileIndex) -> [UInt8] {
        var w = ByteWriter(capacity: x.sampleCount * 6 + 64)
        w.writeUInt8(version)
        w.writeVarint(x.sampleCount)
        w.writeUInt8(x.locatorKind.rawValue)
        w.writeUInt8(x.tokens != nil ? 1 : 0)
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

    static func decode(_ blob: [UInt8], path: String) throws(CatalogError) -> FileIndex {
        let raw: [UInt8]
        do { raw = try Zstd.decompress(blob, maxSize: 1 << 34) } catch {
            throw CatalogError("corrupt", "index blob of \(path) is corrupt; rescan with `mixtera scan`")
        }
        do { return try decodeRaw(raw) } catch {
            throw CatalogError("corrupt", "index blob of \(path) is corrupt (\(error)); rescan with `mixtera scan`")
        }
    }

    private static func decodeRaw(_ raw: [UInt8]) throws(ByteReaderError) -> FileIndex {
        var r = ByteReader(raw)
        let v = try r.readUInt8()
        guard v == version else { throw .truncated(offset: 0) }
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
        let frameCount = Int(try r.readVarint())
        guard frameCount <= raw.count else { throw .truncated(offset: r.offset) }
        var frames: [ZstdFrame] = []
        var pc: Int64 = 0
        var pd: Int64 = 0
        for _ in 0..<frameCount {
            pc += Int64(try r.readVarint())
            pd += Int64(try r.readVarint())
            frames.append(ZstdFrame(compressedOffset: pc, decompressedOffset: pd))
        }
        return FileIndex(
            sampleCount: n, sampleKeys: keys, locatorKind: locator, byteOffsets: offsets, byteLengths: lengths,
            textBytes: text, tokens: tokens, numericColumns: columns, frames: frames)
    }
}

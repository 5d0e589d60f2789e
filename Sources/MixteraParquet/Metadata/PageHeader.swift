/// Page types; raw values equal the spec's `PageType` numbers.
enum PageType: Int32 {
    case dataPage = 0
    case indexPage = 1
    case dictionaryPage = 2
    case dataPageV2 = 3
}

/// A decoded `PageHeader`.
struct PageHeader {
    var type: Int32
    var uncompressedByteCount: Int
    var compressedByteCount: Int
    var crc: UInt32?
    // Data page v1 / v2 / dictionary fields (flattened).
    var valueCount: Int = 0
    var encoding: Int32 = 0
    var definitionLevelEncoding: Int32 = 3
    var repetitionLevelEncoding: Int32 = 3
    // v2 only
    var nullCount: Int = 0
    var rowCount: Int = 0
    var definitionLevelsByteCount: Int = 0
    var repetitionLevelsByteCount: Int = 0
    var isCompressed: Bool = true

    struct Failure: Error { var message: String }

    init(_ s: ThriftStruct) throws(Failure) {
        guard let t = s.int32(1), let u = s.int32(2), let c = s.int32(3), u >= 0, c >= 0 else {
            throw Failure(message: "page header lacks a valid type or size")
        }
        type = t
        uncompressedByteCount = Int(u)
        compressedByteCount = Int(c)
        if let crc = s.int(4) { self.crc = UInt32(truncatingIfNeeded: crc) }
        switch PageType(rawValue: t) {
        case .dataPage:
            guard let h = s.structure(5), let n = h.int32(1), n >= 0, let e = h.int32(2) else {
                throw Failure(message: "data page header is missing or invalid")
            }
            valueCount = Int(n)
            encoding = e
            definitionLevelEncoding = h.int32(3) ?? 3
            repetitionLevelEncoding = h.int32(4) ?? 3
        case .dictionaryPage:
            guard let h = s.structure(7), let n = h.int32(1), n >= 0 else {
                throw Failure(message: "dictionary page header is missing or invalid")
            }
            valueCount = Int(n)
            encoding = h.int32(2) ?? 0
        case .dataPageV2:
            guard let h = s.structure(8), let n = h.int32(1), n >= 0, let nulls = h.int32(2), nulls >= 0,
                let rows = h.int32(3), rows >= 0, let e = h.int32(4), let dl = h.int32(5), dl >= 0,
                let rl = h.int32(6), rl >= 0
            else { throw Failure(message: "data page v2 header is missing or invalid") }
            valueCount = Int(n)
            nullCount = Int(nulls)
            rowCount = Int(rows)
            encoding = e
            definitionLevelsByteCount = Int(dl)
            repetitionLevelsByteCount = Int(rl)
            isCompressed = h.bool(7) ?? true
        case .indexPage, nil:
            break
        }
    }
}

/// One entry of an `OffsetIndex`.
struct PageLocation: Sendable {
    var offset: Int64
    var compressedByteCount: Int32
    var firstRowIndex: Int64
}

enum OffsetIndexDecoder {
    static func decode(_ s: ThriftStruct) -> [PageLocation]? {
        guard let list = s.structList(1) else { return nil }
        var out: [PageLocation] = []
        for p in list {
            guard let o = p.int(1), let c = p.int32(2), let f = p.int(3), o >= 0, c > 0, f >= 0 else { return nil }
            if let last = out.last, f <= last.firstRowIndex || o <= last.offset { return nil }
            out.append(PageLocation(offset: o, compressedByteCount: c, firstRowIndex: f))
        }
        return out
    }
}

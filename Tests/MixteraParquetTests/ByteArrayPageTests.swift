import Foundation
import MixteraCore
import Testing

@testable import MixteraParquet

/// The page-level byte-array reads (scan lengths, replay pages, sparse snappy) against the general reader.
@Suite struct ByteArrayPageTests {
    /// Per row of the general reader: the value's bytes, or nil when null.
    static func reference(_ file: ParquetFile, _ column: ParquetColumnDescriptor, rowGroup: Int) throws -> [[UInt8]?] {
        let data = try file.readColumn(column, rowGroup: rowGroup)
        guard case .bytes(let b) = data.values else { return [] }
        var out: [[UInt8]?] = []
        var v = 0
        for k in 0..<data.entryCount {
            if data.definitionLevels.isEmpty || data.definitionLevels[k] == Int16(column.maxDefinitionLevel) {
                out.append(Array(b[v]))
                v += 1
            } else {
                out.append(nil)
            }
        }
        return out
    }

    @Test(arguments: Fixtures.list("fixtures/parquet", suffix: ".parquet"))
    func matchesGeneralReader(_ name: String) throws {
        for mode in [ParquetFile.ReadMode.pread, .map, .mapPopulated] {
            let file = try ParquetFile(path: Fixtures.good(name), mode: mode)
            for column in file.schema.columns where ParquetFile.isFlatByteArray(column) {
                for g in file.rowGroups.indices where file.rowGroups[g].rowCount > 0 {
                    let expected = try Self.reference(file, column, rowGroup: g)
                    let lengths = try file.byteArrayRowLengths(column, rowGroup: g)
                    #expect(lengths == expected.map { $0.map { Int32($0.count) } ?? -1 }, "\(name) \(column.dottedPath) \(g)")
                    let (dictionary, pages) = try file.byteArrayPages(column, rowGroup: g)
                    var rows: [[UInt8]?] = []
                    for p in pages {
                        for r in 0..<p.rowCount {
                            rows.append(p.withValue(r) { Array($0) })
                            if !p.dictionaryIndices.isEmpty, p.dictionaryIndices[r] >= 0 {
                                #expect(dictionary.withValue(Int(p.dictionaryIndices[r])) { Array($0) } == rows.last!)
                            }
                        }
                    }
                    #expect(rows == expected, "\(name) \(column.dottedPath) \(g)")
                    guard let starts = file.pageRowStarts(column, rowGroup: g),
                        let dict = try file.byteArrayDictionary(column, rowGroup: g)
                    else { continue }
                    var paged: [[UInt8]?] = []
                    for k in starts.indices {
                        let p = try file.byteArrayPage(column, rowGroup: g, page: k, dictionary: dict)
                        #expect(p.firstRow == starts[k])
                        for r in 0..<p.rowCount { paged.append(p.withValue(r) { Array($0) }) }
                    }
                    #expect(paged == expected, "\(name) \(column.dottedPath) \(g) pages")
                }
            }
        }
    }

    /// A snappy block built by hand: literals, a 1-byte-offset copy, an overlapping copy and a 2-byte-offset copy.
    @Test func sparseSnappyReadsBytesThroughCopies() throws {
        var block: [UInt8] = [23]  // uncompressed length
        block += [7 << 2] + Array("abcdefgh".utf8)  // literal of 8
        block += [0b000_000_01, 8]  // copy-1: length 4, 8 back → "abcd"
        block += [0b000_001_01, 1]  // copy-1: length 5, 1 back (overlapping) → "ddddd"
        block += [2 << 2] + Array("xyz".utf8)  // literal of 3
        block += [(3 - 1) << 2 | 2, 20, 0]  // copy-2: length 3, 20 back → "abc"
        let expected =
            Array("abcdefgh".utf8) + Array("abcd".utf8) + Array("ddddd".utf8) + Array("xyz".utf8)
            + Array("abc".utf8)
        try block.withUnsafeBytes { raw in
            var rd = try SnappySparseReader(raw, expectedLength: 23, buffers: SnappyElementBuffers())
            #expect(try rd.uint32(at: 12) == UInt32(littleEndian: 0x6464_6464))
            var got: [UInt8] = []
            for i in (0..<23).reversed() { got.insert(try rd.byte(at: i), at: 0) }
            #expect(got == expected)
            try rd.finish()
        }
        // A declared length the elements overrun is corrupt.
        var overrun = block
        overrun[0] = 22
        try overrun.withUnsafeBytes { raw in
            var rd = try SnappySparseReader(raw, expectedLength: 22, buffers: SnappyElementBuffers())
            #expect(throws: ParquetError.self) { try rd.finish() }
        }
        // A copy reaching before the start of the output is corrupt.
        let bad: [UInt8] = [8, 0 << 2, 0x41, 0b000_000_01, 9]
        try bad.withUnsafeBytes { raw in
            var rd = try SnappySparseReader(raw, expectedLength: 8, buffers: SnappyElementBuffers())
            #expect(throws: ParquetError.self) { try rd.byte(at: 3) }
        }
    }

    /// Sparse reads of snappy PLAIN pages against whole-page decoding: every page, every row alone, runs of three
    /// rows and the whole page, on every fixture.
    @Test(arguments: Fixtures.list("fixtures/parquet", suffix: ".parquet"))
    func sparseRowsMatchWholePages(_ name: String) throws {
        let file = try ParquetFile(path: Fixtures.good(name), mode: .map)
        let window = ParquetSparseWindow()
        for column in file.schema.columns where ParquetFile.isFlatByteArray(column) {
            for g in file.rowGroups.indices where file.rowGroups[g].rowCount > 0 {
                guard let starts = file.pageRowStarts(column, rowGroup: g),
                    let dictionary = try file.byteArrayDictionary(column, rowGroup: g)
                else { continue }
                for k in starts.indices {
                    let whole = try file.byteArrayPage(column, rowGroup: g, page: k, dictionary: dictionary)
                    let expected = (0..<whole.rowCount).map { r in whole.withValue(r) { Array($0) } }
                    guard let sparse = try file.sparseByteArrayPage(column, rowGroup: g, page: k) else { continue }
                    #expect(sparse.firstRow == whole.firstRow && sparse.rowCount == whole.rowCount)
                    var ranges = [0..<sparse.rowCount]
                    for r in 0..<sparse.rowCount { ranges += [r..<r + 1, r..<min(sparse.rowCount, r + 3)] }
                    for range in ranges {
                        var got: [[UInt8]?] = []
                        var rows: [Int] = []
                        try file.withSparseRows(column, rowGroup: g, page: sparse, rows: range, window: window) { r, v in
                            rows.append(r)
                            got.append(v.map { Array($0) })
                        }
                        #expect(rows == Array(range))
                        #expect(got == Array(expected[range]), "\(name) \(column.dottedPath) \(g) page \(k) rows \(range)")
                    }
                }
            }
        }
    }

    /// Dictionary-encoded pages read against the sparsely indexed dictionary page, against whole-page decoding:
    /// every such page of every fixture, each row alone and the whole page.
    @Test(arguments: Fixtures.list("fixtures/parquet", suffix: ".parquet"))
    func sparseDictionaryRowsMatchWholePages(_ name: String) throws {
        let file = try ParquetFile(path: Fixtures.good(name), mode: .map)
        let window = ParquetSparseWindow()
        for column in file.schema.columns where ParquetFile.isFlatByteArray(column) {
            for g in file.rowGroups.indices where file.rowGroups[g].rowCount > 0 {
                guard let starts = file.pageRowStarts(column, rowGroup: g),
                    let dictionary = try file.byteArrayDictionary(column, rowGroup: g),
                    let sparse = try file.sparseDictionaryPage(column, rowGroup: g)
                else { continue }
                #expect(sparse.rowCount == dictionary.count)
                for k in starts.indices {
                    let whole = try file.byteArrayPage(column, rowGroup: g, page: k, dictionary: dictionary)
                    let expected = (0..<whole.rowCount).map { r in whole.withValue(r) { Array($0) } }
                    guard let rows = try file.sparseDictionaryRows(column, rowGroup: g, page: k, dictionary: sparse) else {
                        #expect(whole.dictionaryIndices.isEmpty, "\(name) \(column.dottedPath) \(g) page \(k)")
                        continue
                    }
                    #expect(rows.firstRow == whole.firstRow && rows.rowCount == whole.rowCount)
                    for range in [0..<rows.rowCount] + (0..<rows.rowCount).map({ $0..<$0 + 1 }) {
                        var got: [[UInt8]?] = []
                        try file.withSparseRows(column, rowGroup: g, rows: rows, range: range, window: window) { _, v in
                            got.append(v.map { Array($0) })
                        }
                        #expect(got == Array(expected[range]), "\(name) \(column.dottedPath) \(g) page \(k) rows \(range)")
                    }
                }
            }
        }
    }

    /// The fixtures hold snappy dictionary-encoded pages for the comparison above.
    @Test func someFixturesHaveSparseDictionaries() throws {
        var n = 0
        for name in ["basic_snappy_v1.parquet", "basic_snappy_v2.parquet"] {
            let file = try ParquetFile(path: Fixtures.good(name))
            for column in file.schema.columns where ParquetFile.isFlatByteArray(column) {
                guard let d = try file.sparseDictionaryPage(column, rowGroup: 0) else { continue }
                if try file.sparseDictionaryRows(column, rowGroup: 0, page: 0, dictionary: d) != nil { n += 1 }
            }
        }
        #expect(n >= 2)
    }

    /// The compressible-text fixture exercises what the comparison above relies on: sparse pages with copies,
    /// overlapping copies and a value longer than snappy's 64 KiB fragments; pyarrow's snappy keeps to fragments,
    /// so its pages are read fragment by fragment.
    @Test func sparseFixtureHasCopies() throws {
        let file = try ParquetFile(path: Fixtures.good("snappy_text.parquet"), mode: .pread)
        let column = try file.column("text")
        var pages = 0
        var copies = 0
        var longest = 0
        var fragments = 0
        for g in file.rowGroups.indices {
            for k in (file.pageRowStarts(column, rowGroup: g) ?? []).indices {
                guard let p = try file.sparseByteArrayPage(column, rowGroup: g, page: k) else { continue }
                pages += 1
                #expect(p.elements == nil && !p.fragmentStarts.isEmpty)
                fragments = max(fragments, p.fragmentStarts.count)
                // Count the copies with a walk of its own.
                let body = try file.file.readExactly(p.bodyCount, at: p.bodyOffset)
                try body.withUnsafeBytes { raw in
                    var rd = try SnappySparseReader(raw, expectedLength: p.outLength, buffers: SnappyElementBuffers())
                    try rd.finish()
                    copies += rd.elementIndex().sources.filter { $0 < 0 }.count
                    #expect(rd.fragmentStarts == p.fragmentStarts)
                }
                longest = max(longest, Int(p.lengths.max() ?? 0))
            }
        }
        #expect(pages >= 4)
        #expect(copies >= 100)
        #expect(longest > 65536)
        #expect(fragments >= 2)
    }

    /// Blocks built by hand across a 64 KiB fragment boundary: one that keeps to fragments is decoded from either
    /// fragment and resumed; a copy reaching into the previous fragment, or an element across the boundary, makes
    /// the block keep its element index instead.
    @Test func fragmentsDecodeAndResume() throws {
        func literal(_ bytes: [UInt8]) -> [UInt8] {
            let n = bytes.count - 1
            return (n < 60 ? [UInt8(n << 2)] : [62 << 2, UInt8(n & 0xFF), UInt8(n >> 8 & 0xFF), UInt8(n >> 16)]) + bytes
        }
        func varint(_ v: Int) -> [UInt8] {
            var v = v
            var out: [UInt8] = []
            while v >= 0x80 {
                out.append(UInt8(v & 0x7F) | 0x80)
                v >>= 7
            }
            return out + [UInt8(v)]
        }
        let first = (0..<65536).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ $0 >> 8) }
        let second = Array("0123456789abcdef".utf8)
        // Fragment 1: a literal of 16, then a copy of 16 from 16 back and an overlapping copy of 10 from 3 back.
        let elements1 = literal(second) + [(16 - 1) << 2 | 2, 16, 0] + [(10 - 1) << 2 | 2, 3, 0]
        let expected = first + second + second + Array(repeating: Array("def".utf8), count: 4).flatMap { $0 }.prefix(10)
        let good = varint(expected.count) + literal(first) + elements1
        try good.withUnsafeBytes { raw in
            var rd = try SnappySparseReader(raw, expectedLength: expected.count, buffers: SnappyElementBuffers())
            try rd.finish()
            #expect(rd.fragmentIndependent)
            #expect(rd.fragmentStarts.count == 2)
            let window = ParquetSparseWindow()
            for range in [65540..<65560, 65560..<expected.count, 10..<20, 65530..<65540, 0..<expected.count] {
                let base = try #require(
                    window.fragments(
                        raw, path: "t", bodyOffset: 4, fragmentStarts: rd.fragmentStarts, range: range,
                        outLength: expected.count))
                #expect(base <= range.lowerBound && range.lowerBound - base < SnappyFragments.size)
                let got = Array(UnsafeRawBufferPointer(start: window.bytes + (range.lowerBound - base), count: range.count))
                #expect(got == Array(expected[range]), "\(range)")
            }
            // A block that produces more than its declared length is refused.
            let short = ParquetSparseWindow()
            let refused = short.fragments(
                raw, path: "t", bodyOffset: 4, fragmentStarts: rd.fragmentStarts, range: 65540..<65560, outLength: 65550)
            #expect(refused == nil)
        }
        // The copy in fragment 1 reaches 20 bytes back, into fragment 0.
        let reaching = varint(65536 + 16 + 4) + literal(first) + literal(second) + [0b000_000_01, 20]
        try reaching.withUnsafeBytes { raw in
            var rd = try SnappySparseReader(raw, expectedLength: 65536 + 20, buffers: SnappyElementBuffers())
            try rd.finish()
            #expect(!rd.fragmentIndependent && rd.fragmentStarts.isEmpty)
        }
        // One literal runs across the boundary.
        let across = varint(65536 + 16) + literal(first + second)
        try across.withUnsafeBytes { raw in
            var rd = try SnappySparseReader(raw, expectedLength: 65536 + 16, buffers: SnappyElementBuffers())
            try rd.finish()
            #expect(!rd.fragmentIndependent)
        }
    }

    /// Ranges of a hand-built block resolved from its element index; a chain of copies deeper than the bound is
    /// refused (the caller then decompresses whole) instead of recursing without end.
    @Test func elementIndexResolvesRanges() throws {
        var block: [UInt8] = [23]
        block += [7 << 2] + Array("abcdefgh".utf8)
        block += [0b000_000_01, 8]
        block += [0b000_001_01, 1]
        block += [2 << 2] + Array("xyz".utf8)
        block += [(3 - 1) << 2 | 2, 20, 0]
        let expected =
            Array("abcdefgh".utf8) + Array("abcd".utf8) + Array("ddddd".utf8) + Array("xyz".utf8) + Array("abc".utf8)
        let out = UnsafeMutableRawPointer.allocate(byteCount: 4096, alignment: 16)
        defer { out.deallocate() }
        try block.withUnsafeBytes { raw in
            var rd = try SnappySparseReader(raw, expectedLength: 23, buffers: SnappyElementBuffers())
            try rd.finish()
            let index = rd.elementIndex()
            for a in 0..<23 {
                for b in (a + 1)...23 {
                    #expect(index.copy(a..<b, from: raw, into: out, budget: 1000))
                    #expect(Array(UnsafeRawBufferPointer(start: out, count: b - a)) == Array(expected[a..<b]), "\(a)..<\(b)")
                }
            }
            #expect(!index.copy(0..<23, from: raw, into: out, budget: 2))
            #expect(!index.copy(20..<24, from: raw, into: out, budget: 1000))
        }
        // "abcd", then 100 copies of 4 bytes from 4 back.
        var chain: [UInt8] = [0x94, 0x03, 3 << 2] + Array("abcd".utf8)
        for _ in 0..<100 { chain += [0b000_000_01, 4] }
        try chain.withUnsafeBytes { raw in
            var rd = try SnappySparseReader(raw, expectedLength: 404, buffers: SnappyElementBuffers())
            try rd.finish()
            let index = rd.elementIndex()
            #expect(index.copy(0..<404, from: raw, into: out, budget: 1000))
            #expect(
                Array(UnsafeRawBufferPointer(start: out, count: 404))
                    == Array(repeating: Array("abcd".utf8), count: 101).flatMap { $0 })
            #expect(index.copy(40..<48, from: raw, into: out, budget: 1000))
            #expect(Array(UnsafeRawBufferPointer(start: out, count: 8)) == Array("abcdabcd".utf8))
            #expect(!index.copy(400..<404, from: raw, into: out, budget: 100_000))
        }
    }

    /// A page indexed from a good file, read after the file's bytes changed underneath (same size): garbage or a
    /// typed error, never a crash; and corrupted page bodies are typed errors when indexed.
    @Test func sparseReadsSurviveCorruption() throws {
        let good = try [UInt8](Data(contentsOf: URL(fileURLWithPath: Fixtures.good("snappy_text.parquet"))))
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("sparse-\(getpid()).parquet").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try Data(good).write(to: URL(fileURLWithPath: path))
        let file = try ParquetFile(path: path, mode: .pread)
        let column = try file.column("text")
        var indexed: [(Int, ParquetSparseByteArrayPage)] = []
        for g in file.rowGroups.indices {
            for k in (file.pageRowStarts(column, rowGroup: g) ?? []).indices {
                if let p = try file.sparseByteArrayPage(column, rowGroup: g, page: k) { indexed.append((g, p)) }
            }
        }
        #expect(!indexed.isEmpty)
        let window = ParquetSparseWindow()
        for seed in 0..<8 {
            var bad = good
            var x = UInt64(seed + 1) &* 0x9E37_79B9_7F4A_7C15
            for _ in 0..<64 {
                x = x &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                let at = 4 + Int(x >> 33) % (bad.count - 12)
                bad[at] ^= UInt8(truncatingIfNeeded: x >> 8) | 1
            }
            try Data(bad).write(to: URL(fileURLWithPath: path))
            for (g, p) in indexed {
                for r in stride(from: 0, to: p.rowCount, by: 7) {
                    do {
                        try file.withSparseRows(column, rowGroup: g, page: p, rows: r..<min(p.rowCount, r + 2), window: window) {
                            _, _ in
                        }
                    } catch {}
                }
            }
            let reopened = try? ParquetFile(path: path, mode: .map)
            guard let reopened, let c = try? reopened.column("text") else { continue }
            for g in reopened.rowGroups.indices {
                for k in (reopened.pageRowStarts(c, rowGroup: g) ?? []).indices {
                    do { _ = try reopened.sparseByteArrayPage(c, rowGroup: g, page: k) } catch {}
                }
            }
        }
    }
}

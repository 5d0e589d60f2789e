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

    @Test func fingerprintMatchesFileHash() throws {
        let path = Fixtures.good("basic_snappy_v1.parquet")
        let expected = try FileSystem.fingerprint(path: path)
        for mode in [ParquetFile.ReadMode.pread, .map, .mapPopulated] {
            #expect(try ParquetFile(path: path, mode: mode).fingerprint() == expected)
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
}

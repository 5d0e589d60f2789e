import Foundation
import MixteraCore
import MixteraSpec
import MixteraTestSupport
import Testing

@testable import MixteraCatalog

@Suite struct FileIndexCodecTests {
    func roundTrip(_ x: FileIndex, _ context: String) throws {
        let back = try FileIndexCodec.decode(FileIndexCodec.encode(x), path: "p")
        #expect(back == x, "\(context)")
        // Version 1 blobs still decode.
        #expect(try FileIndexCodec.decode(FileIndexCodec.encodeV1(x), path: "p") == x, "\(context) v1")
    }

    func index(_ n: Int, seed: UInt64, keys: Int = 7, tokens: Bool = true, constantKeys: Bool = false) -> FileIndex {
        var rng = SplitMix64(seed: seed)
        var offsets: [Int64] = []
        var lengths: [Int64] = []
        var text: [Int64] = []
        var pos: Int64 = Int64(rng.nextBelow(4))
        for _ in 0..<n {
            let len = Int64(1 + rng.nextBelow(70_000))
            offsets.append(pos)
            lengths.append(len)
            text.append(max(0, len - Int64(rng.nextBelow(300))))
            pos += len + 1 + (rng.nextBelow(50) == 0 ? 1 : 0)
        }
        return FileIndex(
            sampleCount: n, sampleKeys: (0..<n).map { _ in constantKeys ? 9 : UInt32(1 + rng.nextBelow(UInt64(keys))) * 1000 },
            locatorKind: .fileOffsets, byteOffsets: offsets, byteLengths: lengths, textBytes: text,
            tokens: tokens ? text.map { $0 / 4 + Int64(rng.nextBelow(9)) } : nil,
            numericColumns: [
                .int((0..<n).map { _ in Int64(rng.nextBelow(31)) + 1995 }, nulls: nil),
                .int((0..<n).map { Int64($0) * 3 + 1_000_000 }, nulls: nil),
                .int((0..<n).map { i in i % 2 == 0 ? Int64.min : Int64.max }, nulls: (0..<n).map { $0 % 3 == 0 }),
                .float((0..<n).map { _ in (Double(rng.nextBelow(10_000)) / 10_000) }, nulls: nil),
                .float(
                    (0..<n).map { i in i % 5 == 0 ? -.infinity : Double(i) * 1e300 },
                    nulls: (0..<n).map { _ in rng.nextBelow(10) == 0 }),
            ],
            frames: [
                ZstdFrame(compressedOffset: 0, decompressedOffset: 0), ZstdFrame(compressedOffset: 900, decompressedOffset: 4000),
            ])
    }

    @Test func roundTripsEveryShapeExactly() throws {
        for n in [0, 1, 2, 31, 33, 257, 5000] {
            try roundTrip(index(n, seed: TestSupport.seed &+ UInt64(n)), "n = \(n)")
            try roundTrip(index(n, seed: 7, keys: 300, tokens: false), "n = \(n), 300 keys")
            try roundTrip(index(n, seed: 8, constantKeys: true), "n = \(n), one key")
        }
        // Extremes: negative gaps and lengths, huge offsets, tokens without text.
        var x = index(100, seed: 3)
        x.byteOffsets = (0..<100).map { Int64.max - 1000 + Int64($0) }
        x.byteLengths = (0..<100).map { $0 % 2 == 0 ? 0 : 1 }
        x.textBytes = Array(repeating: 0, count: 100)
        x.tokens = (0..<100).map { Int64($0) * 1_000_000_007 }
        try roundTrip(x, "extremes")
        // Parquet sync points (flag bit 1; version 2 only): rows and file offsets may step back between row groups.
        var pq = index(300, seed: 5)
        pq.locatorKind = .parquetRows
        pq.parquetSync = [
            ParquetSyncPoint(row: 0, offset: 4_000, value: 9), ParquetSyncPoint(row: 57, offset: 70_000, value: 65_600),
            ParquetSyncPoint(row: 150, offset: 2_000, value: 0), ParquetSyncPoint(row: 151, offset: 1 << 40, value: 1 << 30),
        ]
        #expect(try FileIndexCodec.decode(FileIndexCodec.encode(pq), path: "p") == pq)
        // Without sync points the blob is what it was before they existed: flag bit 1 clear, no section.
        var plain = pq
        plain.parquetSync = []
        let a = FileIndexCodec.encode(plain)
        let b = FileIndexCodec.encode(pq)
        #expect(b.starts(with: a.prefix(3)) && a.count < b.count)
        #expect(try FileIndexCodec.decode(a, path: "p").parquetSync.isEmpty)
        #expect(throws: CatalogError.self, "a cut sync section is corrupt") {
            try FileIndexCodec.decode(Array(b.dropLast()), path: "p")
        }
        x.locatorKind = .tarMembers
        x.byteOffsets = (0..<100).map { Int64($0) * 1536 + 512 }
        try roundTrip(x, "tar members")
    }

    @Test func sortedFilesWithOneKeyAreTiny() throws {
        // One key, constant gaps: only the lengths cost anything.
        var x = index(20_000, seed: 5, tokens: false, constantKeys: true)
        x.numericColumns = []
        x.byteLengths = x.byteLengths.map { 100 + $0 % 200 }
        var pos: Int64 = 0
        for i in 0..<x.sampleCount {
            x.byteOffsets[i] = pos
            pos += x.byteLengths[i] + 1
        }
        x.textBytes = x.byteLengths.map { $0 - 60 }
        let blob = FileIndexCodec.encode(x)
        #expect(blob.count < 20_000 * 11 / 10, "\(blob.count) bytes")
        #expect(blob.count < FileIndexCodec.encodeV1(x).count)
        try roundTrip(x, "sorted")
    }

    @Test func corruptBlobsFailWithAOneLineError() {
        var blob = FileIndexCodec.encode(index(50, seed: 1))
        blob.removeLast(blob.count / 2)
        #expect {
            try FileIndexCodec.decode(blob, path: "a/b.jsonl")
        } throws: { e in
            let e = e as! CatalogError
            return e.kind == "corrupt" && e.message.hasPrefix("index blob of a/b.jsonl is corrupt")
        }
    }
}

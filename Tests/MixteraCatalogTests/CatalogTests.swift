import Foundation
import MixteraCore
import MixteraSpec
import MixteraTestSupport
import Testing

@testable import MixteraCatalog

@Suite struct CatalogTests {
    func makeIndex(_ n: Int, keys: Int, seed: UInt64) -> FileIndex {
        var rng = SplitMix64(seed: seed)
        var offsets: [Int64] = []
        var lengths: [Int64] = []
        var text: [Int64] = []
        var pos: Int64 = 3
        for _ in 0..<n {
            let len = Int64(50 + rng.nextBelow(2000))
            offsets.append(pos)
            lengths.append(len)
            text.append(len - Int64(rng.nextBelow(40)))
            pos += len + 1 + Int64(rng.nextBelow(2))
        }
        let nulls = (0..<n).map { _ in rng.nextBelow(10) == 0 }
        return FileIndex(
            sampleCount: n, sampleKeys: (0..<n).map { _ in UInt32(rng.nextBelow(UInt64(keys))) }, locatorKind: .fileOffsets,
            byteOffsets: offsets, byteLengths: lengths, textBytes: text, tokens: (0..<n).map { _ in Int64(rng.nextBelow(5000)) },
            numericColumns: [
                .int((0..<n).map { _ in Int64(rng.nextBelow(100)) - 50 }, nulls: nil),
                .float((0..<n).map { _ in Double(rng.nextBelow(10_000)) / 10_000 }, nulls: nulls),
            ],
            frames: [
                ZstdFrame(compressedOffset: 0, decompressedOffset: 0), ZstdFrame(compressedOffset: 900, decompressedOffset: 4000),
            ])
    }

    @Test func storesAndReadsFileIndexesWithGlobalKeys() throws {
        let dir = TestSupport.temporaryDirectory("cat")
        let catalog = try Catalog(path: dir + "/c.sqlite", create: true)
        let props = [
            CatalogProperty(name: "lang", type: .string, source: "path:lang"),
            CatalogProperty(name: "q", type: .float, source: "path:q"),
        ]
        let id = try catalog.upsertDataset(
            name: "d", root: "/r", format: "jsonl", textField: "text", tokensField: nil, properties: props)
        let localKeys: [[PropertyValue]] = [[.string("en")], [.string("de")], [.null]]
        let index = makeIndex(5000, keys: 3, seed: TestSupport.seed)
        let file = CatalogFile(
            datasetID: id, relativePath: "a.jsonl", format: "jsonl", compression: "none", byteCount: 1, mtimeNanoseconds: 2,
            fingerprint: "0123456789abcdef", sampleCount: 5000, skippedCount: 0, propertiesHash: "h")
        try catalog.storeFile(file, localKeys: localKeys, index: index)
        // A second file shares two keys and adds one.
        var file2 = file
        file2.relativePath = "b.jsonl"
        try catalog.storeFile(file2, localKeys: [[.string("fr")], [.string("en")]], index: makeIndex(10, keys: 2, seed: 1))
        let keys = try catalog.keys(datasetID: id)
        // Ids in first-seen sample order across files in commit order.
        var firstSeen: [[PropertyValue]] = []
        for (table, idx) in [(localKeys, index), ([[.string("fr")], [.string("en")]], makeIndex(10, keys: 2, seed: 1))] {
            for k in idx.sampleKeys where !firstSeen.contains(table[Int(k)]) { firstSeen.append(table[Int(k)]) }
        }
        #expect(keys.map(\.values) == firstSeen)
        #expect(Set(keys.map(\.values)) == [[.string("en")], [.string("de")], [.null], [.string("fr")]])
        let files = try catalog.files(datasetID: id)
        #expect(files.map(\.relativePath) == ["a.jsonl", "b.jsonl"])
        let back = try catalog.index(of: files[0])
        var expected = index
        let idOf = Dictionary(uniqueKeysWithValues: keys.map { ($0.values, $0.id) })
        expected.sampleKeys = index.sampleKeys.map { idOf[localKeys[Int($0)]]! }
        #expect(back == expected)
        // Re-storing replaces, and the fingerprint is independent of ids.
        try catalog.storeFile(file, localKeys: localKeys, index: index)
        #expect(try catalog.files(datasetID: id).count == 2)
        #expect(try catalog.contentFingerprint().count == 16)
    }

    @Test func aSecondWriterFailsAtOnceWithLocked() throws {
        let dir = TestSupport.temporaryDirectory("lock")
        let a = try Catalog(path: dir + "/c.sqlite", create: true)
        let lock = try a.lockForWriting()
        let b = try Catalog(path: dir + "/c.sqlite", create: true)
        #expect {
            try b.lockForWriting()
        } throws: { e in
            (e as! CatalogError).category == .locked && (e as! CatalogError).kind == "locked"
        }
        lock.release()
        _ = try b.lockForWriting()
    }

    @Test func refusesANewerSchema() throws {
        let dir = TestSupport.temporaryDirectory("schema")
        _ = try Catalog(path: dir + "/c.sqlite", create: true)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = [
            "python3", "-c",
            "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute(\"update meta set value='99' where key='schema_version'\"); c.commit()",
            dir + "/c.sqlite",
        ]
        try p.run()
        p.waitUntilExit()
        #expect {
            try Catalog(path: dir + "/c.sqlite", create: false)
        } throws: { e in
            (e as! CatalogError).message == "catalog schema version 99 is newer than this mixtera supports (2); upgrade mixtera"
        }
    }

    @Test func migratesAVersion1CatalogWhenOpenedForWriting() throws {
        let dir = TestSupport.temporaryDirectory("migrate")
        let catalog = try Catalog(path: dir + "/c.sqlite", create: true)
        let id = try catalog.upsertDataset(
            name: "d", root: "/r", format: "jsonl", textField: nil, tokensField: nil, properties: [])
        let file = CatalogFile(
            datasetID: id, relativePath: "a.jsonl", format: "jsonl", compression: "none", byteCount: 1, mtimeNanoseconds: 2,
            fingerprint: "0123456789abcdef", sampleCount: 3, skippedCount: 0, propertiesHash: "h")
        try catalog.storeFile(
            file, localKeys: [[]],
            index: FileIndex(
                sampleCount: 3, sampleKeys: [0, 0, 0], locatorKind: .fileOffsets, byteOffsets: [0, 5, 10],
                byteLengths: [4, 4, 4],
                textBytes: [0, 0, 0], tokens: nil, numericColumns: [], frames: []))
        let v2 = try catalog.index(of: try catalog.files(datasetID: id)[0])
        // Rewrite as a version 1 catalog with a version 1 blob.
        let v1Blob = FileIndexCodec.encodeV1(v2).map { String(format: "%02x", $0) }.joined()
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = [
            "python3", "-c",
            "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute(\"update meta set value='1' where key='schema_version'\"); c.execute('alter table datasets drop column properties_hash'); c.execute('update files set index_blob = x\\'' + sys.argv[2] + '\\''); c.commit()",
            dir + "/c.sqlite", v1Blob,
        ]
        try p.run()
        p.waitUntilExit()
        let version: (Catalog) throws -> String = { c in
            let s = try c.db.statement("SELECT value FROM meta WHERE key = 'schema_version'")
            defer { s.reset() }
            _ = try s.step()
            return s.text(0)
        }
        let reader = try Catalog(path: dir + "/c.sqlite", create: false)
        #expect(try version(reader) == "1")
        #expect(try reader.datasets().map(\.propertiesHash) == [nil])
        #expect(try reader.index(of: try reader.files(datasetID: id)[0]) == v2)
        let writer = try Catalog(path: dir + "/c.sqlite", create: true)
        #expect(try version(writer) == "2")
        #expect(try writer.datasets().map(\.name) == ["d"])
        #expect(try writer.index(of: try writer.files(datasetID: id)[0]) == v2)
    }

    @Test func missingCatalogIsNoInput() {
        #expect {
            try Catalog(path: "/nonexistent/c.sqlite", create: false)
        } throws: { e in
            (e as! CatalogError).category == .noInput
        }
    }
}

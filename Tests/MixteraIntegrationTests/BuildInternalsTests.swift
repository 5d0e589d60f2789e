import MixteraCatalog
import MixteraCore
import MixteraPlanner
import MixteraSpec
import MixteraTestSupport
import Testing

@testable import Mixtera

@Suite struct BuildInternalsTests {
    static func index(_ offsets: [Int64]) -> FileIndex {
        FileIndex(
            sampleCount: offsets.count, sampleKeys: [UInt32](repeating: 1, count: offsets.count), locatorKind: .fileOffsets,
            byteOffsets: offsets, byteLengths: [Int64](repeating: 1, count: offsets.count), textBytes: [], tokens: nil,
            numericColumns: [], frames: [])
    }

    /// Locators come back exactly: packed groups, spilled groups (spread over 65535), a partial last
    /// group, and the switch to 8-byte locators past 4 GiB.
    @Test func locatorTableRoundTrips() {
        var rng = SplitMix64(seed: TestSupport.seed)
        var expected: [Int64] = []
        var table = Build.LocatorTable()
        table.reserve(1000)
        for _ in 0..<5 {
            var o: Int64 = 0
            var offsets: [Int64] = []
            for _ in 0..<(1 + Int(rng.nextBelow(150))) {
                offsets.append(o)
                o += 1 + Int64(rng.nextBelow(rng.nextBelow(2) == 0 ? 100 : 20000))
            }
            expected += offsets
            table.append(Self.index(offsets), hasSkippedRecords: false)
        }
        var sealed = table
        sealed.seal()
        #expect((0..<expected.count).map { sealed[$0] } == expected)
        table.append(Self.index([0, 5_000_000_000, 5_000_000_007]), hasSkippedRecords: false)
        expected += [0, 5_000_000_000, 5_000_000_007]
        table.seal()
        #expect(table.count == expected.count)
        #expect((0..<expected.count).map { table[$0] } == expected)
    }

    @Test func sortRefsSorts() {
        var rng = SplitMix64(seed: TestSupport.seed)
        for n in 0..<300 {
            var a = (0..<n).map { _ in SampleRef(rng.nextBelow(n % 3 == 0 ? 8 : 1 << 32)) }
            if n % 7 == 0 { a.sort() }
            if n % 11 == 0 { a.sort(by: >) }
            let want = a.sorted()
            a.withUnsafeMutableBufferPointer { Build.sortRefs($0) }
            #expect(a == want, "n \(n)")
        }
    }
}

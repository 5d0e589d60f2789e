import Foundation
import MixteraCore
import Testing

@testable import MixteraFormats

/// Seeded mutations (byte flips, truncations, overwritten size fields) of every plain fixture: the walk and
/// grouping must either succeed or throw a `FormatError`, never trap. `MIXTERA_TEST_SEED` replays a seed.
@Suite struct TarMutationTests {
    static let seed: UInt64 =
        ProcessInfo.processInfo.environment["MIXTERA_TEST_SEED"].flatMap { UInt64($0) }
        ?? 0x6D69_7874_6572_6101

    @Test(arguments: TarFixtures.plain)
    func mutatedArchivesNeverTrap(fixture: String) throws {
        print("TarMutationTests seed \(Self.seed) (\(fixture))")
        let original = try FileSystem.readAll(TarFixtures.good(fixture))
        var rng = SplitMix64(seed: SplitMix64.derive(Self.seed, UInt64(original.count)))
        let dir = NSTemporaryDirectory() + "mixtera-tar-mutations-\(ProcessInfo.processInfo.processIdentifier)-\(fixture)"
        try FileSystem.makeDirectory(dir)
        defer { FileSystem.removeTree(dir) }
        let path = dir + "/" + fixture
        var outcomes = [0, 0]
        for round in 0..<150 {
            var bytes = original
            switch round % 3 {
            case 0:  // flip a few bytes (mostly in headers: the first 512 of a random block)
                for _ in 0..<Int(1 + rng.nextBelow(4)) {
                    let i = Int(rng.nextBelow(UInt64(bytes.count)))
                    bytes[i] ^= UInt8(truncatingIfNeeded: 1 + rng.nextBelow(255))
                }
            case 1:  // truncate anywhere
                bytes.removeSubrange(Int(rng.nextBelow(UInt64(bytes.count)))...)
            default:  // overwrite a size field with a huge base-256 or octal value and fix the checksum
                let block = Int(rng.nextBelow(UInt64(bytes.count / 512))) * 512
                let huge: [UInt8] =
                    rng.nextBelow(2) == 0
                    ? [0x80, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]
                    : Array("77777777777\0".utf8)
                bytes.replaceSubrange((block + 124)..<(block + 136), with: huge)
                var sum = 0
                for j in 0..<512 { sum += (148..<156).contains(j) ? 0x20 : Int(bytes[block + j]) }
                let digits = Array(String(sum, radix: 8).utf8)
                let field = [UInt8](repeating: 0x30, count: 6 - digits.count) + digits + [0, 0x20]
                bytes.replaceSubrange((block + 148)..<(block + 156), with: field)
            }
            try FileSystem.write(bytes, to: path, sync: false)
            for backend in [TarWalker.Backend.direct, .libarchive] {
                do {
                    _ = try WebDatasetReader(path: path, options: .init(loadExtensions: nil, backend: backend)).readAll()
                    outcomes[0] += 1
                } catch {
                    #expect(!error.message.isEmpty)
                    #expect(error.location?.path == path)
                    outcomes[1] += 1
                }
            }
        }
        #expect(outcomes[1] > 0)
    }
}

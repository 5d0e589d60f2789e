import Foundation
import MixteraCore
import MixteraManifest
import MixteraTestSupport
import Testing

/// The fuzz harnesses (FuzzHarness.swift, shared with the libFuzzer targets in Fuzz/) run in the
/// normal test build: the seed corpora and every crash file under fixtures/bad/fuzz/<target>/
/// replay without a crash, and a deterministic mutation fuzzer (byte flips, truncations,
/// insertions, splices of every seed) only ever gets typed errors. This is the fallback when the
/// sanitizer build is unavailable and the smoke pass `scripts/test-fuzz-smoke.sh` runs.
///
/// `MIXTERA_FUZZ_ITERATIONS` sets the mutations per target (default 1500); `MIXTERA_TEST_SEED`
/// the seed.
@Suite struct FuzzReplayTests {
    static func files(under folder: String) -> [String] {
        let root = TestSupport.packageRoot + "/" + folder
        let fm = FileManager.default
        var out: [String] = []
        for rel in (try? fm.subpathsOfDirectory(atPath: root)) ?? [] {
            var isDir: ObjCBool = false
            let p = root + "/" + rel
            guard fm.fileExists(atPath: p, isDirectory: &isDir), !isDir.boolValue else { continue }
            if rel.hasSuffix(".expected.jsonl") || rel.hasPrefix(".") || rel.contains("/.") { continue }
            if let size = (try? fm.attributesOfItem(atPath: p))?[.size] as? Int, size > 4 << 20 { continue }
            out.append(p)
        }
        return out.sorted()
    }

    static func seeds(_ target: String) -> [[UInt8]] {
        (FuzzHarness.seedFolders[target] ?? []).flatMap(files(under:)).compactMap {
            FileManager.default.contents(atPath: $0).map { [UInt8]($0) }
        }
    }

    static var targetNames: [String] { FuzzHarness.targets.map(\.name) }

    static func harness(_ name: String) -> @Sendable ([UInt8], String) -> Void {
        FuzzHarness.targets.first { $0.name == name }!.run
    }

    @Test(arguments: targetNames)
    func seedCorpusAndCrashFilesReplay(_ target: String) throws {
        let seeds = Self.seeds(target)
        #expect(seeds.count >= 3, "seed corpus of \(target) is missing")
        let crashes = Self.files(under: "fixtures/bad/fuzz/" + target)
        let dir = TestSupport.temporaryDirectory("fuzz-replay")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let run = Self.harness(target)
        for input in seeds { run(input, dir + "/x") }
        for path in crashes { run([UInt8](FileManager.default.contents(atPath: path)!), dir + "/x") }
    }

    /// The manifest target reads `labels.bin` inputs against the 1.2 worked example's header, so that its seed
    /// gets past the header hash check.
    @Test func manifestTargetUsesTheWorkedExampleHeader() throws {
        let golden = TestSupport.packageRoot + "/Tests/MixteraManifestTests/Golden/example-1.2/"
        #expect(FuzzHarness.labelled.hash == XXH3.hash(try FileSystem.readAll(golden + "header.json")))
        _ = try LabelTable(
            bytes: FileSystem.readAll(golden + "labels.bin"), path: "labels.bin", header: FuzzHarness.labelled.header,
            headerHash: FuzzHarness.labelled.hash)
    }

    /// Every folder under fixtures/bad/fuzz/ is a fuzz target.
    @Test func everyCrashFolderIsATarget() throws {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: TestSupport.fixture("bad/fuzz"))) ?? []
        for n in names where !n.hasPrefix(".") && n != "README.md" {
            #expect(Self.targetNames.contains(n), "fixtures/bad/fuzz/\(n) is not a fuzz target")
        }
    }

    /// One mutation of `input`: the operators libFuzzer's default mutator uses most, minus its
    /// coverage guidance.
    static func mutate(_ input: [UInt8], _ rng: inout SplitMix64, others: [[UInt8]]) -> [UInt8] {
        var b = input
        let rounds = 1 + Int(rng.nextBelow(4))
        for _ in 0..<rounds {
            let op = rng.nextBelow(b.isEmpty ? 2 : 9)
            let at = b.isEmpty ? 0 : Int(rng.nextBelow(UInt64(b.count)))
            switch op {
            case 0:  // insert random bytes
                let n = 1 + Int(rng.nextBelow(8))
                b.insert(contentsOf: (0..<n).map { _ in UInt8(truncatingIfNeeded: rng.next()) }, at: at)
            case 1:  // splice: a chunk of another seed
                let other = others[Int(rng.nextBelow(UInt64(others.count)))]
                if !other.isEmpty {
                    let s = Int(rng.nextBelow(UInt64(other.count)))
                    let n = min(other.count - s, 1 + Int(rng.nextBelow(64)))
                    b.insert(contentsOf: other[s..<(s + n)], at: at)
                }
            case 2: b[at] ^= UInt8(1) << UInt8(rng.nextBelow(8))  // bit flip
            case 3: b[at] = UInt8(truncatingIfNeeded: rng.next())  // random byte
            case 4: b.removeSubrange(at..<b.count)  // truncate
            case 5: b.removeSubrange(at..<min(b.count, at + 1 + Int(rng.nextBelow(16))))  // erase
            case 6:  // interesting values (little-endian)
                let values: [UInt64] = [0, 1, 0x7F, 0x80, 0xFF, 0x7FFF_FFFF, 0xFFFF_FFFF, 0x8000_0000_0000_0000, UInt64.max]
                let v = values[Int(rng.nextBelow(UInt64(values.count)))]
                let width = [1, 2, 4, 8][Int(rng.nextBelow(4))]
                for k in 0..<width where at + k < b.count { b[at + k] = UInt8(truncatingIfNeeded: v >> (8 * UInt64(k))) }
            case 7:  // duplicate a chunk
                let n = min(b.count - at, 1 + Int(rng.nextBelow(32)))
                b.insert(contentsOf: b[at..<(at + n)], at: at)
            default:  // ASCII digits and delimiters, for the text formats
                let chars = Array("0123456789-+.eE\"{}[]:,\\ \n\t()".utf8)
                b[at] = chars[Int(rng.nextBelow(UInt64(chars.count)))]
            }
        }
        return b
    }

    static var iterations: Int {
        ProcessInfo.processInfo.environment["MIXTERA_FUZZ_ITERATIONS"].flatMap(Int.init) ?? 1500
    }

    @Test(arguments: targetNames)
    func mutationFuzzerFindsOnlyTypedErrors(_ target: String) throws {
        let seeds = Self.seeds(target).filter { $0.count <= 256 << 10 }
        try #require(!seeds.isEmpty)
        let dir = TestSupport.temporaryDirectory("fuzz-mut")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let run = Self.harness(target)
        var rng = SplitMix64(seed: TestSupport.seed ^ UInt64(truncatingIfNeeded: target.hashValueStable))
        for i in 0..<Self.iterations {
            let input = Self.mutate(seeds[i % seeds.count], &rng, others: seeds)
            // Kept when the process dies, to become fixtures/bad/fuzz/<target>/<name>.
            FileManager.default.createFile(atPath: NSTemporaryDirectory() + "mixtera-fuzz-last-\(target)", contents: Data(input))
            run(input, dir + "/x")
        }
    }
}

extension String {
    /// FNV-1a: stable across processes (unlike `hashValue`), for per-target seeds.
    var hashValueStable: UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        return h
    }
}

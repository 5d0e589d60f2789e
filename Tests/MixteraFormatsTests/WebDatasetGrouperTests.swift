import MixteraCore
import Testing

@testable import MixteraFormats

@Suite struct WebDatasetGrouperTests {
    static func samples(_ s: [WebDatasetSample]) -> [TarFixtures.Sample] {
        s.map { sample in
            TarFixtures.Sample(
                key: sample.key, index: sample.sampleIndex,
                members: sample.members.map {
                    TarFixtures.SampleMember(
                        ext: $0.extension, name: $0.name, data_offset: $0.dataByteOffset, size: $0.byteCount,
                        member_index: $0.memberIndex)
                })
        }
    }

    static func skipped(_ c: WebDatasetSkipCounts) -> [String: Int] {
        ["not-regular": c.notRegular, "no-extension": c.noExtension, "hidden": c.hidden, "metadata": c.metadata]
    }

    @Test(arguments: TarFixtures.all)
    func groupingMatchesExpected(fixture: String) throws {
        let expected = try TarFixtures.expected(fixture)
        let path = TarFixtures.good(fixture)
        let walker = try TarWalker(path: path)
        var grouper = WebDatasetGrouper(path: path)
        var out: [WebDatasetSample] = []
        while let m = try walker.next() {
            let predicted = grouper.sampleIndex(for: m)
            if let s = try grouper.add(m) { out.append(s) }
            if let predicted { #expect(predicted == grouper.sampleCount - 1) }
        }
        if let s = grouper.finish() { out.append(s) }
        #expect(Self.samples(out) == expected.samples)
        #expect(Self.skipped(grouper.skipped) == expected.skipped)
    }

    @Test func nonAdjacentKeyStartsANewSample() throws {
        let reader = try WebDatasetReader(path: TarFixtures.good("non-adjacent.tar"))
        let s = try reader.readAll()
        #expect(s.map(\.key) == ["a", "b", "a", "b"])
        #expect(s.map { $0.members.map(\.extension) } == [["txt"], ["txt"], ["json", "cls"], ["json"]])
        #expect(s.map(\.sampleIndex) == [0, 1, 2, 3])
    }

    @Test func dottedDirectoriesAndMultiDotExtensions() throws {
        let s = try WebDatasetReader(path: TarFixtures.good("dotted-dirs.tar")).readAll()
        // The key ends at the first dot of the base name, so `c.0001.txt` and `c.0002.txt` share key `a.b/c`.
        #expect(s.map(\.key) == ["a.b/c", "x.y.z/k", "./rel"])
        #expect(s[0].members.map(\.extension) == ["0001.txt", "0001.json", "0002.txt"])
        #expect(s[1].members.map(\.extension) == ["tar.gz", "TXT"])
        #expect(s[1].member(withExtension: "TXT")?.name == "x.y.z/k.TXT")
    }

    struct NameCase: Sendable, CustomStringConvertible {
        var name: String
        var split: WebDatasetName.Split
        var description: String { name }
    }

    static let names: [NameCase] = [
        NameCase(name: "a.b/c.0001.txt", split: .member(key: "a.b/c", extension: "0001.txt")),
        NameCase(name: "s0001.json", split: .member(key: "s0001", extension: "json")),
        NameCase(name: "a..b", split: .member(key: "a", extension: ".b")),
        NameCase(name: "empty.", split: .member(key: "empty", extension: "")),
        NameCase(name: "/abs/x.txt", split: .member(key: "/abs/x", extension: "txt")),
        NameCase(name: "../up/y.txt", split: .member(key: "../up/y", extension: "txt")),
        NameCase(name: "./rel.txt", split: .member(key: "./rel", extension: "txt")),
        NameCase(name: "日本語/サンプル.json", split: .member(key: "日本語/サンプル", extension: "json")),
        NameCase(name: "__x__y.txt", split: .member(key: "__x__y", extension: "txt")),
        NameCase(name: "README", split: .skipped(.noExtension)),
        NameCase(name: "a.b/README", split: .skipped(.noExtension)),
        NameCase(name: "dir/", split: .skipped(.noExtension)),
        NameCase(name: ".DS_Store", split: .skipped(.hidden)),
        NameCase(name: "dir/.hidden.txt", split: .skipped(.hidden)),
        NameCase(name: "__meta__", split: .skipped(.metadata)),
        NameCase(name: "__index__/x.json", split: .skipped(.metadata)),
    ]

    @Test(arguments: names)
    func splitName(_ c: NameCase) {
        #expect(WebDatasetName.split(c.name) == c.split)
    }
}

import Foundation
import MixteraCore
import MixteraManifest
import MixteraTestSupport
import Testing

@testable import Mixtera

/// `Diff` and `Report` through the library: one changed step, and a report over a million steps.
@Suite(.serialized) struct InspectTests {
    static func manifest() throws -> (dir: String, manifest: String) {
        let dir = try EndToEndTests.scanned()
        _ = try Build.run(catalogPath: dir + "/c.sqlite", spec: EndToEndTests.buildSpec(), out: dir + "/m")
        return (dir, dir + "/m")
    }

    @Test func oneChangedStepIsTheFirstDifferingStepOfThatRankOnly() throws {
        let (dir, m) = try Self.manifest()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.copyItem(atPath: m, toPath: dir + "/edited")
        // Rewrite rank 1 with step 7's entries reversed (same samples, another order), same header.
        let md = try ManifestDirectory(path: m)
        let rf = try md.rankFile(1)
        var w = RankFileWriter(
            rank: 1, dataParallel: md.header.dataParallel, samplesPerStep: md.header.samplesPerRank,
            sparseEntries: rf.sparseEntries)
        var changedSlot0: ManifestEntry?
        for s in 0..<rf.stepCount {
            var e = try rf.entries(step: s)
            if s == 7 {
                #expect(e.count > 1)
                e.reverse()
                changedSlot0 = e[0]
            }
            w.appendStep(e)
        }
        try FileSystem.write(
            w.finish(headerHash: md.headerHash), to: dir + "/edited/" + ManifestHeader.rankFileName(1), sync: false)

        let d = try Diff.manifests(m, dir + "/edited")
        #expect(!d.identical)
        #expect(d.headerIdentical)
        #expect(d.specDiff.isEmpty && d.fields.isEmpty && d.counts.isEmpty)
        #expect(d.ranks.map(\.rank) == [0, 1, 2, 3])
        #expect(d.ranks.map(\.identical) == [true, false, true, true])
        #expect(d.ranks[1].firstDifferingStep == 7)
        let f = md.header.files[changedSlot0!.file]
        #expect(
            d.ranks[1].detail?.contains("corpus/\(f.path) row \(changedSlot0!.row) in B") == true, "\(d.ranks[1].detail ?? "")")
        #expect(d.lines().contains { $0.hasPrefix("rank 1: first differing step 7: slot 0: ") })
        #expect(d.lines().last == "manifests differ")

        let same = try Diff.manifests(m, m)
        #expect(same.identical && same.lines() == ["manifests are identical"])
    }

    @Test func lineDiffKeepsOrder() {
        #expect(Diff.lineDiff("a\nb\nc", "a\nx\nc\nd") == ["- b", "+ x", "+ d"])
        #expect(Diff.lineDiff("same", "same").isEmpty)
    }

    /// A synthetic header of a million steps with a linear ramp (one log entry per step) renders quickly
    /// into at most 600 columns; epoch markers follow `selected`.
    @Test func reportAggregatesAMillionSteps() throws {
        let steps = 1_000_000
        var log: [MixtureLogEntry] = []
        for s in stride(from: 0, to: steps, by: 1) where s % 1000 == 0 {
            let a = 10 + (s / 1000) % 20
            log.append(MixtureLogEntry(fromStep: s, toStep: min(steps, s + 1000) - 1, counts: [a, 64 - a]))
        }
        let h = ManifestHeader(
            toolVersion: "test", specPath: "big.yaml", specText: "query: 'x < 1 && y > 2'\n", seed: 1, catalogFingerprint: "00",
            globalBatch: 64, dataParallel: 8, steps: steps, datasets: [], files: [],
            components: [
                ManifestComponent(name: "a<b>", filter: "true", selected: 1_000_000, onExhausted: "repeat"),
                ManifestComponent(name: "c&d", filter: "true", selected: 50_000_000, onExhausted: "stop"),
            ], mixtureLog: log)
        let start = Date()
        let html = Report.render(header: h, headerHash: 0, stats: nil)
        #expect(Date().timeIntervalSince(start) < 20)
        #expect(html == Report.render(header: h, headerHash: 0, stats: nil))
        #expect(html.contains("<title>a&lt;b&gt;</title></polygon>"))
        #expect(html.contains("<title>c&amp;d</title></polygon>"))
        #expect(html.contains("query: &#39;x &lt; 1 &amp;&amp; y &gt; 2&#39;"))
        #expect(!html.contains("a<b>"))
        #expect(html.contains(">1,000,000</text>"))
        #expect(html.contains("1,000,000 steps aggregated into 600 columns"))
        // Each area polygon has 4 points per column.
        let polygon = html.components(separatedBy: "<polygon").dropFirst().first!
        let points = polygon.components(separatedBy: "points=\"")[1].components(separatedBy: "\"")[0]
        #expect(points.split(separator: " ").count == 4 * 600)
        // Component a draws ~19.5 per step: its 1,000,000 selection is used up ~19.5 times; markers are capped.
        let marks = Report.markers(h)
        #expect(marks.filter { $0.component == 0 }.count == 19)
        #expect(marks.filter { $0.component == 0 }.allSatisfy { !$0.exhausted })
        #expect(marks.first { $0.component == 1 } == nil)  // c&d never exhausts 50 M
        // Buckets cover every step once.
        let b = Report.buckets(steps: steps)
        #expect(b.count == 600 && b.first!.lowerBound == 0 && b.last!.upperBound == steps)
        #expect(zip(b, b.dropFirst()).allSatisfy { $0.upperBound == $1.lowerBound })
        let totals = Report.aggregate(log, components: 2, buckets: b).reduce([Int64(0), 0]) { [$0[0] + $1[0], $0[1] + $1[1]] }
        #expect(totals[0] + totals[1] == Int64(steps) * 64)
    }

    @Test func exhaustionAndEpochMarkers() {
        // 10 per step; selections of 25 (repeat) and 30 (stop).
        let h = ManifestHeader(
            toolVersion: "t", specPath: "s", specText: "", seed: 0, catalogFingerprint: "", globalBatch: 20, dataParallel: 1,
            steps: 3,
            datasets: [], files: [],
            components: [
                ManifestComponent(name: "r", filter: "true", selected: 25, onExhausted: "repeat"),
                ManifestComponent(name: "s", filter: "true", selected: 30, onExhausted: "stop"),
            ], mixtureLog: [MixtureLogEntry(fromStep: 0, toStep: 2, counts: [10, 10])])
        let marks = Report.markers(h)
        // r: cumulative 10, 20, 30 → epoch 2 starts at step 2 (sample 26). s: the 30th sample is drawn at step 2.
        #expect(marks.map(\.component) == [0, 1])
        #expect(marks[0].step == 2 && !marks[0].exhausted && marks[0].label == "epoch 2 starts at step 2")
        #expect(marks[1].step == 2 && marks[1].exhausted)
    }
}

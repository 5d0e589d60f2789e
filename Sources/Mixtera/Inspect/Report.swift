import MixteraCore
import MixteraManifest
import MixteraSpec

/// `mixtera report`: one self-contained HTML page (inline CSS and SVG, no script, no network) showing a
/// manifest's mixture over steps, per-component consumption with epoch and exhaustion markers, the spec,
/// topology and fingerprints, and with a catalog its per-dataset and per-property coverage.
/// Deterministic: the same manifest (and catalog) give the same bytes.
public enum Report {
    /// Steps are aggregated into at most this many buckets (chart columns).
    public static let maxBuckets = 600

    /// Component colours (Tableau 10), in component order; beyond 10 components they are generated.
    public static let palette = [
        "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac",
    ]

    public static func colour(_ i: Int) -> String {
        if i < palette.count { return palette[i] }
        // Golden-angle hues at fixed saturation and lightness, as hex.
        let h = Double((i * 137) % 360) / 60
        let c = 0.55
        let x = c * (1 - abs(h.truncatingRemainder(dividingBy: 2) - 1))
        let (r, g, b): (Double, Double, Double) =
            h < 1 ? (c, x, 0) : h < 2 ? (x, c, 0) : h < 3 ? (0, c, x) : h < 4 ? (0, x, c) : h < 5 ? (x, 0, c) : (c, 0, x)
        let m = 0.25
        func hex2(_ v: Double) -> String {
            let n = Int(((v + m) * 255).rounded())
            let s = String(max(0, min(255, n)), radix: 16)
            return s.count == 1 ? "0" + s : s
        }
        return "#" + hex2(r) + hex2(g) + hex2(b)
    }

    /// The step ranges of the chart columns: `min(steps, maxBuckets)` ranges of (almost) equal length.
    public static func buckets(steps: Int, max: Int = maxBuckets) -> [Range<Int>] {
        guard steps > 0 else { return [] }
        let n = Swift.min(steps, max)
        return (0..<n).map { k in (k * steps / n)..<((k + 1) * steps / n) }
    }

    /// Per bucket, per component: samples drawn over the bucket's steps (from the mixture log).
    public static func aggregate(_ log: [MixtureLogEntry], components: Int, buckets: [Range<Int>]) -> [[Int64]] {
        var out = buckets.map { _ in [Int64](repeating: 0, count: components) }
        var k = 0
        for e in log {
            while k < buckets.count && buckets[k].upperBound <= e.fromStep { k += 1 }
            var j = k
            while j < buckets.count && buckets[j].lowerBound <= e.toStep {
                let lo = Swift.max(e.fromStep, buckets[j].lowerBound)
                let hi = Swift.min(e.toStep + 1, buckets[j].upperBound)
                if hi > lo {
                    for (c, n) in e.counts.enumerated() where c < components { out[j][c] += Int64(n) * Int64(hi - lo) }
                }
                j += 1
            }
        }
        return out
    }

    /// Planned weights (normalized) at a step, from the spec's explicit components and schedule, or from
    /// the selected counts for `natural`; nil when the spec cannot say (hierarchical `by:`, `arbitrary`,
    /// continuations, unparsable spec).
    static func plannedWeights(_ h: ManifestHeader) -> ((Int) -> [Double])? {
        guard h.continuedFrom == nil, let spec = try? BuildSpec.parse(text: h.specText, path: h.specPath) else { return nil }
        let names = h.components.map(\.name)
        switch spec.mixture.kind {
        case .natural:
            let total = h.components.reduce(Int64(0)) { $0 + $1.selected }
            guard total > 0 else { return nil }
            let w = h.components.map { Double($0.selected) / Double(total) }
            return { _ in w }
        case .components(let cs):
            guard cs.map(\.name) == names else { return nil }
            var points: [(step: Int, w: [Double], linear: Bool)] = []
            if spec.schedule.first?.step != 0 { points.append((0, cs.map(\.weight), false)) }
            for e in spec.schedule {
                var w = [Double](repeating: 0, count: names.count)
                for (n, x) in e.weights {
                    guard let i = names.firstIndex(of: n) else { return nil }
                    w[i] = x
                }
                points.append((e.step, w, e.interpolateLinear))
            }
            return { step in
                var i = 0
                while i + 1 < points.count && points[i + 1].step <= step { i += 1 }
                var w = points[i].w
                if i + 1 < points.count, points[i + 1].linear {
                    let n = points[i + 1]
                    let t = Double(step - points[i].step) / Double(n.step - points[i].step)
                    w = zip(w, n.w).map { $0 * (1 - t) + $1 * t }
                }
                let s = w.reduce(0, +)
                return s > 0 ? w.map { $0 / s } : w
            }
        default:
            return nil
        }
    }

    public static func html(manifestPath: String, catalogPath: String?) throws -> String {
        let m = try ManifestDirectory(path: manifestPath)
        let stats = try catalogPath.map { try CatalogInspect.stats(catalogPath: $0) }
        return render(header: m.header, headerHash: m.headerHash, stats: stats)
    }

    /// Renders the page from a decoded header (and `catalog stats` JSON).
    public static func render(header h: ManifestHeader, headerHash: UInt64, stats: JSON?) -> String {
        let p = HTML()
        let title = "mixtera report: " + (h.specPath.isEmpty ? "manifest" : h.specPath)
        p.raw("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n")
        p.raw("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n")
        p.raw("<title>").text(title).raw("</title>\n<style>\n").raw(css).raw("</style>\n</head>\n<body>\n")
        p.raw("<h1>").text(title).raw("</h1>\n")
        let total = Int64(h.steps) * Int64(h.globalBatch)
        p.raw("<p class=\"sub\">")
            .text(
                "\(count(Int64(h.steps))) steps × global batch \(count(Int64(h.globalBatch))) over \(h.dataParallel) data-parallel ranks (\(h.samplesPerRank) per rank) = \(count(total)) samples; seed \(h.seed)"
            )
            .raw("</p>\n")

        let n = h.components.count
        let buckets = buckets(steps: h.steps)
        let counts = aggregate(h.mixtureLog, components: n, buckets: buckets)
        var totals = [Int64](repeating: 0, count: n)
        for b in counts { for c in 0..<n { totals[c] += b[c] } }
        let grand = totals.reduce(0, +)
        let planned = plannedWeights(h)

        // Mixture over steps.
        p.raw("<h2>Mixture over steps</h2>\n")
        if buckets.count < h.steps {
            p.raw("<p class=\"note\">").text(
                "\(count(Int64(h.steps))) steps aggregated into \(buckets.count) columns of about \(count(Int64(h.steps / buckets.count))) steps."
            ).raw("</p>\n")
        }
        mixtureChart(p, h: h, buckets: buckets, counts: counts, planned: planned)
        p.raw("<ul class=\"legend\">\n")
        for (i, c) in h.components.enumerated() {
            let share = grand > 0 ? Double(totals[i]) / Double(grand) : 0
            p.raw("<li><span class=\"sw\" style=\"background:\(colour(i))\"></span>").text(c.name).raw(" <span class=\"dim\">")
                .text(pct(share)).raw("</span></li>\n")
        }
        if planned != nil { p.raw("<li><span class=\"sw dash\"></span>planned weights (spec)</li>\n") }
        p.raw("</ul>\n")

        // Consumption.
        p.raw("<h2>Consumption per component</h2>\n")
        p.raw(
            "<p class=\"note\">Cumulative samples drawn, in epochs of each component's selection (1 = every selected sample once). "
        )
        .raw("Circles: a new epoch starts; squares: the selection is used up.</p>\n")
        let marks = markers(h)
        consumptionChart(p, h: h, buckets: buckets, counts: counts, marks: marks)
        p.raw(
            "<table>\n<thead><tr><th></th><th>component</th><th>filter</th><th>on_exhausted</th><th class=\"r\">selected</th><th class=\"r\">drawn</th><th class=\"r\">realized share</th>"
        )
        if planned != nil { p.raw("<th class=\"r\">planned share</th>") }
        p.raw("<th class=\"r\">epochs</th><th>events</th></tr></thead>\n<tbody>\n")
        var plannedAvg = [Double](repeating: 0, count: n)
        if let planned, h.steps > 0 {
            for b in buckets {
                let w = planned(b.lowerBound)
                for c in 0..<n { plannedAvg[c] += w[c] * Double(b.count) / Double(h.steps) }
            }
        }
        for (i, c) in h.components.enumerated() {
            p.raw("<tr><td><span class=\"sw\" style=\"background:\(colour(i))\"></span></td><td>").text(c.name).raw(
                "</td><td><code>"
            )
            .text(c.filter).raw("</code></td><td>").text(c.onExhausted).raw("</td><td class=\"r\">").text(count(c.selected))
            .raw("</td><td class=\"r\">").text(count(totals[i])).raw("</td><td class=\"r\">")
            .text(pct(grand > 0 ? Double(totals[i]) / Double(grand) : 0)).raw("</td>")
            if planned != nil { p.raw("<td class=\"r\">").text(pct(plannedAvg[i])).raw("</td>") }
            let epochs = c.selected > 0 ? (totals[i] + c.selected - 1) / c.selected : 0
            p.raw("<td class=\"r\">").text(String(epochs)).raw("</td><td>")
            let events = marks.filter { $0.component == i }
            p.text(events.prefix(6).map(\.label).joined(separator: "; ") + (events.count > 6 ? "; …" : ""))
            p.raw("</td></tr>\n")
        }
        p.raw("</tbody>\n</table>\n")

        // Topology and fingerprints.
        p.raw("<h2>Topology and fingerprints</h2>\n<table class=\"kv\">\n")
        let kv: [(String, String)] = [
            ("format version", h.formatVersion), ("tool version", h.toolVersion), ("spec", h.specPath), ("seed", String(h.seed)),
            ("steps", count(Int64(h.steps))), ("global batch", count(Int64(h.globalBatch))),
            ("data-parallel ranks", String(h.dataParallel)), ("samples per rank per step", String(h.samplesPerRank)),
            ("catalog fingerprint", h.catalogFingerprint), ("header.json XXH3-64", XXH3.hex(headerHash)),
            ("data files", count(Int64(h.files.count))),
            ("continued from", h.continuedFrom.map { $0.serialized() } ?? "—"),
        ]
        for (k, v) in kv { p.raw("<tr><th>").text(k).raw("</th><td><code>").text(v).raw("</code></td></tr>\n") }
        p.raw("</table>\n")
        p.raw(
            "<table>\n<thead><tr><th>dataset</th><th>root</th><th>format</th><th>text field</th><th class=\"r\">files</th></tr></thead>\n<tbody>\n"
        )
        for (i, d) in h.datasets.enumerated() {
            let nf = h.files.reduce(0) { $0 + ($1.dataset == i ? 1 : 0) }
            p.raw("<tr><td>").text(d.name).raw("</td><td><code>").text(d.root).raw("</code></td><td>").text(d.format)
                .raw("</td><td>").text(d.textField ?? "(whole record)").raw("</td><td class=\"r\">").text(count(Int64(nf))).raw(
                    "</td></tr>\n")
        }
        p.raw("</tbody>\n</table>\n")
        let fileLimit = 50
        p.raw("<details><summary>").text("file table (\(count(Int64(h.files.count))) files)").raw("</summary>\n<table>\n")
        p.raw(
            "<thead><tr><th>dataset</th><th>path</th><th>format</th><th class=\"r\">bytes</th><th class=\"r\">samples</th><th>fingerprint</th></tr></thead>\n<tbody>\n"
        )
        for f in h.files.prefix(fileLimit) {
            let fmt = f.compression == "none" ? f.format : f.format + "+" + f.compression
            p.raw("<tr><td>").text(h.datasets[f.dataset].name).raw("</td><td><code>").text(f.path).raw("</code></td><td>").text(
                fmt
            )
            .raw("</td><td class=\"r\">").text(count(f.byteCount)).raw("</td><td class=\"r\">").text(count(f.sampleCount))
            .raw("</td><td><code>").text(f.fingerprint).raw("</code></td></tr>\n")
        }
        if h.files.count > fileLimit {
            p.raw("<tr><td colspan=\"6\" class=\"dim\">").text("… \(count(Int64(h.files.count - fileLimit))) more files").raw(
                "</td></tr>\n")
        }
        p.raw("</tbody>\n</table>\n</details>\n")

        // Catalog coverage.
        if let stats { coverage(p, h: h, stats: stats) }

        p.raw("<h2>Spec</h2>\n<pre>").text(h.specText).raw("</pre>\n")
        p.raw("<footer>").text("generated by mixtera \(h.toolVersion.isEmpty ? "" : h.toolVersion) from header.json").raw(
            "</footer>\n")
        p.raw("</body>\n</html>\n")
        return p.out
    }

    // MARK: charts

    static let chartWidth = 1100.0
    static let plotLeft = 70.0
    static let plotTop = 12.0
    static let plotWidth = 1000.0

    static func xOf(_ step: Int, steps: Int) -> Double { plotLeft + plotWidth * Double(step) / Double(Swift.max(1, steps)) }

    static func xAxis(_ p: HTML, steps: Int, bottom: Double) {
        p.raw(
            "<line class=\"axis\" x1=\"\(f2(plotLeft))\" y1=\"\(f2(bottom))\" x2=\"\(f2(plotLeft + plotWidth))\" y2=\"\(f2(bottom))\"/>\n"
        )
        for t in ticks(max: steps) {
            let x = xOf(t, steps: steps)
            p.raw("<line class=\"axis\" x1=\"\(f2(x))\" y1=\"\(f2(bottom))\" x2=\"\(f2(x))\" y2=\"\(f2(bottom + 5))\"/>")
            p.raw("<text x=\"\(f2(x))\" y=\"\(f2(bottom + 18))\" text-anchor=\"middle\">").text(count(Int64(t))).raw("</text>\n")
        }
        p.raw(
            "<text class=\"label\" x=\"\(f2(plotLeft + plotWidth / 2))\" y=\"\(f2(bottom + 38))\" text-anchor=\"middle\">training step</text>\n"
        )
    }

    static func yLabel(_ p: HTML, _ text: String, top: Double, height: Double) {
        let y = top + height / 2
        p.raw("<text class=\"label\" x=\"16\" y=\"\(f2(y))\" text-anchor=\"middle\" transform=\"rotate(-90 16 \(f2(y)))\">").text(
            text
        ).raw("</text>\n")
    }

    static func mixtureChart(
        _ p: HTML, h: ManifestHeader, buckets: [Range<Int>], counts: [[Int64]], planned: ((Int) -> [Double])?
    ) {
        let height = 300.0
        let bottom = plotTop + height
        p.raw(
            "<svg class=\"chart\" id=\"mixture\" xmlns=\"http://www.w3.org/2000/svg\" width=\"\(f2(chartWidth))\" height=\"\(f2(bottom + 46))\" viewBox=\"0 0 \(f2(chartWidth)) \(f2(bottom + 46))\" role=\"img\" aria-label=\"realized mixture over steps\">\n"
        )
        p.raw(
            "<rect x=\"\(f2(plotLeft))\" y=\"\(f2(plotTop))\" width=\"\(f2(plotWidth))\" height=\"\(f2(height))\" fill=\"#ffffff\" stroke=\"none\"/>\n"
        )
        let n = h.components.count
        let shares: [[Double]] = counts.map { b in
            let t = b.reduce(0, +)
            return b.map { t > 0 ? Double($0) / Double(t) : 0 }
        }
        func y(_ s: Double) -> Double { plotTop + height * (1 - s) }
        var lower = buckets.map { _ in 0.0 }
        for c in 0..<n {
            let upper = zip(lower, shares).map { $0 + $1[c] }
            if shares.contains(where: { $0[c] > 0 }) {
                var pts: [String] = []
                for (k, b) in buckets.enumerated() {
                    pts.append("\(f2(xOf(b.lowerBound, steps: h.steps))),\(f2(y(upper[k])))")
                    pts.append("\(f2(xOf(b.upperBound, steps: h.steps))),\(f2(y(upper[k])))")
                }
                for (k, b) in buckets.enumerated().reversed() {
                    pts.append("\(f2(xOf(b.upperBound, steps: h.steps))),\(f2(y(lower[k])))")
                    pts.append("\(f2(xOf(b.lowerBound, steps: h.steps))),\(f2(y(lower[k])))")
                }
                p.raw("<polygon class=\"area\" fill=\"\(colour(c))\" points=\"\(pts.joined(separator: " "))\"><title>")
                    .text(h.components[c].name).raw("</title></polygon>\n")
            }
            lower = upper
        }
        if let planned, n > 1 {
            var cum = buckets.map { _ in 0.0 }
            let weights = buckets.map { planned($0.lowerBound) }
            for c in 0..<(n - 1) {
                cum = zip(cum, weights).map { $0 + $1[c] }
                var pts: [String] = []
                for (k, b) in buckets.enumerated() {
                    pts.append("\(f2(xOf(b.lowerBound, steps: h.steps))),\(f2(y(cum[k])))")
                    pts.append("\(f2(xOf(b.upperBound, steps: h.steps))),\(f2(y(cum[k])))")
                }
                p.raw("<polyline class=\"planned\" points=\"\(pts.joined(separator: " "))\"/>\n")
            }
        }
        for t in [0.0, 0.25, 0.5, 0.75, 1.0] {
            p.raw(
                "<line class=\"axis\" x1=\"\(f2(plotLeft - 5))\" y1=\"\(f2(y(t)))\" x2=\"\(f2(plotLeft))\" y2=\"\(f2(y(t)))\"/>")
            p.raw("<text x=\"\(f2(plotLeft - 8))\" y=\"\(f2(y(t) + 4))\" text-anchor=\"end\">\(Int(t * 100))%</text>\n")
        }
        p.raw("<line class=\"axis\" x1=\"\(f2(plotLeft))\" y1=\"\(f2(plotTop))\" x2=\"\(f2(plotLeft))\" y2=\"\(f2(bottom))\"/>\n")
        xAxis(p, steps: h.steps, bottom: bottom)
        yLabel(p, "share of global batch", top: plotTop, height: height)
        p.raw("</svg>\n")
    }

    struct Marker {
        var component: Int
        var step: Int
        var epochs: Int64  // level on the y axis (epochs completed)
        var exhausted: Bool
        var label: String
        /// More epochs than markers: the chart leaves this component's markers out.
        var dense = false
    }

    /// Epoch starts (cumulative draws exceed k × selected) and, for components that do not repeat, the
    /// step that draws the last selected sample. At most `perComponent` markers per component.
    static func markers(_ h: ManifestHeader, perComponent: Int = 24) -> [Marker] {
        var out: [Marker] = []
        for (c, comp) in h.components.enumerated() where comp.selected > 0 {
            let s = comp.selected
            var cum: Int64 = 0
            var made = 0
            var nextLevel: Int64 = 1
            loop: for e in h.mixtureLog {
                let k = c < e.counts.count ? Int64(e.counts[c]) : 0
                guard k > 0 else { continue }
                let len = Int64(e.toStep - e.fromStep + 1)
                let after = cum + k * len
                while nextLevel * s <= after {
                    let target = nextLevel * s
                    // First step (within this run) whose cumulative count reaches `target`.
                    let step = e.fromStep + Int((target - cum + k - 1) / k) - 1
                    let reachedExactly = cum + k * Int64(step - e.fromStep + 1) == target
                    if comp.onExhausted == "repeat" {
                        // Epoch nextLevel + 1 starts with the sample after `target`: the same step unless it ended exactly.
                        let start = reachedExactly ? step + 1 : step
                        if start < h.steps {
                            out.append(
                                Marker(
                                    component: c, step: start, epochs: nextLevel, exhausted: false,
                                    label: "epoch \(nextLevel + 1) starts at step \(count(Int64(start)))"))
                            made += 1
                        }
                    } else {
                        out.append(
                            Marker(
                                component: c, step: step, epochs: nextLevel, exhausted: true,
                                label: "selection used up at step \(count(Int64(step)))"))
                        made += 1
                    }
                    nextLevel += 1
                    if made >= perComponent {
                        for i in out.indices where out[i].component == c { out[i].dense = true }
                        break loop
                    }
                }
                cum = after
            }
        }
        return out
    }

    static func consumptionChart(_ p: HTML, h: ManifestHeader, buckets: [Range<Int>], counts: [[Int64]], marks: [Marker]) {
        let height = 220.0
        let bottom = plotTop + height
        let n = h.components.count
        var cums: [[Double]] = []
        var maxLevel = 1.0
        for c in 0..<n {
            let s = h.components[c].selected
            var cum: Int64 = 0
            var line: [Double] = [0]
            for b in counts {
                cum += b[c]
                line.append(s > 0 ? Double(cum) / Double(s) : 0)
            }
            maxLevel = Swift.max(maxLevel, line.last ?? 0)
            cums.append(line)
        }
        let (top, tickStep) = levelScale(maxLevel)
        func y(_ v: Double) -> Double { plotTop + height * (1 - v / top) }
        p.raw(
            "<svg class=\"chart\" id=\"consumption\" xmlns=\"http://www.w3.org/2000/svg\" width=\"\(f2(chartWidth))\" height=\"\(f2(bottom + 46))\" viewBox=\"0 0 \(f2(chartWidth)) \(f2(bottom + 46))\" role=\"img\" aria-label=\"cumulative consumption per component\">\n"
        )
        for t in levelTicks(top, step: tickStep) {
            p.raw(
                "<line class=\"grid\" x1=\"\(f2(plotLeft))\" y1=\"\(f2(y(t)))\" x2=\"\(f2(plotLeft + plotWidth))\" y2=\"\(f2(y(t)))\"/>"
            )
            p.raw(
                "<text x=\"\(f2(plotLeft - 8))\" y=\"\(f2(y(t) + 4))\" text-anchor=\"end\">\(t >= 1000 ? count(Int64(t)) : num(t))</text>\n"
            )
        }
        for c in 0..<n where h.components[c].selected > 0 {
            var pts = ["\(f2(xOf(0, steps: h.steps))),\(f2(y(0)))"]
            for (k, b) in buckets.enumerated() { pts.append("\(f2(xOf(b.upperBound, steps: h.steps))),\(f2(y(cums[c][k + 1])))") }
            p.raw("<polyline class=\"cum\" stroke=\"\(colour(c))\" points=\"\(pts.joined(separator: " "))\"><title>").text(
                h.components[c].name
            )
            .raw("</title></polyline>\n")
        }
        for mk in marks where !marks.contains(where: { $0.component == mk.component && $0.dense }) {
            let x = xOf(mk.step, steps: h.steps)
            let yy = y(Double(mk.epochs))
            if mk.exhausted {
                p.raw(
                    "<rect class=\"mark\" x=\"\(f2(x - 4))\" y=\"\(f2(yy - 4))\" width=\"8\" height=\"8\" fill=\"\(colour(mk.component))\">"
                )
            } else {
                p.raw("<circle class=\"mark\" cx=\"\(f2(x))\" cy=\"\(f2(yy))\" r=\"4\" fill=\"\(colour(mk.component))\">")
            }
            p.raw("<title>").text(h.components[mk.component].name + ": " + mk.label).raw(
                mk.exhausted ? "</title></rect>\n" : "</title></circle>\n")
        }
        p.raw("<line class=\"axis\" x1=\"\(f2(plotLeft))\" y1=\"\(f2(plotTop))\" x2=\"\(f2(plotLeft))\" y2=\"\(f2(bottom))\"/>\n")
        xAxis(p, steps: h.steps, bottom: bottom)
        yLabel(p, "epochs drawn", top: plotTop, height: height)
        p.raw("</svg>\n")
    }

    static func coverage(_ p: HTML, h: ManifestHeader, stats: JSON) {
        p.raw("<h2>Catalog coverage</h2>\n")
        let fp = stats["fingerprint"]?.stringValue ?? ""
        let selected = h.components.reduce(Int64(0)) { $0 + $1.selected }
        let datasets = stats["datasets"]?.arrayValue ?? []
        let samples = datasets.reduce(Int64(0)) { $0 + ($1["samples"]?.intValue ?? 0) }
        p.raw("<p>").text("catalog fingerprint \(fp) — ")
        p.raw(
            fp == h.catalogFingerprint
                ? "<span class=\"ok\">matches the manifest</span>" : "<span class=\"bad\">differs from the manifest's</span>")
        p.text(
            "; the components select \(count(selected)) of \(count(samples)) catalog samples (\(pct(samples > 0 ? Double(selected) / Double(samples) : 0)))."
        )
        p.raw("</p>\n")
        p.raw(
            "<table>\n<thead><tr><th>dataset</th><th>format</th><th class=\"r\">files</th><th class=\"r\">files in manifest</th><th class=\"r\">samples</th><th class=\"r\">bytes</th><th class=\"r\">tokens</th></tr></thead>\n<tbody>\n"
        )
        for d in datasets {
            let name = d["name"]?.stringValue ?? ""
            let di = h.datasets.firstIndex { $0.name == name }
            let inManifest = di.map { i in h.files.reduce(0) { $0 + ($1.dataset == i ? 1 : 0) } } ?? 0
            p.raw("<tr><td>").text(name).raw("</td><td>").text(d["format"]?.stringValue ?? "").raw("</td><td class=\"r\">")
                .text(count(d["files"]?.intValue ?? 0)).raw("</td><td class=\"r\">").text(count(Int64(inManifest)))
                .raw("</td><td class=\"r\">").text(count(d["samples"]?.intValue ?? 0)).raw("</td><td class=\"r\">")
                .text(count(d["bytes"]?.intValue ?? 0)).raw("</td><td class=\"r\">").text(d["tokens"]?.intValue.map(count) ?? "—")
                .raw("</td></tr>\n")
        }
        p.raw("</tbody>\n</table>\n")
        for d in datasets {
            let name = d["name"]?.stringValue ?? ""
            let dsSamples = d["samples"]?.intValue ?? 0
            p.raw("<h3>").text("dataset \(name): properties").raw("</h3>\n<div class=\"props\">\n")
            for prop in d["properties"]?.arrayValue ?? [] {
                let pname = prop["name"]?.stringValue ?? ""
                let type = prop["type"]?.stringValue ?? ""
                p.raw("<div class=\"prop\"><h4>").text(pname).raw(" <span class=\"dim\">").text(type).raw("</span></h4>\n")
                if let values = prop["values"]?.arrayValue {
                    p.raw("<table class=\"bars\">\n")
                    let limit = 10
                    for v in values.prefix(limit) {
                        let c = v["count"]?.intValue ?? 0
                        let share = dsSamples > 0 ? Double(c) / Double(dsSamples) : 0
                        let label = v["value"].map { $0.stringValue ?? $0.serialized() } ?? "null"
                        p.raw("<tr><td>").text(label).raw("</td><td class=\"r\">").text(count(c)).raw(
                            "</td><td class=\"barcell\"><span class=\"bar\" style=\"width:\(f2(Swift.min(1, share) * 100))%\"></span></td></tr>\n"
                        )
                    }
                    if values.count > limit {
                        p.raw("<tr><td colspan=\"3\" class=\"dim\">").text("… \(values.count - limit) more values").raw(
                            "</td></tr>\n")
                    }
                    p.raw("</table>\n")
                } else {
                    let f: (String) -> String = { k in prop[k].map { $0 == .null ? "—" : $0.serialized() } ?? "—" }
                    p.raw("<p>").text("min \(f("min")) · max \(f("max")) · mean \(f("mean")) · nulls \(f("nulls"))").raw("</p>\n")
                }
                p.raw("</div>\n")
            }
            p.raw("</div>\n")
        }
    }

    // MARK: formatting (locale-free, deterministic)

    /// Fixed-point with at most two decimals, no trailing zeros.
    static func f2(_ x: Double) -> String {
        let v = Int64((x * 100).rounded())
        let neg = v < 0
        let a = neg ? -v : v
        var s = String(a / 100)
        let frac = a % 100
        if frac != 0 { s += frac % 10 == 0 ? "." + String(frac / 10) : (frac < 10 ? ".0" : ".") + String(frac) }
        return (neg ? "-" : "") + s
    }

    static func pct(_ x: Double) -> String { f1(x * 100) + "%" }

    static func f1(_ x: Double) -> String {
        let v = Int64((x * 10).rounded())
        return (v < 0 ? "-" : "") + String(abs(v) / 10) + "." + String(abs(v) % 10)
    }

    static func num(_ x: Double) -> String { x == x.rounded() ? String(Int64(x)) : f2(x) }

    static func count(_ n: Int64) -> String {
        let s = String(n.magnitude)
        var out = ""
        for (i, c) in s.enumerated() {
            if i > 0 && (s.count - i) % 3 == 0 { out.append(",") }
            out.append(c)
        }
        return (n < 0 ? "-" : "") + out
    }

    /// Round tick values from 0 to `max` (about six of them).
    static func ticks(max: Int) -> [Int] {
        guard max > 0 else { return [0] }
        var step = 1
        while max / step > 8 {
            let s = String(step)
            step = s.hasPrefix("1") ? step * 2 : s.hasPrefix("2") ? step / 2 * 5 : step * 2
        }
        return Array(stride(from: 0, through: max, by: step))
    }

    /// The y range of the consumption chart: a tick step from 0.25, 0.5, 1, 2, 5, 10, 20, 50, … giving at most
    /// eight ticks, and the top as the first tick at or above `x`.
    static func levelScale(_ x: Double) -> (top: Double, step: Double) {
        var candidates = [0.25, 0.5]
        var m = 1.0
        for _ in 0..<18 {
            candidates += [m, 2 * m, 5 * m]
            m *= 10
        }
        let step = candidates.first { Swift.max(1, x) / $0 <= 8 } ?? candidates.last!
        return ((Swift.max(1, x) / step).rounded(.up) * step, step)
    }

    static func levelTicks(_ top: Double, step: Double) -> [Double] {
        (0...Int((top / step).rounded())).map { Double($0) * step }
    }

    static let css = """
        body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;color:#222;background:#fff;margin:16px 24px;max-width:1120px}
        h1{font-size:20px;margin:0 0 2px}
        h2{font-size:16px;margin:18px 0 6px;border-bottom:1px solid #ddd;padding-bottom:2px}
        h3{font-size:14px;margin:12px 0 4px}
        h4{font-size:13px;margin:0 0 4px}
        .sub{margin:0 0 6px;color:#555}
        .note,.dim{color:#777;font-size:12px}
        .note{margin:2px 0 4px}
        svg.chart{display:block;font-size:11px;fill:#333}
        svg .area{shape-rendering:crispEdges;stroke:none}
        svg .axis{stroke:#444;stroke-width:1;shape-rendering:crispEdges}
        svg .grid{stroke:#e3e3e3;stroke-width:1;shape-rendering:crispEdges}
        svg .label{font-size:12px;fill:#444}
        svg .planned{fill:none;stroke:#222;stroke-width:1.5;stroke-dasharray:5 4}
        svg .cum{fill:none;stroke-width:2}
        svg .mark{stroke:#222;stroke-width:1}
        ul.legend{list-style:none;padding:0;margin:0 0 4px 70px;display:flex;flex-wrap:wrap;gap:4px 18px}
        .sw{display:inline-block;width:12px;height:12px;margin-right:5px;vertical-align:-1px;border-radius:2px}
        .sw.dash{border-top:2px dashed #222;height:0;border-radius:0;vertical-align:3px}
        table{border-collapse:collapse;margin:4px 0 8px;font-size:13px}
        th,td{text-align:left;padding:2px 10px 2px 0;vertical-align:top}
        thead th{border-bottom:1px solid #ccc;font-weight:600}
        .r{text-align:right}
        table.kv th{font-weight:600;padding-right:16px}
        code,pre{font-family:ui-monospace,"DejaVu Sans Mono",monospace;font-size:12px}
        pre{background:#f6f6f6;border:1px solid #e3e3e3;padding:8px;overflow-x:auto}
        .props{display:flex;flex-wrap:wrap;gap:8px 28px}
        .prop{min-width:240px}
        table.bars td{padding:1px 8px 1px 0}
        .barcell{width:120px}
        .bar{display:inline-block;height:9px;background:#9aa3ad}
        .ok{color:#2a7a2a}.bad{color:#b22}
        footer{margin-top:20px;color:#999;font-size:11px}

        """
}

/// Plain string building for HTML with escaping.
final class HTML {
    var out = ""

    @discardableResult func raw(_ s: String) -> HTML {
        out += s
        return self
    }

    @discardableResult func text(_ s: String) -> HTML {
        out += HTML.escape(s)
        return self
    }

    static func escape(_ s: String) -> String {
        var r = ""
        r.reserveCapacity(s.utf8.count)
        for ch in s.unicodeScalars {
            switch ch {
            case "&": r += "&amp;"
            case "<": r += "&lt;"
            case ">": r += "&gt;"
            case "\"": r += "&quot;"
            case "'": r += "&#39;"
            default: r.unicodeScalars.append(ch)
            }
        }
        return r
    }
}

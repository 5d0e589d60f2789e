import MixteraCore
import MixteraManifest
import MixteraPlanner
import MixteraSpec

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// How `mixtera reweight` turns training feedback into new weights (docs/offline-mixing.md).
public enum ReweightMethod: String, Sendable, CaseIterable {
    case ado
    case lossProportional = "loss-proportional"

    /// Parameters and defaults, in documentation order.
    public var parameters: [(name: String, value: Double)] {
        switch self {
        case .ado:
            return [("gamma1", 0.1), ("gamma2", 0.5), ("s", 0.5), ("delta_min", 0.01), ("warmup", 0), ("tokens", 0)]
        case .lossProportional:
            return [("window", 100), ("temperature", 1), ("min_prob", 0.01)]
        }
    }
}

/// One line of the feedback file: what training logged for one component at one step.
public struct FeedbackRecord: Sendable, Equatable {
    public var step: Int
    public var component: Int
    /// Mean loss over the component's samples of that step.
    public var loss: Double
    public var samples: Int64?
    public var tokens: Int64?
}

/// The outcome of `mixtera reweight`.
public struct ReweightResult: Sendable {
    public var method: ReweightMethod
    public var atStep: Int
    public var parameters: [(name: String, value: Double)]
    public var components: [String]
    /// Weights in effect at step `atStep − 1` (the previous policy).
    public var previous: [Double]
    /// New weights: 6 decimals, summing to exactly 1.
    public var weights: [Double]
    /// Per component, the method's intermediate values (fits, credits, mean losses), for `--json` and tables.
    public var details: [[(String, Double)]]
    /// The new build spec.
    public var specText: String
    public var feedbackRecords: Int
}

/// `mixtera reweight`: per-component training feedback → new mixture weights → a build spec for
/// `build-manifest --continue-from`.
public enum Reweight {
    static func fail(_ kind: String, _ message: String, _ path: String, line: Int? = nil, usage: Bool = false) -> PlanError {
        PlanError(kind, message, at: DataLocation(path: path, line: line), category: usage ? .usage : .data)
    }

    public static func run(
        manifestPath: String, feedbackPath: String, atStep s: Int, method: ReweightMethod, parameters given: [(String, Double)]
    ) throws -> ReweightResult {
        // Parameters: known names only, defaults for the rest, in documentation order.
        var params = method.parameters
        for (k, v) in given {
            guard let i = params.firstIndex(where: { $0.name == k }) else {
                throw PlanError(
                    "unknown-parameter",
                    "method \(method.rawValue) has no parameter \"\(k)\" (known: \(params.map(\.name).joined(separator: ", ")))",
                    at: nil, category: .usage)
            }
            guard v.isFinite else {
                throw PlanError("invalid-parameter", "parameter \(k) must be a finite number", at: nil, category: .usage)
            }
            params[i].value = v
        }
        let p = Dictionary(uniqueKeysWithValues: params.map { ($0.name, $0.value) })
        let manifest = try ManifestDirectory(path: manifestPath)
        let header = manifest.header
        let spec = try BuildSpec.parse(text: header.specText, path: manifestPath + "/header.json")
        guard s >= 1 && s <= header.steps else {
            throw fail(
                "step-out-of-range",
                "--at-step \(s) is outside 1...\(header.steps) (the manifest's steps; feedback from steps < S is used)",
                manifestPath, usage: true)
        }
        let (names, base) = try componentWeights(spec, manifestPath: manifestPath)
        let previous = weights(of: spec, names: names, base: base, at: s - 1)
        // Per step < S and component name: the samples the manifest planned (for counts feedback lacks).
        let n = names.count
        var planned = [[Int64]](repeating: [Int64](repeating: 0, count: n), count: s)
        let nameIndex = Dictionary(names.enumerated().map { ($1, $0) }, uniquingKeysWith: { a, _ in a })
        let componentMap: [Int?] = header.components.map { nameIndex[$0.name] }
        for e in header.mixtureLog where e.fromStep < s {
            for step in e.fromStep...min(e.toStep, s - 1) {
                for (c, count) in e.counts.enumerated() where count > 0 {
                    if let k = componentMap[c] { planned[step][k] += Int64(count) }
                }
            }
        }
        let (records, feedbackHash) = try readFeedback(feedbackPath, components: nameIndex, before: s)
        // Per component, its records in step order.
        var byComponent = [[FeedbackRecord]](repeating: [], count: n)
        for r in records { byComponent[r.component].append(r) }
        for k in 0..<n where byComponent[k].isEmpty {
            throw fail(
                "missing-feedback",
                "no feedback for component \"\(names[k])\" before step \(s); reweighting needs a loss for every component",
                feedbackPath)
        }
        var raw: [Double]
        var details: [[(String, Double)]] = Array(repeating: [], count: n)
        var minProb: Double
        switch method {
        case .lossProportional:
            let window = Int(p["window"]!)
            let temperature = p["temperature"]!
            minProb = p["min_prob"]!
            guard window >= 1, temperature > 0 else {
                throw PlanError("invalid-parameter", "window must be ≥ 1 and temperature > 0", at: nil, category: .usage)
            }
            raw = []
            for k in 0..<n {
                var sum = 0.0
                var weight = 0.0
                for r in byComponent[k] where r.step >= s - window {
                    let w = Double(r.samples ?? planned[r.step][k])
                    let ww = w > 0 ? w : 1
                    sum += r.loss * ww
                    weight += ww
                }
                guard weight > 0 else {
                    throw fail(
                        "missing-feedback",
                        "no feedback for component \"\(names[k])\" in steps \(max(0, s - window))...\(s - 1) (window \(window))",
                        feedbackPath)
                }
                let mean = sum / weight
                details[k] = [("mean_loss", mean)]
                raw.append(pow(mean, 1 / temperature))
            }
        case .ado:
            let gamma1 = p["gamma1"]!
            let gamma2 = p["gamma2"]!
            let sExp = p["s"]!
            minProb = p["delta_min"]!
            let warmup = Int(p["warmup"]!)
            let useTokens = p["tokens"]! != 0
            guard (0...1).contains(gamma1), (0...1).contains(gamma2), sExp >= 0 else {
                throw PlanError("invalid-parameter", "gamma1 and gamma2 must be in [0, 1] and s ≥ 0", at: nil, category: .usage)
            }
            // Credit h_k: exponential moving average (factor gamma1) of the realized per-step shares.
            var h = [Double](repeating: 0, count: n)
            for step in 0..<s {
                let total = planned[step].reduce(0, +)
                guard total > 0 else { continue }
                for k in 0..<n {
                    let share = Double(planned[step][k]) / Double(total)
                    h[k] = step == 0 ? share : gamma1 * share + (1 - gamma1) * h[k]
                }
            }
            var rho = [Double](repeating: 0, count: n)
            for k in 0..<n {
                // Points (n, L): n = the component's cumulative samples (tokens) through the step.
                var xs: [Double] = []
                var ys: [Double] = []
                var cumulative = 0.0
                var next = 0
                let recs = byComponent[k]
                for step in 0..<s {
                    var seen: Int64 = planned[step][k]
                    let rec: FeedbackRecord? = next < recs.count && recs[next].step == step ? recs[next] : nil
                    if let rec {
                        next += 1
                        if useTokens {
                            guard let t = rec.tokens else {
                                throw fail(
                                    "missing-tokens",
                                    "feedback for \"\(names[k])\" at step \(step) has no \"tokens\" (needed with --param tokens=1)",
                                    feedbackPath)
                            }
                            seen = t
                        } else if let c = rec.samples {
                            seen = c
                        }
                    } else if useTokens {
                        seen = 0  // unknown without a record; the next record's cumulative count carries on
                    }
                    cumulative += Double(seen)
                    if let rec, step >= warmup, cumulative > 0 {
                        xs.append(cumulative)
                        ys.append(rec.loss)
                    }
                }
                guard xs.count >= 3 else {
                    throw fail(
                        "missing-feedback",
                        "component \"\(names[k])\" has \(xs.count) usable loss records before step \(s) (after warmup \(warmup)); ADO needs at least 3",
                        feedbackPath)
                }
                let fit = PowerLawFit.fit(n: xs, loss: ys)
                let nk = cumulative
                let predicted = fit.epsilon + fit.beta * pow(nk, -fit.alpha)
                let slope = fit.alpha * (predicted - fit.epsilon) / nk  // −dL/dn ≥ 0
                let credit = pow(h[k], sExp)
                rho[k] = max(0, base[k] * credit * slope)
                details[k] = [
                    ("epsilon", fit.epsilon), ("beta", fit.beta), ("alpha", fit.alpha), ("n", nk), ("loss_fit", predicted),
                    ("minus_dl_dn", slope), ("credit", h[k]), ("prior", base[k]),
                ]
            }
            let total = rho.reduce(0, +)
            rho = total > 0 ? rho.map { $0 / total } : base
            for k in 0..<n { details[k].append(("rho", rho[k])) }
            raw = (0..<n).map { gamma2 * rho[$0] + (1 - gamma2) * previous[$0] }
        }
        guard minProb >= 0, minProb * Double(n) <= 1 else {
            throw PlanError(
                "invalid-parameter", "the minimum probability \(minProb) × \(n) components exceeds 1", at: nil, category: .usage)
        }
        let floored = applyMinimum(raw, minProb)
        let weights = roundToMillionths(floored)
        let specText = try rewrite(
            spec: spec, names: names, weights: weights, at: s,
            comment: "mixtera reweight --method \(method.rawValue) at step \(s): "
                + params.map { "\($0.name)=\(format($0.value))" }.joined(separator: " ")
                + "; feedback \(PathUtil.baseName(feedbackPath)) (xxh3 \(XXH3.hex(feedbackHash))), manifest header xxh3 \(XXH3.hex(manifest.headerHash))",
            manifestPath: manifestPath)
        return ReweightResult(
            method: method, atStep: s, parameters: params, components: names, previous: previous, weights: weights,
            details: details,
            specText: specText, feedbackRecords: records.count)
    }

    // MARK: Weights of the spec

    /// Component names and base weights (normalized) of a components or by mixture, in planner order.
    static func componentWeights(_ spec: BuildSpec, manifestPath: String) throws -> ([String], [Double]) {
        switch spec.mixture.kind {
        case .components(let cs):
            let sum = cs.reduce(0) { $0 + $1.weight }
            return (cs.map(\.name), cs.map { sum > 0 ? $0.weight / sum : 0 })
        case .by(let node):
            var names: [String] = []
            var ws: [Double] = []
            func walk(_ node: ByNode, _ prefix: String, _ w: Double) {
                let sum = node.branches.reduce(0) { $0 + $1.weight }
                for b in node.branches {
                    let name = prefix.isEmpty ? b.value : prefix + "/" + b.value
                    let x = sum > 0 ? w * b.weight / sum : 0
                    if let c = b.child {
                        walk(c, name, x)
                    } else {
                        names.append(name)
                        ws.append(x)
                    }
                }
            }
            walk(node, "", 1)
            return (names, ws)
        case .natural, .arbitrary:
            throw fail(
                "unsupported-mixture",
                "reweight needs a mixture of `components` or `by`; natural and arbitrary mixtures have no weights to change",
                manifestPath, usage: true)
        }
    }

    /// The weights in effect at `step` under the spec's schedule (docs/planner.md §Schedule), normalized.
    static func weights(of spec: BuildSpec, names: [String], base: [Double], at step: Int) -> [Double] {
        func entry(_ e: ScheduleEntry) -> [Double] {
            var w = [Double](repeating: 0, count: names.count)
            for (name, x) in e.weights { if let i = names.firstIndex(of: name) { w[i] = x } }
            return w
        }
        var points: [(step: Int, w: [Double], linear: Bool)] = []
        if spec.schedule.first?.step != 0 { points.append((0, base, false)) }
        for e in spec.schedule { points.append((e.step, entry(e), e.interpolateLinear)) }
        var i = 0
        while i + 1 < points.count && points[i + 1].step <= step { i += 1 }
        var w = points[i].w
        if i + 1 < points.count, points[i + 1].linear {
            let a = Double(points[i + 1].step - step)
            let b = Double(step - points[i].step)
            w = zip(points[i].w, points[i + 1].w).map { ($0 * a + $1 * b) / (a + b) }
        }
        let sum = w.reduce(0, +)
        return sum > 0 ? w.map { $0 / sum } : w
    }

    // MARK: Feedback

    /// Reads the JSONL feedback (docs/offline-mixing.md): records of steps < `before`, sorted by (step, component).
    static func readFeedback(_ path: String, components: [String: Int], before s: Int) throws -> ([FeedbackRecord], UInt64) {
        guard let st = try FileSystem.stat(path), st.isRegular else {
            throw PlanError("missing", "feedback file does not exist", at: DataLocation(path: path), category: .noInput)
        }
        let bytes = try FileSystem.readAll(path)
        var out: [FeedbackRecord] = []
        var seen = Set<Int>()
        var line = 0
        var start = 0
        let known = components.keys.sorted().joined(separator: ", ")
        while start < bytes.count {
            var end = start
            while end < bytes.count && bytes[end] != 0x0A { end += 1 }
            line += 1
            var slice = Array(bytes[start..<end])
            start = end + 1
            if slice.last == 0x0D { slice.removeLast() }
            if slice.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) { continue }
            let json: JSON
            do { json = try JSON.parse(slice) } catch {
                throw fail("invalid-feedback", "invalid JSON: \(error.message)", path, line: line)
            }
            guard case .object = json else { throw fail("invalid-feedback", "each line must be a JSON object", path, line: line) }
            guard let step = json["step"]?.intValue, step >= 0 else {
                throw fail("invalid-feedback", "\"step\" must be a non-negative integer", path, line: line)
            }
            guard let name = json["component"]?.stringValue else {
                throw fail("invalid-feedback", "\"component\" must be a string", path, line: line)
            }
            guard let loss = json["loss"]?.doubleValue, loss.isFinite, loss > 0 else {
                throw fail("invalid-feedback", "\"loss\" must be a positive number", path, line: line)
            }
            func count(_ key: String) throws -> Int64? {
                guard let v = json[key], v != .null else { return nil }
                guard let i = v.intValue, i >= 0 else {
                    throw fail("invalid-feedback", "\"\(key)\" must be a non-negative integer", path, line: line)
                }
                return i
            }
            let samples = try count("samples")
            let tokens = try count("tokens")
            guard let k = components[name] else {
                throw fail("unknown-component", "unknown component \"\(name)\" (components: \(known))", path, line: line)
            }
            guard step < s else { continue }
            guard seen.insert(Int(step) * components.count + k).inserted else {
                throw fail("invalid-feedback", "a second record for component \"\(name)\" at step \(step)", path, line: line)
            }
            out.append(FeedbackRecord(step: Int(step), component: k, loss: loss, samples: samples, tokens: tokens))
        }
        out.sort { ($0.step, $0.component) < ($1.step, $1.component) }
        return (out, XXH3.hash(bytes))
    }

    // MARK: Normalization

    /// Raises every weight below `m` to `m` and scales the others down to keep the sum 1 (repeated until stable).
    static func applyMinimum(_ raw: [Double], _ m: Double) -> [Double] {
        let total = raw.reduce(0, +)
        var w = total > 0 ? raw.map { $0 / total } : raw.map { _ in 1 / Double(raw.count) }
        guard m > 0 else { return w }
        var fixed = [Bool](repeating: false, count: w.count)
        while true {
            let free = w.indices.filter { !fixed[$0] }
            let mass = 1 - Double(w.count - free.count) * m
            let freeSum = free.reduce(0) { $0 + raw[$1] }
            for i in free { w[i] = freeSum > 0 ? raw[i] / freeSum * mass : mass / Double(free.count) }
            for i in w.indices where fixed[i] { w[i] = m }
            let low = free.filter { w[$0] < m }
            if low.isEmpty { return w }
            for i in low { fixed[i] = true }
        }
    }

    /// Weights as integer millionths summing to 10^6 (largest remainder, ties to the lower index), as doubles.
    public static func roundToMillionths(_ w: [Double]) -> [Double] {
        let total = w.reduce(0, +)
        let scaled = w.map { total > 0 ? $0 / total * 1e6 : 1e6 / Double(w.count) }
        var units = scaled.map { Int($0.rounded(.down)) }
        var left = 1_000_000 - units.reduce(0, +)
        let order = w.indices.sorted { a, b in
            let ra = scaled[a] - Double(units[a])
            let rb = scaled[b] - Double(units[b])
            return ra != rb ? ra > rb : a < b
        }
        var i = 0
        while left > 0 {
            units[order[i % order.count]] += 1
            left -= 1
            i += 1
        }
        return units.map { Double($0) / 1e6 }
    }

    /// A weight with exactly 6 decimals (`0.250000`).
    public static func sixDecimals(_ w: Double) -> String {
        let u = Int((w * 1e6).rounded())
        let frac = String(u % 1_000_000)
        return "\(u / 1_000_000)." + String(repeating: "0", count: 6 - frac.count) + frac
    }

    static func format(_ v: Double) -> String {
        v == v.rounded() && abs(v) < 1e15 ? String(Int64(v)) : String(v)
    }

    // MARK: Spec rewriting

    static func yamlKey(_ name: String) -> String {
        let plain =
            !name.isEmpty
            && name.utf8.allSatisfy { c in
                (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || c == 0x5F || c == 0x2F
                    || c == 0x2E || c == 0x2D
            } && !["true", "false", "null", "yes", "no", "on", "off", "~"].contains(name.lowercased()) && Double(name) == nil
        if plain { return name }
        var out: [UInt8] = []
        JSON.writeString(name.utf8, into: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// The spec text with its top-level `schedule:` replaced: entries before `s` kept, then `{at: s, weights}`.
    static func rewrite(spec: BuildSpec, names: [String], weights: [Double], at s: Int, comment: String, manifestPath: String)
        throws -> String
    {
        var lines = spec.text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if lines.last == "" { lines.removeLast() }
        // Remove the old top-level schedule block.
        if let i = lines.firstIndex(where: { $0.hasPrefix("schedule:") || $0.hasPrefix("schedule :") }) {
            var j = i + 1
            while j < lines.count {
                let l = lines[j]
                guard let c = l.first else {
                    j += 1
                    continue
                }
                if c == " " || c == "\t" || c == "-" || c == "]" || c == "}" { j += 1 } else { break }
            }
            // Keep trailing blank lines out of the removed block.
            while j > i + 1 && lines[j - 1].trimmingSpaces.isEmpty { j -= 1 }
            lines.removeSubrange(i..<j)
        }
        var block = ["# " + comment, "schedule:"]
        for e in spec.schedule where e.step < s {
            let ws = e.weights.map { "\(yamlKey($0.0)): \(format($0.1))" }.joined(separator: ", ")
            block.append("  - {at: \(e.step), weights: {\(ws)}" + (e.interpolateLinear ? ", interpolate: linear}" : "}"))
        }
        let ws = zip(names, weights).map { "\(yamlKey($0)): \(sixDecimals($1))" }.joined(separator: ", ")
        block.append("  - {at: \(s), weights: {\(ws)}}")
        let text = (lines + block).joined(separator: "\n") + "\n"
        // Self-check: the result parses, keeps everything but the schedule, and ends with the new weights.
        let check: BuildSpec
        do { check = try BuildSpec.parse(text: text, path: "reweighted.yaml") } catch {
            throw PlanError(
                "internal", "the rewritten spec does not parse (\(error.message)); please report this", at: nil,
                category: .software)
        }
        let before = try componentWeights(spec, manifestPath: manifestPath)
        let after = try componentWeights(check, manifestPath: manifestPath)
        guard after.0 == before.0, after.1 == before.1, check.mixture.unit == spec.mixture.unit, check.training == spec.training,
            check.order == spec.order, check.seed == spec.seed, check.query == spec.query, check.onExhausted == spec.onExhausted,
            check.schedule.last?.step == s, check.schedule.last?.weights.map(\.1) == weights
        else {
            throw PlanError(
                "internal", "rewriting the spec's schedule changed other settings; please report this", at: nil,
                category: .software)
        }
        return text
    }
}

extension String {
    fileprivate var trimmingSpaces: Substring { self.drop { $0 == " " || $0 == "\t" } }
}

/// Least-squares fit of L(n) = ε + β n^(−α) (docs/offline-mixing.md §ADO).
public struct PowerLawFit: Sendable, Equatable {
    public var epsilon: Double
    public var beta: Double
    public var alpha: Double
    /// Mean squared error of log L.
    public var error: Double

    /// For fixed α, (ε, β) minimize Σ ((ε + β x − L) / L)² with x = n^(−α) — the first-order form of the
    /// log-space error — subject to ε, β ≥ 0; α is chosen on a grid 0.005, 0.010, …, 2.000 by the mean
    /// squared log error and refined by 60 golden-section steps within ±0.005 of the best grid point.
    public static func fit(n: [Double], loss: [Double]) -> PowerLawFit {
        precondition(n.count == loss.count && !n.isEmpty)
        let logLoss = loss.map { log($0) }
        func solve(_ alpha: Double) -> PowerLawFit {
            var sw = 0.0, sx = 0.0, sy = 0.0, sxx = 0.0, sxy = 0.0
            var xs = [Double](repeating: 0, count: n.count)
            for i in n.indices {
                let x = pow(n[i], -alpha)
                xs[i] = x
                let w = 1 / (loss[i] * loss[i])
                sw += w
                sx += w * x
                sy += w * loss[i]
                sxx += w * x * x
                sxy += w * x * loss[i]
            }
            let det = sw * sxx - sx * sx
            var eps = 0.0
            var beta = 0.0
            if det > 1e-300 * max(1, sw * sxx) {
                eps = (sy * sxx - sx * sxy) / det
                beta = (sw * sxy - sx * sy) / det
            }
            if !(beta > 0) || !eps.isFinite || !beta.isFinite {
                beta = 0
                eps = sy / sw
            } else if eps < 0 {
                eps = 0
                beta = sxy / sxx
            }
            var err = 0.0
            for i in n.indices {
                let pred = eps + beta * xs[i]
                let d = (pred > 0 ? log(pred) : -745) - logLoss[i]
                err += d * d
            }
            return PowerLawFit(epsilon: eps, beta: beta, alpha: alpha, error: err / Double(n.count))
        }
        var best = solve(0.005)
        for g in 2...400 {
            let f = solve(Double(g) * 0.005)
            if f.error < best.error { best = f }
        }
        var lo = max(1e-4, best.alpha - 0.005)
        var hi = best.alpha + 0.005
        let phi = (sqrt(5.0) - 1) / 2
        var a = hi - phi * (hi - lo)
        var b = lo + phi * (hi - lo)
        var fa = solve(a)
        var fb = solve(b)
        for _ in 0..<60 {
            if fa.error <= fb.error {
                hi = b
                b = a
                fb = fa
                a = hi - phi * (hi - lo)
                fa = solve(a)
            } else {
                lo = a
                a = b
                fa = fb
                b = lo + phi * (hi - lo)
                fb = solve(b)
            }
        }
        for f in [fa, fb] where f.error < best.error { best = f }
        return best
    }
}

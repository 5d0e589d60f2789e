import MixteraCore
import MixteraSpec

/// One dataset as the planner sees it: its declared properties and its catalog key combinations.
public struct PlannerDataset: Sendable {
    public var name: String
    /// Declared properties in order (categorical ones are in keys, numeric ones in per-file columns).
    public var properties: [(name: String, type: PropertyType)]
    /// Catalog key id → categorical values (in categorical-property order).
    public var keys: [(id: UInt32, values: [PropertyValue])]

    public init(name: String, properties: [(name: String, type: PropertyType)], keys: [(id: UInt32, values: [PropertyValue])]) {
        self.name = name
        self.properties = properties
        self.keys = keys
    }
}

/// A component after resolving the mixture (components, by-tree leaves, natural combinations, or the
/// single arbitrary component).
public struct ResolvedComponent: Sendable {
    public var name: String
    public var filterText: String
    public var weight: Double
    public var policy: ExhaustionPolicy
    public var allowEmpty: Bool
    var filter: CompiledQuery
    var location: DataLocation?
}

/// Classifies samples into components as files are added, then plans steps (docs/planner.md).
public final class Planner {
    public let spec: BuildSpec
    public let schema: QuerySchema
    let datasets: [PlannerDataset]
    let query: CompiledQuery
    private(set) public var components: [ResolvedComponent] = []
    private let naturalMode: Bool
    private let arbitraryMode: Bool
    /// Per dataset: global schema index → (isCategorical, local index) or nil when absent.
    private var mapping: [[(categorical: Bool, index: Int)?]] = []
    private var keyValues: [[UInt32: [PropertyValue]]] = []
    private var keyClass: [[UInt32: KeyClass]] = []
    /// Per dataset, indexed by key id (below `denseKeyLimit`): the key's decision as a code (see `addRowsFast`).
    private var keyCodes: [[Int32]] = []
    /// Selected samples per component, in catalog order.
    private var selections: [[SampleRef]] = []
    /// With `unit: tokens | bytes`: per selected sample (parallel to `selections`), its size in that unit.
    private var selectionUnits: [[UInt32]] = []
    /// Whether the mixture is in tokens or bytes (sample sizes are collected).
    private var needsUnits: Bool { spec.mixture.unit != .samples }
    /// Natural mode: combination bytes → component index.
    private var naturalIndex: [[UInt8]: Int] = [:]
    private var naturalNames: [String] = []
    private var overlapCounts: [Int: Int] = [:]  // (first << 16 | other) → samples
    private(set) public var selectedTotal = 0
    private(set) public var scannedTotal = 0
    /// Global sample numbering of the files added so far (catalog order).
    private(set) public var space = SampleSpace()
    private var sortValues: [[Double]]? = nil
    private let sortProperty: Int?

    private enum Decision {
        case constant(Int?)  // component index, or nil for not selected
        case perSample
    }

    private struct KeyClass {
        var decision: Decision
        var query: Residual
        var components: [Residual]
    }

    /// The property `dataset` is built in (the dataset's name) unless a dataset declares it.
    public init(spec: BuildSpec, datasets: [PlannerDataset]) throws(PlanError) {
        self.spec = spec
        self.datasets = datasets
        // Global schema: `dataset`, then properties in first-declared order across datasets (sorted by dataset name upstream).
        var props: [(name: String, type: PropertyType)] = []
        var seen: [String: PropertyType] = [:]
        let declaresDataset = datasets.contains { $0.properties.contains { $0.name == "dataset" } }
        if !declaresDataset {
            props.append(("dataset", .string))
            seen["dataset"] = .string
        }
        for d in datasets {
            for p in d.properties {
                if let t = seen[p.name] {
                    if t != p.type {
                        throw PlanError(
                            "type-conflict",
                            "property \"\(p.name)\" has type \(t.rawValue) in one dataset and \(p.type.rawValue) in dataset \"\(d.name)\"; use one type",
                            at: spec.queryLocation)
                    }
                } else {
                    seen[p.name] = p.type
                    props.append(p)
                }
            }
        }
        schema = QuerySchema(props)
        do {
            query = try CompiledQuery.compile(spec.query, schema: schema, at: spec.queryLocation)
        } catch {
            throw PlanError(error.kind, error.message, at: error.location)
        }
        naturalMode = spec.mixture.kind == .natural
        arbitraryMode = spec.mixture.kind == .arbitrary
        if let s = spec.order.sortBy {
            guard let i = schema.index(of: s.property) else {
                throw PlanError(
                    "unknown-property",
                    "sort_by property \"\(s.property)\" is unknown (known: \(schema.properties.map(\.name).sorted().joined(separator: ", ")))",
                    at: spec.mixture.location)
            }
            guard schema[i].type == .int || schema[i].type == .float else {
                throw PlanError(
                    "type-mismatch", "sort_by property \"\(s.property)\" must be int or float", at: spec.mixture.location)
            }
            if spec.order.shuffle != .none {
                throw PlanError(
                    "invalid-order", "sort_by and shuffle are exclusive; set shuffle: none to sort", at: spec.mixture.location)
            }
            sortProperty = i
        } else {
            sortProperty = nil
        }
        for d in datasets {
            let cats = d.properties.filter { $0.type.isCategorical }.map(\.name)
            let nums = d.properties.filter { !$0.type.isCategorical }.map(\.name)
            mapping.append(
                schema.properties.map { p in
                    if let i = cats.firstIndex(of: p.name) { return (true, i) }
                    if let i = nums.firstIndex(of: p.name) { return (false, i) }
                    return nil
                })
            var kv: [UInt32: [PropertyValue]] = [:]
            for k in d.keys { kv[k.id] = k.values }
            keyValues.append(kv)
            keyClass.append([:])
            keyCodes.append([])
        }
        try resolveComponents()
        selections = Array(repeating: [], count: components.count)
        if needsUnits { selectionUnits = Array(repeating: [], count: components.count) }
        if sortProperty != nil { sortValues = Array(repeating: [], count: components.count) }
    }

    private func defaultPolicy(_ p: ExhaustionPolicy?) -> ExhaustionPolicy { p ?? spec.onExhausted }

    private func compile(_ text: String, at loc: DataLocation?) throws(PlanError) -> CompiledQuery {
        do { return try CompiledQuery.compile(text, schema: schema, at: loc) } catch {
            throw PlanError(error.kind, error.message, at: error.location)
        }
    }

    private func resolveComponents() throws(PlanError) {
        switch spec.mixture.kind {
        case .components(let cs):
            try checkSum(cs.map(\.weight), at: spec.mixture.location)
            for c in cs {
                components.append(
                    ResolvedComponent(
                        name: c.name, filterText: c.filter, weight: c.weight, policy: defaultPolicy(c.onExhausted),
                        allowEmpty: c.allowEmpty, filter: try compile(c.filter, at: c.location), location: c.location))
            }
        case .by(let node):
            try expand(node, prefix: "", filters: [], weight: 1.0)
        case .natural:
            break  // discovered while classifying
        case .arbitrary:
            components.append(
                ResolvedComponent(
                    name: "all", filterText: "true", weight: 1, policy: spec.onExhausted, allowEmpty: false,
                    filter: .always, location: spec.mixture.location))
        }
    }

    private func checkSum(_ weights: [Double], at loc: DataLocation?) throws(PlanError) {
        let sum = weights.reduce(0, +)
        if sum <= 0 { throw PlanError("invalid-weights", "weights sum to 0", at: loc) }
        if !spec.mixture.normalize && abs(sum - 1) > 1e-6 {
            throw PlanError(
                "invalid-weights", "weights sum to \(sum), not 1; fix them or set `normalize: true` in the mixture", at: loc)
        }
    }

    private func literal(_ value: String, for prop: Int, at loc: DataLocation) throws(PlanError) -> String {
        let p = schema[prop]
        switch p.type {
        case .string, .stringList:
            var out: [UInt8] = []
            JSON.writeString(value.utf8, into: &out)
            let lit = String(decoding: out, as: UTF8.self)
            return p.type == .string ? "\(p.name) == \(lit)" : "\(p.name) has \(lit)"
        case .bool:
            guard value == "true" || value == "false" else {
                throw PlanError(
                    "type-mismatch", "by value \"\(value)\" of bool property \"\(p.name)\" must be true or false", at: loc)
            }
            return "\(p.name) == \(value)"
        case .int:
            guard Int64(value) != nil else {
                throw PlanError("type-mismatch", "by value \"\(value)\" of int property \"\(p.name)\" is not an integer", at: loc)
            }
            return "\(p.name) == \(value)"
        case .float:
            guard Double(value) != nil else {
                throw PlanError("type-mismatch", "by value \"\(value)\" of float property \"\(p.name)\" is not a number", at: loc)
            }
            return "\(p.name) == \(value)"
        }
    }

    private func expand(_ node: ByNode, prefix: String, filters: [String], weight: Double) throws(PlanError) {
        guard let prop = schema.index(of: node.property) else {
            throw PlanError(
                "unknown-property",
                "by property \"\(node.property)\" is unknown (known: \(schema.properties.map(\.name).sorted().joined(separator: ", ")))",
                at: node.location)
        }
        try checkSum(node.branches.map(\.weight), at: node.location)
        let sum = node.branches.reduce(0) { $0 + $1.weight }
        for b in node.branches {
            let f = filters + [try literal(b.value, for: prop, at: b.location)]
            let name = prefix.isEmpty ? b.value : prefix + "/" + b.value
            let w = weight * b.weight / sum
            if let child = b.child {
                try expand(child, prefix: name, filters: f, weight: w)
            } else {
                let text = f.joined(separator: " and ")
                components.append(
                    ResolvedComponent(
                        name: name, filterText: text, weight: w, policy: spec.onExhausted, allowEmpty: false,
                        filter: try compile(text, at: b.location), location: b.location))
            }
        }
    }

    // MARK: Classification

    /// Adds one file's samples (files must come in catalog order).
    /// - Parameter units: per row, the sample's size in the mixture's unit (`FileIndex.tokens` for
    ///   `unit: tokens`, `FileIndex.textBytes` for `unit: bytes`); ignored for `unit: samples`. Nil when the
    ///   dataset has no token counts: an error if the file contributes a selected sample.
    public func addFile(
        fileIndex: Int, dataset: Int, sampleKeys: [UInt32], numeric: [NumericColumn], units: [Int64]? = nil
    ) throws(PlanError) {
        guard fileIndex == space.fileCount else {
            preconditionFailure("files must be added in catalog order (expected file \(space.fileCount), got \(fileIndex))")
        }
        try space.append(sampleCount: sampleKeys.count)
        let map = mapping[dataset]
        let dsName = datasets[dataset].name
        let selectedBefore = selectedTotal
        defer { currentUnits = nil }
        currentUnits = needsUnits ? (units ?? []) : nil
        scannedTotal += sampleKeys.count
        if !needsUnits && sortProperty == nil {
            try addRowsFast(
                fileIndex: fileIndex, dataset: dataset, sampleKeys: sampleKeys, numeric: numeric, map: map, dsName: dsName)
            return
        }
        var row = 0
        while row < sampleKeys.count {
            let key = sampleKeys[row]
            var run = row + 1
            while run < sampleKeys.count && sampleKeys[run] == key { run += 1 }
            let cls = try classify(dataset: dataset, key: key, map: map, dsName: dsName)
            switch cls.decision {
            case .constant(let c):
                if let c {
                    for r in row..<run { select(c, file: fileIndex, row: r, numeric: numeric, map: map) }
                }
            case .perSample:
                for r in row..<run {
                    if let c = perSampleComponent(cls, row: r, numeric: numeric, map: map) {
                        select(c, file: fileIndex, row: r, numeric: numeric, map: map)
                    }
                }
            }
            row = run
        }
        if needsUnits && units == nil && selectedTotal > selectedBefore {
            if spec.mixture.unit == .bytes {
                throw PlanError(
                    "missing-text",
                    "mixture unit is bytes but dataset \"\(dsName)\" declares no `text:` field, so its samples have no text bytes; declare one and rescan",
                    at: spec.mixture.location)
            }
            throw PlanError(
                "missing-tokens",
                "mixture unit is tokens but dataset \"\(dsName)\" has no per-sample token counts; declare `tokens:` in its dataset spec and rescan, or use unit: bytes",
                at: spec.mixture.location)
        }
    }

    /// The component a sample of a per-sample key goes to (numeric filters decide), or nil.
    private func perSampleComponent(
        _ cls: KeyClass, row r: Int, numeric: [NumericColumn], map: [(categorical: Bool, index: Int)?]
    ) -> Int? {
        let value: (Int) -> PropertyValue = { g in
            guard let m = map[g], !m.categorical else { return .null }
            return numeric[m.index].value(at: r)
        }
        if case .numeric(let p) = cls.query, !p.evaluate(value) { return nil }
        if case .alwaysFalse = cls.query { return nil }
        var chosen: Int?
        for (i, res) in cls.components.enumerated() {
            let hit: Bool
            switch res {
            case .alwaysTrue: hit = true
            case .alwaysFalse: hit = false
            case .numeric(let p): hit = p.evaluate(value)
            }
            if hit {
                if let c = chosen {
                    // A later catch-all (`true`) is not an overlap worth reporting.
                    if !components[i].filter.isAlwaysTrue { overlapCounts[c << 16 | i, default: 0] += 1 }
                } else {
                    chosen = i
                }
            }
        }
        return chosen
    }

    /// Key codes of `keyCodes`: not classified yet, not selected, decided per sample; ≥ 0: a component.
    private static let unclassified: Int32 = -1
    private static let notSelected: Int32 = -2
    private static let perSampleCode: Int32 = -3
    /// Keys with ids below this get a slot in `keyCodes` (ids are catalog row ids, normally small).
    private static let denseKeyLimit: UInt32 = 1 << 16

    /// `addFile` for mixtures in samples without `sort_by`: one table lookup per sample. While components
    /// fit in a byte, the sample's component is recorded as one byte per sample (`sampleCodes`) and the
    /// selections are built at exact size by `finish` (no growth slack); otherwise refs are appended to the
    /// selections directly.
    private func addRowsFast(
        fileIndex: Int, dataset: Int, sampleKeys: [UInt32], numeric: [NumericColumn],
        map: [(categorical: Bool, index: Int)?], dsName: String
    ) throws(PlanError) {
        let base = space.bases[fileIndex]
        // Work on local copies (moved out, so appends do not copy): classification may add components.
        var sel = selections
        selections = []
        var codes = keyCodes[dataset]
        keyCodes[dataset] = []
        var sampleCodes = self.sampleCodes
        self.sampleCodes = []
        var counts = codeCounts
        codeCounts = []
        var codesActive = sampleCodesActive
        // (Class properties are not touched per sample: each access would be an exclusivity check.)
        defer {
            selections = sel
            keyCodes[dataset] = codes
            self.sampleCodes = sampleCodes
            codeCounts = counts
            sampleCodesActive = codesActive
        }
        var selected = 0
        for row in 0..<sampleKeys.count {
            let key = sampleKeys[row]
            var code = Int(key) < codes.count ? codes[Int(key)] : Self.unclassified
            if code == Self.unclassified {
                selections = sel
                sel = []
                defer {
                    sel = selections
                    selections = []
                }
                let cls = try classify(dataset: dataset, key: key, map: map, dsName: dsName)
                switch cls.decision {
                case .constant(let c): code = c.map { Int32($0) } ?? Self.notSelected
                case .perSample: code = Self.perSampleCode
                }
                if key < Self.denseKeyLimit {
                    if Int(key) >= codes.count {
                        codes.append(contentsOf: repeatElement(Self.unclassified, count: Int(key) + 1 - codes.count))
                    }
                    codes[Int(key)] = code
                }
            }
            var component = -1
            if code >= 0 {
                component = Int(code)
            } else if code == Self.perSampleCode {
                let cls = try classify(dataset: dataset, key: key, map: map, dsName: dsName)
                component = perSampleComponent(cls, row: row, numeric: numeric, map: map) ?? -1
            }
            if component >= 0 { selected += 1 }
            if codesActive {
                if component < Int(Self.noComponent) {
                    sampleCodes.append(component < 0 ? Self.noComponent : UInt8(component))
                    if component >= 0 { counts[component] += 1 }
                    continue
                }
                // A 256th component: build the selections so far and append directly from here on.
                sel = Self.selections(from: sampleCodes, counts: counts, components: max(sel.count, component + 1))
                sampleCodes = []
                codesActive = false
            }
            if component >= 0 { sel[component].append(base &+ UInt32(truncatingIfNeeded: row)) }
        }
        selectedTotal += selected
    }

    /// Per sample in sample-space order (fast path only): its component, or `noComponent`.
    private var sampleCodes: [UInt8] = []
    private var sampleCodesActive = true
    /// Per component: samples with that code in `sampleCodes` (256 slots).
    private var codeCounts = [Int](repeating: 0, count: 256)
    private static let noComponent: UInt8 = 255

    /// The selections recorded by `sampleCodes`, each at its exact size.
    private static func selections(from codes: [UInt8], counts: [Int], components: Int) -> [[SampleRef]] {
        var out: [[SampleRef]] = []
        out.reserveCapacity(components)
        for c in 0..<components {
            var a: [SampleRef] = []
            a.reserveCapacity(c < counts.count ? counts[c] : 0)
            out.append(a)
        }
        for (i, code) in codes.enumerated() where code != noComponent {
            out[Int(code)].append(SampleRef(truncatingIfNeeded: i))
        }
        return out
    }

    /// Hints the number of samples the files to be added hold (sizes the per-sample table exactly).
    public func reserve(samples: Int) {
        if !needsUnits && sortProperty == nil { sampleCodes.reserveCapacity(samples) }
    }

    /// The units of the file being added (see `addFile`); empty when they are missing.
    private var currentUnits: [Int64]?

    private func select(_ c: Int, file: Int, row: Int, numeric: [NumericColumn], map: [(categorical: Bool, index: Int)?]) {
        selections[c].append(space.ref(file: file, row: Int64(row)))
        if let u = currentUnits { selectionUnits[c].append(row < u.count ? UInt32(clamping: u[row]) : 0) }
        selectedTotal += 1
        if let sp = sortProperty {
            var v = Double.infinity
            if let m = map[sp], !m.categorical {
                switch numeric[m.index].value(at: row) {
                case .int(let i): v = Double(i)
                case .float(let d): v = d
                default: v = .infinity
                }
            }
            sortValues![c].append(v)
        }
    }

    private func classify(dataset: Int, key: UInt32, map: [(categorical: Bool, index: Int)?], dsName: String)
        throws(PlanError) -> KeyClass
    {
        if let k = keyClass[dataset][key] { return k }
        guard let values = keyValues[dataset][key] else {
            throw PlanError(
                "corrupt-catalog", "sample key \(key) of dataset \"\(dsName)\" is not in the catalog; rescan", at: nil)
        }
        let categorical: (Int) -> PropertyValue = { g in
            if self.schema[g].name == "dataset" && map[g] == nil { return .string(dsName) }
            guard let m = map[g], m.categorical else { return .null }
            return values[m.index]
        }
        let q = query.specialize(categorical: categorical)
        if naturalMode {
            // One component per distinct combination of categorical values (global schema order).
            var enc: [UInt8] = []
            var nameParts: [String] = []
            for g in 0..<schema.count where schema[g].type.isCategorical {
                let v = categorical(g)
                CategoricalEncoding.encode(v, into: &enc)
                enc.append(0xFF)
                nameParts.append("\(schema[g].name)=\(render(v))")
            }
            let idx: Int
            if let i = naturalIndex[enc] {
                idx = i
            } else {
                idx = components.count
                naturalIndex[enc] = idx
                let name = nameParts.joined(separator: ",")
                components.append(
                    ResolvedComponent(
                        name: name, filterText: name, weight: 0, policy: spec.onExhausted, allowEmpty: false,
                        filter: .always, location: nil))
                selections.append([])
                if needsUnits { selectionUnits.append([]) }
                if sortProperty != nil { sortValues!.append([]) }
            }
            let decision: Decision
            switch q {
            case .alwaysFalse: decision = .constant(nil)
            case .alwaysTrue: decision = .constant(idx)
            case .numeric: decision = .perSample
            }
            let cls = KeyClass(
                decision: decision, query: q,
                components: (0..<components.count).map { $0 == idx ? .alwaysTrue : .alwaysFalse })
            keyClass[dataset][key] = cls
            return cls
        }
        let comps = components.map { $0.filter.specialize(categorical: categorical) }
        var decision: Decision = .perSample
        let allConstant = comps.allSatisfy { if case .numeric = $0 { return false } else { return true } }
        if case .alwaysFalse = q {
            decision = .constant(nil)
        } else if case .alwaysTrue = q, allConstant {
            let hits = comps.indices.filter { if case .alwaysTrue = comps[$0] { return true } else { return false } }
            decision = .constant(hits.first)
            if hits.count > 1 {
                // Overlap counted per sample later: keep per-sample path so counts are exact.
                decision = .perSample
            }
        }
        let cls = KeyClass(decision: decision, query: q, components: comps)
        keyClass[dataset][key] = cls
        return cls
    }

    private func render(_ v: PropertyValue) -> String {
        switch v {
        case .null: return "null"
        case .string(let s): return s
        case .int(let i): return String(i)
        case .float(let d): return String(d)
        case .bool(let b): return b ? "true" : "false"
        case .stringList(let l): return "[" + l.joined(separator: "|") + "]"
        }
    }

    // MARK: Planning

    /// Validates the selection and builds the step generator.
    /// - Parameters:
    ///   - startStep: the first step to plan (a continuation starts at its `--at-step`).
    ///   - consumed: samples already used before `startStep`; every component's first epoch skips them.
    public func finish(startStep: Int = 0, consumed: (@Sendable (SampleRef) -> Bool)? = nil) throws(PlanError) -> StepPlan {
        var warnings: [String] = []
        if sampleCodesActive && !sampleCodes.isEmpty {
            let codes = sampleCodes
            sampleCodes = []
            selections = Self.selections(from: codes, counts: codeCounts, components: components.count)
        }
        sampleCodesActive = false
        if naturalMode {
            // Order natural components by name for readability; weights ∝ selected counts (exact).
            let order = components.indices.sorted {
                Array(components[$0].name.utf8).lexicographicallyPrecedes(components[$1].name.utf8)
            }
            components = order.map { components[$0] }
            selections = order.map { selections[$0] }
            if needsUnits { selectionUnits = order.map { selectionUnits[$0] } }
            if sortValues != nil { sortValues = order.map { sortValues![$0] } }
            let total = max(1, selections.reduce(0) { $0 + $1.count })
            for i in components.indices { components[i].weight = Double(selections[i].count) / Double(total) }
            // Drop empty combinations (possible when a numeric filter rejected every sample of a key).
            let keep = components.indices.filter { !selections[$0].isEmpty }
            components = keep.map { components[$0] }
            selections = keep.map { selections[$0] }
            if needsUnits { selectionUnits = keep.map { selectionUnits[$0] } }
            if sortValues != nil { sortValues = keep.map { sortValues![$0] } }
        }
        if selectedTotal == 0 {
            throw PlanError("empty-selection", "the query selects no samples (\(scannedTotal) scanned)", at: spec.queryLocation)
        }
        for (i, c) in components.enumerated() where selections[i].isEmpty && !c.allowEmpty {
            if case .by = spec.mixture.kind {
                throw PlanError("empty-component", "by value \"\(c.name)\" does not occur in the selection", at: c.location)
            }
            throw PlanError(
                "empty-component", "component \"\(c.name)\" selects no samples; fix its filter or set allow_empty: true",
                at: c.location)
        }
        for (k, n) in overlapCounts.sorted(by: { $0.key < $1.key }) {
            warnings.append(
                "components \"\(components[k >> 16].name)\" and \"\(components[k & 0xFFFF].name)\" overlap on \(n) samples; they go to \"\(components[k >> 16].name)\" (first in declared order)"
            )
        }
        // Sort for curriculum.
        if let sv = sortValues, let s = spec.order.sortBy {
            for c in selections.indices {
                let vals = sv[c]
                let idx = selections[c].indices.sorted { a, b in
                    let x = vals[a]
                    let y = vals[b]
                    if x != y { return s.descending ? x > y : x < y }
                    return a < b
                }
                selections[c] = idx.map { selections[c][$0] }
                if needsUnits { selectionUnits[c] = idx.map { selectionUnits[c][$0] } }
            }
        }
        let weights = try scheduleWeights()
        // Each selection moves into its stream (no copy: the first epoch's shuffle permutes it in place).
        var streams: [ComponentStream] = []
        streams.reserveCapacity(components.count)
        for i in components.indices {
            let base = selections[i]
            selections[i] = []
            var units: [UInt32] = []
            if needsUnits {
                units = selectionUnits[i]
                selectionUnits[i] = []
            }
            streams.append(
                ComponentStream(
                    base: base, space: space, mode: arbitraryMode ? .none : spec.order.shuffle,
                    blockSize: spec.order.blockSize, seed: spec.seed, component: i, excluded: consumed, units: units))
        }
        selections = []
        selectionUnits = []
        return StepPlan(
            components: components, streams: streams, weights: weights, training: spec.training, warnings: warnings,
            startStep: startStep, unit: spec.mixture.unit)
    }

    /// The weight table: for each schedule breakpoint, the quantized weights of every component.
    private func scheduleWeights() throws(PlanError) -> WeightSchedule {
        let base = components.map { Apportion.quantize($0.weight) }
        var points: [WeightSchedule.Point] = []
        if spec.schedule.first?.step != 0 {
            points.append(.init(step: 0, weights: base, linear: false))
        }
        for e in spec.schedule {
            var w = [UInt64](repeating: 0, count: components.count)
            var given = Set<String>()
            for (name, x) in e.weights {
                guard let i = components.firstIndex(where: { $0.name == name }) else {
                    throw PlanError(
                        "unknown-component",
                        "schedule names unknown component \"\(name)\" (components: \(components.map(\.name).joined(separator: ", ")))",
                        at: e.location)
                }
                w[i] = Apportion.quantize(x)
                given.insert(name)
            }
            let missing = components.map(\.name).filter { !given.contains($0) }
            if !missing.isEmpty {
                throw PlanError(
                    "missing-weight", "schedule entry at step \(e.step) has no weight for \(missing.joined(separator: ", "))",
                    at: e.location)
            }
            let sum = e.weights.reduce(0) { $0 + $1.1 }
            if sum <= 0 || (!spec.mixture.normalize && abs(sum - 1) > 1e-6) {
                throw PlanError(
                    "invalid-weights",
                    "schedule weights at step \(e.step) sum to \(sum), not 1; fix them or set `normalize: true`", at: e.location)
            }
            points.append(.init(step: e.step, weights: w, linear: e.interpolateLinear))
        }
        return WeightSchedule(points: points)
    }
}

/// Piecewise-constant or linear weights over steps (docs/planner.md §Schedule).
public struct WeightSchedule: Sendable {
    public struct Point: Sendable {
        public var step: Int
        public var weights: [UInt64]
        public var linear: Bool
    }
    public var points: [Point]

    /// Integer weights at `step`: the last point at or before `step`; when the next point is `linear`,
    /// `W = W_prev × (next.step − step) + W_next × (step − prev.step)` (exact, unnormalized).
    public func weights(at step: Int) -> [UInt128] {
        var i = 0
        while i + 1 < points.count && points[i + 1].step <= step { i += 1 }
        let p = points[i]
        if i + 1 < points.count, points[i + 1].linear {
            let n = points[i + 1]
            let a = UInt128(n.step - step)
            let b = UInt128(step - p.step)
            return zip(p.weights, n.weights).map { UInt128($0) * a + UInt128($1) * b }
        }
        return p.weights.map { UInt128($0) }
    }

    /// Steps at which weights can change (for caching counts between them).
    func isConstant(from step: Int) -> Int {
        var i = 0
        while i + 1 < points.count && points[i + 1].step <= step { i += 1 }
        if i + 1 < points.count {
            return points[i + 1].linear ? step + 1 : points[i + 1].step
        }
        return Int.max
    }
}

import MixteraCore

public enum ExhaustionPolicy: String, Sendable, Hashable, Codable {
    case stop, redistribute, `repeat`
}

public enum MixtureUnit: String, Sendable, Hashable, Codable {
    case samples, tokens, bytes
}

public enum ShuffleMode: String, Sendable, Hashable, Codable {
    case none, files, blocks, samples
}

/// One mixture component: a filter and a weight.
public struct ComponentSpec: Sendable, Hashable {
    public var name: String
    /// Filter expression in the query language (`true` selects everything left).
    public var filter: String
    public var weight: Double
    public var onExhausted: ExhaustionPolicy?
    public var allowEmpty: Bool
    public var location: DataLocation
}

/// A `by:` node: weights per value of a categorical property, optionally nested.
public struct ByNode: Sendable, Hashable {
    public struct Branch: Sendable, Hashable {
        public var value: String
        public var weight: Double
        public var child: ByNode?
        public var location: DataLocation
    }
    public var property: String
    public var branches: [Branch]
    public var location: DataLocation
}

public enum MixtureKind: Sendable, Hashable {
    case components([ComponentSpec])
    case by(ByNode)
    case natural
    case arbitrary
}

public struct MixtureSpec: Sendable, Hashable {
    public var unit: MixtureUnit
    public var kind: MixtureKind
    public var normalize: Bool
    public var location: DataLocation
}

public struct ScheduleEntry: Sendable, Hashable {
    public var step: Int
    /// Weights by component name, in the order written.
    public var weights: [(String, Double)]
    public var interpolateLinear: Bool
    public var location: DataLocation

    public static func == (a: ScheduleEntry, b: ScheduleEntry) -> Bool {
        a.step == b.step && a.interpolateLinear == b.interpolateLinear && a.weights.elementsEqual(b.weights, by: { $0 == $1 })
    }
    public func hash(into h: inout Hasher) { h.combine(step) }
}

public enum StepCount: Sendable, Hashable {
    case fixed(Int)
    case untilExhausted
}

public struct TrainingSpec: Sendable, Hashable {
    public var globalBatch: Int
    public var dataParallel: Int
    public var steps: StepCount

    public init(globalBatch: Int, dataParallel: Int, steps: StepCount) {
        self.globalBatch = globalBatch
        self.dataParallel = dataParallel
        self.steps = steps
    }
}

public struct OrderSpec: Sendable, Hashable {
    public var shuffle: ShuffleMode
    public var blockSize: Int
    /// Numeric property to sort by (curriculum), and whether descending.
    public var sortBy: (property: String, descending: Bool)?

    public static func == (a: OrderSpec, b: OrderSpec) -> Bool {
        a.shuffle == b.shuffle && a.blockSize == b.blockSize && a.sortBy?.property == b.sortBy?.property
            && a.sortBy?.descending == b.sortBy?.descending
    }
    public func hash(into h: inout Hasher) { h.combine(shuffle) }
}

/// `build.yaml`: query, mixture, schedule, topology, order, seed and exhaustion policy.
public struct BuildSpec: Sendable {
    public var path: String
    /// The spec text as read, stored verbatim in the manifest header.
    public var text: String
    public var query: String
    public var queryLocation: DataLocation
    public var mixture: MixtureSpec
    public var schedule: [ScheduleEntry]
    public var training: TrainingSpec
    public var order: OrderSpec
    public var seed: UInt64
    public var onExhausted: ExhaustionPolicy

    static let topKeys: Set<String> = ["query", "mixture", "schedule", "training", "order", "seed", "on_exhausted"]

    /// Parses a build spec.
    /// - Throws: `SpecError` located at `file:line:column` for malformed YAML, unknown keys, bad values.
    public static func parse(text: String, path: String) throws(SpecError) -> BuildSpec {
        guard let root = try YAMLNode.parse(text: text, path: path) else {
            throw SpecError("invalid-spec", "the build spec is empty", at: DataLocation(path: path))
        }
        let m = try root.mapping(allowedKeys: topKeys)
        let query = try m["query"]?.string() ?? "true"
        guard let mixNode = m["mixture"] else { throw root.fail("missing key \"mixture\"") }
        let mixture = try parseMixture(mixNode)
        guard let trainNode = m["training"] else { throw root.fail("missing key \"training\"") }
        let training = try parseTraining(trainNode)
        var order = OrderSpec(shuffle: .none, blockSize: 64, sortBy: nil)
        if let o = m["order"], !o.isNull { order = try parseOrder(o) }
        var seed: UInt64 = 0
        if let s = m["seed"] {
            let v = try s.int()
            if v < 0 { throw s.fail("seed must be a non-negative integer") }
            seed = UInt64(v)
        }
        var policy = ExhaustionPolicy.stop
        if let p = m["on_exhausted"] { policy = try parsePolicy(p) }
        var schedule: [ScheduleEntry] = []
        if let s = m["schedule"], !s.isNull {
            var last = -1
            for item in try s.sequence() {
                let e = try parseScheduleEntry(item)
                if e.step <= last { throw item.fail("schedule entries must have strictly increasing `at` steps") }
                if schedule.isEmpty && e.interpolateLinear {
                    throw item.fail("the first schedule entry cannot interpolate (nothing to ramp from)")
                }
                last = e.step
                schedule.append(e)
            }
        }
        return BuildSpec(
            path: path, text: text, query: query,
            queryLocation: m["query"]?.location ?? root.location, mixture: mixture, schedule: schedule,
            training: training, order: order, seed: seed, onExhausted: policy)
    }

    static func parsePolicy(_ n: YAMLNode) throws(SpecError) -> ExhaustionPolicy {
        let s = try n.string()
        guard let v = ExhaustionPolicy(rawValue: s) else {
            throw n.fail("on_exhausted must be stop, redistribute or repeat, found \"\(s)\"")
        }
        return v
    }

    static func parseMixture(_ node: YAMLNode) throws(SpecError) -> MixtureSpec {
        let m = try node.mapping(allowedKeys: ["unit", "components", "by", "weights", "natural", "arbitrary", "normalize"])
        var unit = MixtureUnit.samples
        if let u = m["unit"] {
            let s = try u.string()
            guard let v = MixtureUnit(rawValue: s) else { throw u.fail("unit must be samples, tokens or bytes") }
            unit = v
        }
        let normalize = try m["normalize"]?.bool() ?? false
        var kinds: [MixtureKind] = []
        if let c = m["components"] {
            var comps: [ComponentSpec] = []
            var names = Set<String>()
            for item in try c.sequence() {
                let cm = try item.mapping(allowedKeys: ["name", "where", "weight", "on_exhausted", "allow_empty"])
                guard let n = cm["name"] else { throw item.fail("component needs a name") }
                let name = try n.string()
                if !names.insert(name).inserted { throw n.fail("duplicate component name \"\(name)\"") }
                guard let w = cm["weight"] else { throw item.fail("component \"\(name)\" needs a weight") }
                let weight = try w.double()
                if !(weight >= 0) || !weight.isFinite { throw w.fail("weight must be a finite number >= 0") }
                comps.append(
                    ComponentSpec(
                        name: name, filter: try cm["where"]?.string() ?? "true", weight: weight,
                        onExhausted: try cm["on_exhausted"].map { (p) throws(SpecError) in try parsePolicy(p) },
                        allowEmpty: try cm["allow_empty"]?.bool() ?? false, location: item.location))
            }
            if comps.isEmpty { throw c.fail("components must not be empty") }
            kinds.append(.components(comps))
        }
        if let b = m["by"] {
            guard let w = m["weights"] else { throw node.fail("`by` needs `weights`") }
            kinds.append(.by(try parseBy(property: try b.string(), weights: w, at: b)))
        } else if let w = m["weights"] {
            throw w.fail("`weights` needs `by`")
        }
        if let n = m["natural"], try n.bool() { kinds.append(.natural) }
        if let a = m["arbitrary"], try a.bool() { kinds.append(.arbitrary) }
        guard kinds.count == 1 else {
            throw node.fail("mixture needs exactly one of components, by, natural: true or arbitrary: true")
        }
        return MixtureSpec(unit: unit, kind: kinds[0], normalize: normalize, location: node.location)
    }

    static func parseBy(property: String, weights: YAMLNode, at: YAMLNode) throws(SpecError) -> ByNode {
        var branches: [ByNode.Branch] = []
        for (value, w) in try weights.mapping() {
            if w.isMapping {
                let bm = try w.mapping(allowedKeys: ["weight", "by", "weights"])
                guard let wn = bm["weight"] else { throw w.fail("nested weight entry needs `weight`") }
                let weight = try wn.double()
                if !(weight >= 0) || !weight.isFinite { throw wn.fail("weight must be a finite number >= 0") }
                var child: ByNode?
                if let cb = bm["by"] {
                    guard let cw = bm["weights"] else { throw w.fail("`by` needs `weights`") }
                    child = try parseBy(property: try cb.string(), weights: cw, at: cb)
                }
                branches.append(.init(value: value, weight: weight, child: child, location: w.location))
            } else {
                let weight = try w.double()
                if !(weight >= 0) || !weight.isFinite { throw w.fail("weight must be a finite number >= 0") }
                branches.append(.init(value: value, weight: weight, child: nil, location: w.location))
            }
        }
        if branches.isEmpty { throw weights.fail("weights must not be empty") }
        return ByNode(property: property, branches: branches, location: at.location)
    }

    static func parseTraining(_ node: YAMLNode) throws(SpecError) -> TrainingSpec {
        let m = try node.mapping(allowedKeys: ["global_batch", "data_parallel", "steps"])
        guard let g = m["global_batch"] else { throw node.fail("missing key \"global_batch\"") }
        let gb = try g.int()
        if gb < 1 { throw g.fail("global_batch must be at least 1") }
        let dp = try m["data_parallel"]?.int() ?? 1
        if dp < 1 { throw m["data_parallel"]!.fail("data_parallel must be at least 1") }
        if gb % dp != 0 {
            throw (m["data_parallel"] ?? node).fail("global_batch \(gb) is not divisible by data_parallel \(dp)")
        }
        guard let s = m["steps"] else { throw node.fail("missing key \"steps\"") }
        let steps: StepCount
        if (try? s.string()) == "until_exhausted" {
            steps = .untilExhausted
        } else {
            let n = try s.int()
            if n < 0 { throw s.fail("steps must be >= 0 or until_exhausted") }
            steps = .fixed(n)
        }
        return TrainingSpec(globalBatch: gb, dataParallel: dp, steps: steps)
    }

    static func parseOrder(_ node: YAMLNode) throws(SpecError) -> OrderSpec {
        let m = try node.mapping(allowedKeys: ["shuffle", "block_size", "sort_by"])
        var order = OrderSpec(shuffle: .none, blockSize: 64, sortBy: nil)
        if let s = m["shuffle"] {
            let v = try s.string()
            guard let mode = ShuffleMode(rawValue: v) else {
                throw s.fail("shuffle must be none, files, blocks or samples, found \"\(v)\"")
            }
            order.shuffle = mode
        }
        if let b = m["block_size"], !b.isNull {
            order.blockSize = try b.int()
            if order.blockSize < 1 { throw b.fail("block_size must be at least 1") }
        }
        if let s = m["sort_by"], !s.isNull {
            let parts = try s.string().split(separator: " ", omittingEmptySubsequences: true)
            guard parts.count == 1 || (parts.count == 2 && (parts[1] == "asc" || parts[1] == "desc")) else {
                throw s.fail("sort_by must be \"PROPERTY\", \"PROPERTY asc\" or \"PROPERTY desc\"")
            }
            order.sortBy = (String(parts[0]), parts.count == 2 && parts[1] == "desc")
        }
        return order
    }

    static func parseScheduleEntry(_ node: YAMLNode) throws(SpecError) -> ScheduleEntry {
        let m = try node.mapping(allowedKeys: ["at", "weights", "interpolate"])
        guard let a = m["at"] else { throw node.fail("schedule entry needs `at`") }
        let at = try a.int()
        if at < 0 { throw a.fail("`at` must be >= 0") }
        guard let w = m["weights"] else { throw node.fail("schedule entry needs `weights`") }
        var weights: [(String, Double)] = []
        for (k, v) in try w.mapping() {
            let x = try v.double()
            if !(x >= 0) || !x.isFinite { throw v.fail("weight must be a finite number >= 0") }
            weights.append((k, x))
        }
        var linear = false
        if let i = m["interpolate"] {
            let s = try i.string()
            guard s == "linear" || s == "step" || s == "none" else {
                throw i.fail("interpolate must be linear or none")
            }
            linear = s == "linear"
        }
        return ScheduleEntry(step: at, weights: weights, interpolateLinear: linear, location: node.location)
    }
}

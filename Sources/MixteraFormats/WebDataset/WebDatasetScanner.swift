import MixteraCore
import MixteraSpec

/// Scans one WebDataset tar (plain, `.tar.gz`, `.tar.zst`, …) into a `FileScanResult`.
///
/// Property sources (`path:`), matched against member extensions exactly (case-sensitive):
/// - `EXT:json.path` — a field of the sample's `EXT` member parsed as JSON (`json:meta.source`), with the JSONL
///   path syntax and rules (`[*]` for lists, null/default handling);
/// - `EXT` — the text of the sample's `EXT` member (`cls`, `txt`), trailing CR/LF removed; `int`/`float`
///   parse it (surrounding whitespace ignored), `bool` accepts `true`/`false`, `string` takes it as is;
///   `list<string>` needs a JSON field;
/// - `from_path` captures, as for JSONL.
/// A sample without the member is "missing" (default/null rule). Only members that properties or `tokens`
/// read are loaded; all other members (payloads) are skipped without reading.
///
/// `text:` names a member extension: its byte count is the sample's text bytes (the member is not read) and
/// replay returns its bytes. A sample without it is an error.
///
/// Locators (`.tarMembers`): `byteOffsets[i]` is the header offset of sample `i`'s first member (in the file,
/// or in the decompressed stream of a compressed tar); `byteLengths[i]` spans from there to the end of the
/// padded data of its last member. Damaged archives (truncated, bad header, failed decompression) fail with the
/// member name and byte offset; with `on_error: skip` the samples completed before the damage are kept, the
/// rest of the archive is dropped and the damage is reported as one skipped record.
public struct WebDatasetScanner {
    public let dataset: DatasetDecl
    public let schema: ScanSchema

    private enum Target {
        /// A JSON field: which JSON member (index into `jsonMembers`) and which extractor slot.
        case json(member: Int, slot: Int)
        case member(String)
        case constant(PropertyValue)
    }

    private let categoricalTargets: [Target]
    private let numericTargets: [Target]
    private let tokensTarget: Target?
    private let jsonMembers: [String]
    private let jsonPaths: [[[JSONPathSegment]]]
    /// Member extensions whose bytes are loaded during the walk.
    public let loadExtensions: Set<String>

    public init(dataset: DatasetDecl, relativePath: String) throws(FormatError) {
        self.dataset = dataset
        schema = ScanSchema(dataset)
        var jsonMembers: [String] = []
        var jsonPaths: [[[JSONPathSegment]]] = []
        var loads = Set<String>()
        func fieldTarget(_ path: String, _ name: String, _ type: PropertyType) throws(FormatError) -> Target {
            if let colon = path.firstIndex(of: ":") {
                let ext = String(path[..<colon])
                let jsonPath = String(path[path.index(after: colon)...])
                let segments: [JSONPathSegment]
                do { segments = try JSONPath.parse(jsonPath) } catch {
                    throw FormatError(
                        .unsupported, "bad property path \"\(path)\": \(error.message)", at: dataset.location)
                }
                if ext.isEmpty || segments.isEmpty {
                    throw FormatError(
                        .unsupported, "bad property path \"\(path)\": expected EXT:json.path, e.g. json:meta.source",
                        at: dataset.location)
                }
                let m: Int
                if let i = jsonMembers.firstIndex(of: ext) {
                    m = i
                } else {
                    jsonMembers.append(ext)
                    jsonPaths.append([])
                    m = jsonMembers.count - 1
                }
                jsonPaths[m].append(segments)
                loads.insert(ext)
                return .json(member: m, slot: jsonPaths[m].count - 1)
            }
            if type == .stringList {
                throw FormatError(
                    .unsupported,
                    "property \"\(name)\": list<string> from a webdataset member needs a json field (EXT:path, e.g. json:tags)",
                    at: dataset.location)
            }
            loads.insert(path)
            return .member(path)
        }
        func target(_ p: PropertyDecl) throws(FormatError) -> Target {
            switch p.source {
            case .field(let path): return try fieldTarget(path, p.name, p.type)
            case .fromPath(let pattern, let capture):
                return .constant(
                    try FromPathConstant.value(p, pattern: pattern, capture: capture, relativePath: relativePath))
            }
        }
        var cats: [Target] = []
        for p in schema.categorical { cats.append(try target(p)) }
        var nums: [Target] = []
        for p in schema.numeric { nums.append(try target(p)) }
        categoricalTargets = cats
        numericTargets = nums
        tokensTarget = try dataset.tokens.map { (t) throws(FormatError) in try fieldTarget(t, "tokens", .int) }
        if let text = dataset.text, text.contains(":") || text.isEmpty {
            throw FormatError(
                .unsupported, "text \"\(text)\" must name a member extension (e.g. txt), not a json field",
                at: dataset.location)
        }
        self.jsonMembers = jsonMembers
        self.jsonPaths = jsonPaths
        loadExtensions = loads
    }

    /// Scans the archive at `path` (absolute); `displayPath` names it in errors.
    ///
    /// A plain tar is mapped (``TarFileMapping``): its fingerprint is ``TarHeaderFingerprint`` (payloads are
    /// not read for it either), and the walk
    /// groups members on their name bytes and reads property members in place, without a string, an array
    /// or a copy per sample. Compressed tars are streamed with ``WebDatasetReader``. Both paths group as
    /// ``WebDatasetGrouper`` does and give the same results and errors.
    public func scan(path: String, displayPath: String) throws(FormatError) -> FileScanResult {
        try scan(path: path, displayPath: displayPath, mapping: true)
    }

    /// `mapping: false` reads a plain tar through ``WebDatasetReader`` too (tests compare both paths).
    func scan(path: String, displayPath: String, mapping allowMapping: Bool) throws(FormatError) -> FileScanResult {
        var state = State(scanner: self, displayPath: displayPath)
        var fingerprint: UInt64?
        if allowMapping, let mapping = try TarFileMapping(path: path) {
            var fingerprinter = TarHeaderFingerprinter(mapping.bytes)
            try scanMapped(path: path, mapping: mapping, state: &state, fingerprinter: &fingerprinter)
            fingerprint = fingerprinter.finish()
        } else {
            try scanStreamed(path: path, state: &state)
        }
        var result = state.acc.finish()
        result.fingerprint = fingerprint
        if fingerprint != nil { result.fingerprintPrefix = TarHeaderFingerprint.prefix }
        return result
    }

    /// The damage rule: with `on_error: skip`, a damaged archive keeps the samples before the damage.
    private func damaged(_ error: FormatError, _ state: inout State) throws(FormatError) {
        let damage: Set<FormatError.Kind> = [.truncated, .badArchive, .decompression]
        guard dataset.onError == .skip, damage.contains(error.code) else { throw error }
        var e = error
        e.message +=
            "; kept the \(state.acc.result.sampleCount) samples before the damage, dropped the rest of the archive"
        state.acc.skip(e)
    }

    /// Records the sample in `state.sample`; with `on_error: skip` a failing sample is skipped.
    private func record(_ state: inout State, data: UnsafeRawBufferPointer) throws(FormatError) {
        do { try state.record(data: data) } catch {
            guard dataset.onError == .skip else { throw error }
            state.acc.skip(error)
        }
    }

    private func scanStreamed(path: String, state: inout State) throws(FormatError) {
        let reader = try WebDatasetReader(path: path, options: .init(loadExtensions: loadExtensions))
        var loaded: [UInt8] = []
        while true {
            let sample: WebDatasetSample?
            do { sample = try reader.next() } catch {
                try damaged(error, &state)
                break
            }
            guard let sample else { break }
            // The sample as the mapped path sees it: names as bytes, loaded data concatenated in `loaded`.
            loaded.removeAll(keepingCapacity: true)
            state.sample.reset(key: UnsafeRawBufferPointer(start: nil, count: 0))
            var key = sample.key
            key.withUTF8 { state.sample.key.append(contentsOf: $0) }
            for m in sample.members {
                var ext = m.extension
                let e = ext.withUTF8 { state.extensions.intern(UnsafeRawBufferPointer($0)) }
                var dataStart = -1
                if let d = m.data {
                    dataStart = loaded.count
                    loaded.append(contentsOf: d)
                }
                state.sample.members.append(
                    SampleMember(
                        ext: e, headerByteOffset: m.headerByteOffset, dataByteOffset: m.dataByteOffset,
                        byteCount: m.byteCount, dataStart: dataStart))
            }
            var failure: FormatError?
            loaded.withUnsafeBytes { data in
                do throws(FormatError) { try record(&state, data: data) } catch { failure = error }
            }
            if let failure { throw failure }
        }
    }

    private func scanMapped(
        path: String, mapping: TarFileMapping, state: inout State, fingerprinter: inout TarHeaderFingerprinter
    ) throws(FormatError) {
        let walker = TarWalker(path: path, mapping: mapping)
        let maxLoad = WebDatasetReader.Options().maxLoadByteCount
        var pending = false
        while true {
            do throws(FormatError) {
                guard let m = try walker.nextRaw() else {
                    if pending { try record(&state, data: mapping.bytes) }
                    return
                }
                // Hash the headers up to this member's while they are in cache.
                fingerprinter.advance(to: Int(m.dataByteOffset))
                guard m.kind == .regular else { continue }
                var failure: FormatError?
                walker.withCurrentName { name in
                    do throws(FormatError) {
                        try add(name, m, path: path, maxLoad: maxLoad, pending: &pending, state: &state, mapping: mapping)
                    } catch { failure = error }
                }
                if let failure { throw failure }
            } catch {
                // Walk and grouping errors are damage; a sample's own errors reach here only with
                // `on_error: fail`, where `damaged` rethrows them.
                try damaged(error, &state)
                return
            }
        }
    }

    /// Groups one regular member (name bytes `name`) as ``WebDatasetReader`` and ``WebDatasetGrouper`` do,
    /// recording the pending sample when `m` starts a new one.
    private func add(
        _ name: UnsafeRawBufferPointer, _ m: TarRawMember, path: String, maxLoad: Int, pending: inout Bool,
        state: inout State, mapping: TarFileMapping
    ) throws(FormatError) {
        guard case .member(let dot) = WebDatasetName.split(bytes: name) else { return }
        let key = UnsafeRawBufferPointer(rebasing: name[..<dot])
        let e = state.extensions.intern(UnsafeRawBufferPointer(rebasing: name[(dot + 1)...]))
        // As WebDatasetReader: a property member over the load limit fails before it is grouped.
        if state.extensions.loaded[e] && m.byteCount > Int64(maxLoad) {
            throw FormatError(
                .unsupported, "member of \(m.byteCount) bytes exceeds the read limit of \(maxLoad) bytes",
                at: DataLocation(path: path, byteOffset: m.dataByteOffset, member: String(decoding: name, as: UTF8.self)))
        }
        let member = SampleMember(
            ext: e, headerByteOffset: m.headerByteOffset, dataByteOffset: m.dataByteOffset, byteCount: m.byteCount,
            dataStart: Int(m.dataByteOffset))
        if pending && state.sample.hasKey(key) {
            var duplicate = false
            for other in state.sample.members where state.extensions.same(other.ext, e) { duplicate = true }
            if duplicate {
                throw FormatError(
                    .badArchive,
                    "duplicate extension \"\(state.extensions.names[e])\" in sample \"\(String(decoding: key, as: UTF8.self))\"",
                    at: DataLocation(
                        path: path, byteOffset: m.headerByteOffset, member: String(decoding: name, as: UTF8.self)))
            }
            state.sample.members.append(member)
            return
        }
        // Record the completed sample before its buffers are reused.
        if pending { try record(&state, data: mapping.bytes) }
        state.sample.reset(key: key)
        state.sample.members.append(member)
        pending = true
    }

    /// A member of the sample being recorded: interned extension, offsets, and where its bytes start in the
    /// data buffer `record` is given (the mapping, or the streamed path's loaded bytes; -1: not loaded).
    struct SampleMember {
        var ext: Int
        var headerByteOffset: Int64
        var dataByteOffset: Int64
        var byteCount: Int64
        var dataStart: Int
    }

    /// The sample being recorded, in reused buffers.
    struct SampleBuffer {
        var key: [UInt8] = []
        var members: [SampleMember] = []

        mutating func reset(key k: UnsafeRawBufferPointer) {
            key.removeAll(keepingCapacity: true)
            key.append(contentsOf: k)
            members.removeAll(keepingCapacity: true)
        }

        /// Whether `k` is this sample's key, compared as ``WebDatasetGrouper`` compares keys (strings).
        func hasKey(_ k: UnsafeRawBufferPointer) -> Bool {
            key.withUnsafeBytes { WebDatasetSampleTable.sameText($0, k) }
        }

        var keyString: String { String(decoding: key, as: UTF8.self) }
    }

    /// Distinct member extensions met in a file, as bytes and strings, with what the scanner wants of each.
    struct ExtensionTable {
        /// The extensions the scanner looks up (JSON members, member properties, text, tokens member).
        let wanted: [String]
        let loadExtensions: Set<String>
        var bytes: [[UInt8]] = []
        var names: [String] = []
        /// Per extension: whether it equals `wanted[w]` (as strings), flattened `[ext * wanted.count + w]`.
        var matches: [Bool] = []
        /// Per extension: whether the reader would load it (`loadExtensions` contains it).
        var loaded: [Bool] = []

        /// The index of `ext` (by bytes), added when new.
        mutating func intern(_ ext: UnsafeRawBufferPointer) -> Int {
            for i in bytes.indices where bytes[i].withUnsafeBytes({ $0.elementsEqual(ext) }) { return i }
            let name = String(decoding: ext, as: UTF8.self)
            bytes.append(Array(ext))
            names.append(name)
            for w in wanted { matches.append(name == w) }
            loaded.append(loadExtensions.contains(name))
            return bytes.count - 1
        }

        /// Whether extensions `a` and `b` are the same as strings (``WebDatasetSample/member(withExtension:)``).
        func same(_ a: Int, _ b: Int) -> Bool { a == b || names[a] == names[b] }

        func matches(_ ext: Int, wanted w: Int) -> Bool { matches[ext * wanted.count + w] }
    }

    private struct State {
        let scanner: WebDatasetScanner
        let displayPath: String
        var acc: ScanAccumulator
        var extractors: [JSONFieldExtractor]
        var catValues: [PropertyValue]
        var numValues: [PropertyValue]
        /// Per JSON member of the scanner: the index in the current sample's members of the parsed member, or -1.
        var parsed: [Int]
        var sample = SampleBuffer()
        var extensions: ExtensionTable
        /// Indices in `extensions.wanted`.
        let textWanted: Int?
        let memberWanted: [String: Int]

        init(scanner: WebDatasetScanner, displayPath: String) {
            self.scanner = scanner
            self.displayPath = displayPath
            acc = ScanAccumulator(
                schema: scanner.schema, locatorKind: .tarMembers, hasTokens: scanner.dataset.tokens != nil)
            extractors = scanner.jsonPaths.map { JSONFieldExtractor(paths: $0) }
            catValues = Array(repeating: .null, count: scanner.schema.categorical.count)
            numValues = Array(repeating: .null, count: scanner.schema.numeric.count)
            parsed = Array(repeating: -1, count: scanner.jsonMembers.count)
            // wanted = JSON members, then member-property extensions, then the text extension.
            var wanted = scanner.jsonMembers
            var memberWanted: [String: Int] = [:]
            for t in scanner.categoricalTargets + scanner.numericTargets + (scanner.tokensTarget.map { [$0] } ?? []) {
                if case .member(let ext) = t, memberWanted[ext] == nil {
                    memberWanted[ext] = wanted.count
                    wanted.append(ext)
                }
            }
            self.memberWanted = memberWanted
            if let text = scanner.dataset.text {
                textWanted = wanted.count
                wanted.append(text)
            } else {
                textWanted = nil
            }
            extensions = ExtensionTable(wanted: wanted, loadExtensions: scanner.loadExtensions)
        }

        /// The first member of the sample whose extension equals `wanted[w]`, as its index.
        func member(wanted w: Int) -> Int? {
            // A plain loop: a closure here would copy `self`.
            for k in sample.members.indices where extensions.matches(sample.members[k].ext, wanted: w) { return k }
            return nil
        }

        func name(_ m: SampleMember) -> String {
            String(decoding: sample.key + [0x2E] + extensions.bytes[m.ext], as: UTF8.self)
        }

        func located(_ m: SampleMember, _ offset: Int = 0) -> DataLocation {
            DataLocation(path: displayPath, byteOffset: m.dataByteOffset + Int64(offset), member: name(m))
        }

        /// The bytes of a loaded member.
        func bytes(_ m: SampleMember, _ data: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
            guard m.dataStart >= 0 else { return UnsafeRawBufferPointer(start: nil, count: 0) }
            return UnsafeRawBufferPointer(rebasing: data[m.dataStart..<(m.dataStart + Int(m.byteCount))])
        }

        mutating func record(data: UnsafeRawBufferPointer) throws(FormatError) {
            guard let first = sample.members.first, let last = sample.members.last else { return }
            // Parse the JSON members this sample has.
            for i in scanner.jsonMembers.indices {
                parsed[i] = -1
                guard let k = member(wanted: i) else { continue }
                let m = sample.members[k]
                var failure: JSONFieldExtractor.LineError?
                do throws(JSONFieldExtractor.LineError) { try extractors[i].parse(bytes(m, data)) } catch {
                    failure = error
                }
                if let error = failure {
                    let notObject = error.message == "record is not a JSON object"
                    throw FormatError(
                        notObject ? .notAnObject : .invalidJSON,
                        notObject ? "member is not a JSON object" : "invalid JSON in member: \(error.message)",
                        at: located(m, error.offset))
                }
                parsed[i] = k
            }
            for i in scanner.categoricalTargets.indices {
                let v = try value(scanner.categoricalTargets[i], scanner.schema.categorical[i], first, data)
                catValues[i] = v
            }
            for i in scanner.numericTargets.indices {
                let v = try value(scanner.numericTargets[i], scanner.schema.numeric[i], first, data)
                numValues[i] = v
            }
            var textBytes: Int64 = 0
            if let text = scanner.dataset.text, let w = textWanted {
                guard let k = member(wanted: w) else {
                    throw FormatError(
                        .missingField,
                        "sample \"\(sample.keyString)\" has no \"\(text)\" member (the text member)",
                        at: DataLocation(path: displayPath, byteOffset: first.headerByteOffset, member: name(first)))
                }
                textBytes = sample.members[k].byteCount
            }
            var tokens: Int64?
            if let t = scanner.tokensTarget, let tokenName = scanner.dataset.tokens {
                var raw = RawValue.missing
                var source: SampleMember?
                switch t {
                case .constant: break
                case .json(let mi, let slot):
                    if parsed[mi] >= 0 {
                        let m = sample.members[parsed[mi]]
                        source = m
                        raw = try jsonValue(mi, slot, m, data)
                    }
                case .member(let ext):
                    if let k = member(wanted: memberWanted[ext]!) {
                        let m = sample.members[k]
                        source = m
                        raw = try memberValue(m, .int, data)
                    }
                }
                let at =
                    source.map { located($0) }
                    ?? DataLocation(path: displayPath, byteOffset: first.headerByteOffset, member: name(first))
                let v: Int64?
                do { v = try PropertyConversion.intValue(raw, name: tokenName) } catch {
                    throw FormatError(error.kind, error.message, at: at)
                }
                guard let v else {
                    throw FormatError(
                        .missingField, "tokens \"\(tokenName)\" is missing or null in sample \"\(sample.keyString)\"",
                        at: at)
                }
                tokens = v
            }
            let end = last.dataByteOffset + (last.byteCount + 511) / 512 * 512
            acc.append(
                categorical: catValues, numeric: numValues, offset: first.headerByteOffset,
                length: end - first.headerByteOffset, textBytes: textBytes, tokens: tokens)
        }

        /// A property's value in the sample being recorded (after its JSON members are parsed). A method, not
        /// a local function of `record`: capturing `self` there copies the state per call.
        func value(_ t: Target, _ p: PropertyDecl, _ first: SampleMember, _ data: UnsafeRawBufferPointer)
            throws(FormatError) -> PropertyValue
        {
            let raw: RawValue
            // The member the value comes from (for error locations; the sample's first member when missing).
            var source: SampleMember?
            switch t {
            case .constant(let v): return v
            case .json(let mi, let slot):
                guard parsed[mi] >= 0 else {
                    raw = .missing
                    break
                }
                let m = sample.members[parsed[mi]]
                source = m
                raw = try jsonValue(mi, slot, m, data)
            case .member(let ext):
                guard let k = member(wanted: memberWanted[ext]!) else {
                    raw = .missing
                    break
                }
                let m = sample.members[k]
                source = m
                raw = try memberValue(m, p.type, data)
            }
            do { return try PropertyConversion.convert(raw, p) } catch {
                let at =
                    source.map { located($0) }
                    ?? DataLocation(path: displayPath, byteOffset: first.headerByteOffset, member: name(first))
                throw FormatError(error.kind, error.message, at: at)
            }
        }

        /// The value at a JSON slot of a parsed member.
        func jsonValue(_ mi: Int, _ slot: Int, _ m: SampleMember, _ all: UnsafeRawBufferPointer) throws(FormatError)
            -> RawValue
        {
            let ex = extractors[mi]
            let data = bytes(m, all)
            func decode(_ s: JSONFieldExtractor.Span) throws(FormatError) -> RawValue {
                switch s.kind {
                case .missing: return .missing
                case .null: return .null
                case .trueValue: return .bool(true)
                case .falseValue: return .bool(false)
                case .object: return .other("an object")
                default: break
                }
                // Printable ASCII strings without escapes decode to their bytes; anything else goes through
                // the full JSON parser.
                if s.kind == .string, !s.escaped, let plain = Self.plainASCII(data, Int(s.start), Int(s.end)) {
                    return .string(plain)
                }
                // Strings: include the quotes; the span is inside them.
                let lo = Int(s.start) - (s.kind == .string ? 1 : 0)
                let hi = Int(s.end) + (s.kind == .string ? 1 : 0)
                guard lo >= 0, hi <= data.count, lo <= hi else { return .other("an invalid value") }
                let json: JSON
                do { json = try JSON.parse(Array(UnsafeRawBufferPointer(rebasing: data[lo..<hi]))) } catch {
                    throw FormatError(.invalidJSON, "invalid JSON in member: \(error.message)", at: located(m, lo))
                }
                return Self.raw(json)
            }
            if ex.isMulti[slot] {
                var items: [RawValue] = []
                for s in ex.multi[slot] { items.append(try decode(s)) }
                return .list(items)
            }
            return try decode(ex.single[slot])
        }

        /// `data[lo..<hi]` as a string when every byte is printable ASCII other than `\` and `"`, else nil.
        static func plainASCII(_ data: UnsafeRawBufferPointer, _ lo: Int, _ hi: Int) -> String? {
            guard lo >= 0, hi <= data.count, lo <= hi else { return nil }
            for i in lo..<hi {
                let b = data[i]
                if b < 0x20 || b >= 0x7F || b == 0x5C || b == 0x22 { return nil }
            }
            return String(decoding: UnsafeRawBufferPointer(rebasing: data[lo..<hi]), as: UTF8.self)
        }

        static func raw(_ j: JSON) -> RawValue {
            switch j {
            case .null: return .null
            case .bool(let b): return .bool(b)
            case .int(let i): return .int(i)
            case .double(let d): return .double(d)
            case .string(let s): return .string(s)
            case .array(let a): return .list(a.map(raw))
            case .object: return .other("an object")
            }
        }

        /// A plain member's text as a raw value for `type`.
        func memberValue(_ m: SampleMember, _ type: PropertyType, _ all: UnsafeRawBufferPointer) throws(FormatError)
            -> RawValue
        {
            var bytes = Array(bytes(m, all))
            while let l = bytes.last, l == 0x0A || l == 0x0D { bytes.removeLast() }
            guard UTF8Validator.isValid(bytes[...]) else {
                throw FormatError(.invalidUTF8, "member is not valid UTF-8", at: located(m))
            }
            let text = String(decoding: bytes, as: UTF8.self)
            switch type {
            case .string, .stringList: return .string(text)
            case .int, .float:
                let t = text.trimmingWhitespace()
                if type == .int, let v = Int64(t) { return .int(v) }
                if type == .float, let v = Double(t), v.isFinite { return .double(v) }
                throw FormatError(
                    .typeMismatch,
                    "member \"\(name(m))\" expects \(type == .int ? "an integer" : "a number"), found \"\(text.prefix(40))\"",
                    at: located(m))
            case .bool:
                switch text.trimmingWhitespace() {
                case "true": return .bool(true)
                case "false": return .bool(false)
                default:
                    throw FormatError(
                        .typeMismatch, "member \"\(name(m))\" expects true or false, found \"\(text.prefix(40))\"",
                        at: located(m))
                }
            }
        }
    }
}

extension String {
    fileprivate func trimmingWhitespace() -> String {
        let ws: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" }
        guard let a = firstIndex(where: { !ws($0) }), let b = lastIndex(where: { !ws($0) }) else { return "" }
        return String(self[a...b])
    }
}

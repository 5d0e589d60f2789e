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
    public func scan(path: String, displayPath: String) throws(FormatError) -> FileScanResult {
        // A plain tar is mapped: the fingerprint is hashed over the mapping and the walk reads headers and
        // property members in place (no copy through `read`); compressed tars are streamed.
        let options = WebDatasetReader.Options(loadExtensions: loadExtensions)
        let reader: WebDatasetReader
        var fingerprint: UInt64?
        if let mapping = try TarFileMapping(path: path) {
            fingerprint = mapping.fingerprint()
            reader = WebDatasetReader(path: path, mapping: mapping, options: options)
        } else {
            reader = try WebDatasetReader(path: path, options: options)
        }
        var state = State(scanner: self, displayPath: displayPath)
        while true {
            let sample: WebDatasetSample?
            do {
                sample = try reader.next()
            } catch {
                let damage: Set<FormatError.Kind> = [.truncated, .badArchive, .decompression]
                guard dataset.onError == .skip, damage.contains(error.code) else { throw error }
                var e = error
                e.message +=
                    "; kept the \(state.acc.result.sampleCount) samples before the damage, dropped the rest of the archive"
                state.acc.skip(e)
                break
            }
            guard let sample else { break }
            do {
                try state.record(sample)
            } catch {
                guard dataset.onError == .skip else { throw error }
                state.acc.skip(error)
            }
        }
        var result = state.acc.finish()
        result.fingerprint = fingerprint
        return result
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

        init(scanner: WebDatasetScanner, displayPath: String) {
            self.scanner = scanner
            self.displayPath = displayPath
            acc = ScanAccumulator(
                schema: scanner.schema, locatorKind: .tarMembers, hasTokens: scanner.dataset.tokens != nil)
            extractors = scanner.jsonPaths.map { JSONFieldExtractor(paths: $0) }
            catValues = Array(repeating: .null, count: scanner.schema.categorical.count)
            numValues = Array(repeating: .null, count: scanner.schema.numeric.count)
            parsed = Array(repeating: -1, count: scanner.jsonMembers.count)
        }

        func located(_ m: WebDatasetMember, _ offset: Int = 0) -> DataLocation {
            DataLocation(path: displayPath, byteOffset: m.dataByteOffset + Int64(offset), member: m.name)
        }

        mutating func record(_ sample: WebDatasetSample) throws(FormatError) {
            guard let first = sample.members.first, let last = sample.members.last else { return }
            // Parse the JSON members this sample has.
            for (i, ext) in scanner.jsonMembers.enumerated() {
                parsed[i] = -1
                guard let k = sample.members.firstIndex(where: { $0.extension == ext }) else { continue }
                let m = sample.members[k]
                let data = m.data ?? []
                let failure: JSONFieldExtractor.LineError? = data.withUnsafeBytes { b in
                    do throws(JSONFieldExtractor.LineError) { try extractors[i].parse(b) } catch { return error }
                    return nil
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
            func value(_ t: Target, _ p: PropertyDecl) throws(FormatError) -> PropertyValue {
                let raw: RawValue
                // The member the value comes from (for error locations; the sample's first member when missing).
                var source: WebDatasetMember?
                switch t {
                case .constant(let v): return v
                case .json(let mi, let slot):
                    guard parsed[mi] >= 0 else {
                        raw = .missing
                        break
                    }
                    let m = sample.members[parsed[mi]]
                    source = m
                    raw = try jsonValue(mi, slot, m)
                case .member(let ext):
                    guard let m = sample.member(withExtension: ext) else {
                        raw = .missing
                        break
                    }
                    source = m
                    raw = try memberValue(m, p.type)
                }
                do { return try PropertyConversion.convert(raw, p) } catch {
                    let at =
                        source.map { located($0) }
                        ?? DataLocation(path: displayPath, byteOffset: first.headerByteOffset, member: first.name)
                    throw FormatError(error.kind, error.message, at: at)
                }
            }
            for i in scanner.categoricalTargets.indices {
                catValues[i] = try value(scanner.categoricalTargets[i], scanner.schema.categorical[i])
            }
            for i in scanner.numericTargets.indices {
                numValues[i] = try value(scanner.numericTargets[i], scanner.schema.numeric[i])
            }
            var textBytes: Int64 = 0
            if let text = scanner.dataset.text {
                guard let m = sample.member(withExtension: text) else {
                    throw FormatError(
                        .missingField, "sample \"\(sample.key)\" has no \"\(text)\" member (the text member)",
                        at: DataLocation(path: displayPath, byteOffset: first.headerByteOffset, member: first.name))
                }
                textBytes = m.byteCount
            }
            var tokens: Int64?
            if let t = scanner.tokensTarget, let name = scanner.dataset.tokens {
                var raw = RawValue.missing
                var at = DataLocation(path: displayPath, byteOffset: first.headerByteOffset, member: first.name)
                switch t {
                case .constant: break
                case .json(let mi, let slot):
                    if parsed[mi] >= 0 {
                        let m = sample.members[parsed[mi]]
                        at = located(m)
                        raw = try jsonValue(mi, slot, m)
                    }
                case .member(let ext):
                    if let m = sample.member(withExtension: ext) {
                        at = located(m)
                        raw = try memberValue(m, .int)
                    }
                }
                let v: Int64?
                do { v = try PropertyConversion.intValue(raw, name: name) } catch {
                    throw FormatError(error.kind, error.message, at: at)
                }
                guard let v else {
                    throw FormatError(
                        .missingField, "tokens \"\(name)\" is missing or null in sample \"\(sample.key)\"", at: at)
                }
                tokens = v
            }
            let end = last.dataByteOffset + (last.byteCount + 511) / 512 * 512
            acc.append(
                categorical: catValues, numeric: numValues, offset: first.headerByteOffset,
                length: end - first.headerByteOffset, textBytes: textBytes, tokens: tokens)
        }

        /// The value at a JSON slot of a parsed member.
        func jsonValue(_ mi: Int, _ slot: Int, _ m: WebDatasetMember) throws(FormatError) -> RawValue {
            let ex = extractors[mi]
            let data = m.data ?? []
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
                do { json = try JSON.parse(Array(data[lo..<hi])) } catch {
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
        static func plainASCII(_ data: [UInt8], _ lo: Int, _ hi: Int) -> String? {
            guard lo >= 0, hi <= data.count, lo <= hi else { return nil }
            for i in lo..<hi {
                let b = data[i]
                if b < 0x20 || b >= 0x7F || b == 0x5C || b == 0x22 { return nil }
            }
            return String(decoding: data[lo..<hi], as: UTF8.self)
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
        func memberValue(_ m: WebDatasetMember, _ type: PropertyType) throws(FormatError) -> RawValue {
            var bytes = m.data ?? []
            while let l = bytes.last, l == 0x0A || l == 0x0D { bytes.removeLast() }
            guard UTF8Check.isValid(bytes[...]) else {
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
                    "member \"\(m.name)\" expects \(type == .int ? "an integer" : "a number"), found \"\(text.prefix(40))\"",
                    at: located(m))
            case .bool:
                switch text.trimmingWhitespace() {
                case "true": return .bool(true)
                case "false": return .bool(false)
                default:
                    throw FormatError(
                        .typeMismatch, "member \"\(m.name)\" expects true or false, found \"\(text.prefix(40))\"",
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

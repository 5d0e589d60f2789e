import MixteraCore
import MixteraSpec

#if canImport(Glibc)
    import Glibc
#endif

/// Scans one JSONL shard (plain or compressed) into a `FileScanResult`.
///
/// Lines are LF or CRLF terminated; a UTF-8 BOM at the start of the file is skipped; the last line may
/// lack its newline; blank and whitespace-only lines are not samples (the row index counts only
/// records). Errors carry `file:line:column` with 1-based line and 1-based byte column.
public struct JSONLScanner {
    public let dataset: DatasetDecl
    public let schema: ScanSchema
    /// Read buffer size; tests use tiny buffers to check that any split gives the same records.
    public var bufferBytes: Int = 4 << 20

    private enum Target {
        case json(slot: Int)
        case constant(PropertyValue)
    }

    private let categoricalTargets: [Target]
    private let numericTargets: [Target]
    private let textSlot: Int?
    private let tokensSlot: Int?
    private let paths: [[JSONPathSegment]]

    /// - Throws: `FormatError` when a property path does not parse.
    public init(dataset: DatasetDecl, relativePath: String) throws(FormatError) {
        self.dataset = dataset
        schema = ScanSchema(dataset)
        var paths: [[JSONPathSegment]] = []
        func slot(for path: String) throws(FormatError) -> Int {
            do {
                paths.append(try JSONPath.parse(path))
            } catch {
                throw FormatError(
                    .unsupported, "bad property path: \(error.message)", at: dataset.location, category: .data)
            }
            return paths.count - 1
        }
        func target(_ p: PropertyDecl) throws(FormatError) -> Target {
            switch p.source {
            case .field(let path): return .json(slot: try slot(for: path))
            case .fromPath(let pattern, let capture):
                guard let caps = PathPattern.capture(pattern, relativePath), let v = caps[capture] else {
                    return .constant(p.defaultValue ?? .null)
                }
                if p.type == .int {
                    guard let i = Int64(v) else {
                        throw FormatError(
                            .typeMismatch, "property \"\(p.name)\": path capture \"\(v)\" is not an integer",
                            at: DataLocation(path: relativePath))
                    }
                    return .constant(.int(i))
                }
                return .constant(.string(v))
            }
        }
        var cats: [Target] = []
        for p in schema.categorical { cats.append(try target(p)) }
        var nums: [Target] = []
        for p in schema.numeric { nums.append(try target(p)) }
        categoricalTargets = cats
        numericTargets = nums
        textSlot = try dataset.text.map { (t) throws(FormatError) in try slot(for: t) }
        tokensSlot = try dataset.tokens.map { (t) throws(FormatError) in try slot(for: t) }
        self.paths = paths
    }

    /// Scans the file at `path` (absolute); `displayPath` names it in errors.
    public func scan(path: String, displayPath: String) throws(FormatError) -> FileScanResult {
        let compression = StreamCompression.detect(path: path)
        if compression == .none && bufferBytes >= 4 << 20, let mapped = try scanMapped(path: path, displayPath: displayPath) {
            return mapped
        }
        let hasher = XXH3Stream()
        let stream = try openStream(path: path, compression: compression, hasher: hasher)
        var state = State(scanner: self, displayPath: displayPath)
        state.result.locatorKind = compression == .none ? .fileOffsets : .streamOffsets
        try state.run(stream: stream)
        if compression == .none || compression == .zstd { state.result.fingerprint = hasher.digest() }
        if let z = stream as? ZstdStream {
            state.result.frames = z.frames.map { ZstdFrame(compressedOffset: $0.0, decompressedOffset: $0.1) }
        }
        state.finish()
        return state.result
    }

    /// Plain files are mapped read-only and parsed in place: no copy into a buffer, lines found with
    /// `memchr`, the fingerprint hashed over the mapping in 1 MiB steps as the scan passes them.
    /// Returns nil when the file cannot be mapped (then the streaming path runs).
    private func scanMapped(path: String, displayPath: String) throws(FormatError) -> FileScanResult? {
        let file: ReadOnlyFile
        let size: Int
        do {
            file = try ReadOnlyFile(path: path)
            size = Int(try file.stat().byteCount)
        } catch { throw FormatError(error) }
        guard size > 0, let p = mmap(nil, size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, file.fd, 0), p != MAP_FAILED else {
            return nil
        }
        defer { munmap(p, size) }
        madvise(p, size, MADV_SEQUENTIAL)
        let base = UnsafeMutableRawPointer(p)
        let hasher = XXH3Stream()
        var hashed = 0
        var state = State(scanner: self, displayPath: displayPath)
        state.result.locatorKind = .fileOffsets
        let maxLine = dataset.maxLineBytes
        var start = 0
        var first = true
        while start < size {
            if start - hashed >= 1 << 20 {
                let upTo = min(size, start)
                hasher.update(UnsafeRawBufferPointer(start: base + hashed, count: upTo - hashed))
                hashed = upTo
            }
            let end: Int
            if let hit = memchr(base + start, 0x0A, size - start) {
                end = base.distance(to: hit)
            } else {
                end = size
            }
            let len = end - start
            if len > maxLine { throw state.lineTooLong(state.lineNumber + 1, maxLine) }
            try state.handle(base + start, len, offset: Int64(start), first: &first)
            start = end + 1
        }
        hasher.update(UnsafeRawBufferPointer(start: base + hashed, count: size - hashed))
        state.result.fingerprint = hasher.digest()
        state.finish()
        return state.result
    }

    /// Mutable per-file scan state.
    private struct State {
        let scanner: JSONLScanner
        let displayPath: String
        var result = FileScanResult()
        var extractor: JSONFieldExtractor
        var keyTable: KeyTableBuilder
        var scratch: [UInt8] = []
        var numericColumns: NumericColumnsBuilder
        var numericScratch: [PropertyValue] = []
        var lineNumber = 0

        init(scanner: JSONLScanner, displayPath: String) {
            self.scanner = scanner
            self.displayPath = displayPath
            extractor = JSONFieldExtractor(paths: scanner.paths)
            keyTable = KeyTableBuilder(propertyCount: scanner.schema.categorical.count)
            numericColumns = NumericColumnsBuilder(scanner.schema.numeric)
            if scanner.tokensSlot != nil { result.tokens = [] }
        }

        mutating func run(stream: ByteStream) throws(FormatError) {
            let maxLine = scanner.dataset.maxLineBytes
            var cap = max(64, scanner.bufferBytes)
            var buf = UnsafeMutableRawPointer.allocate(byteCount: cap, alignment: 16)
            defer { buf.deallocate() }
            var start = 0
            var end = 0
            var scanPos = 0
            var streamOffset: Int64 = 0  // stream offset of buf[start]
            var eof = false
            var first = true
            while true {
                var nl = -1
                if scanPos < end, let hit = memchr(buf + scanPos, 0x0A, end - scanPos) {
                    nl = buf.distance(to: hit)
                }
                if nl < 0 {
                    if eof {
                        if start < end {
                            try handle(buf + start, end - start, offset: streamOffset, first: &first)
                        }
                        break
                    }
                    if end - start > maxLine {
                        throw lineTooLong(lineNumber + 1, maxLine)
                    }
                    if start > 0 {
                        memmove(buf, buf + start, end - start)
                        end -= start
                        scanPos = end
                        start = 0
                    } else {
                        scanPos = end
                    }
                    if end == cap {
                        let newCap = cap * 2
                        let nb = UnsafeMutableRawPointer.allocate(byteCount: newCap, alignment: 16)
                        nb.copyMemory(from: buf, byteCount: end)
                        buf.deallocate()
                        buf = nb
                        cap = newCap
                    }
                    let n = try stream.read(into: UnsafeMutableRawBufferPointer(start: buf + end, count: cap - end))
                    if n == 0 { eof = true }
                    end += n
                    continue
                }
                let len = nl - start
                if len > maxLine { throw lineTooLong(lineNumber + 1, maxLine) }
                try handle(buf + start, len, offset: streamOffset, first: &first)
                streamOffset += Int64(len + 1)
                start = nl + 1
                scanPos = start
            }
        }

        func lineTooLong(_ line: Int, _ max: Int) -> FormatError {
            FormatError(
                .lineTooLong, "line is longer than max_line_bytes (\(max)); raise max_line_bytes in the dataset spec",
                at: DataLocation(path: displayPath, line: line, column: 1))
        }

        @inline(__always) mutating func handle(
            _ p: UnsafeMutableRawPointer, _ rawLen: Int, offset rawOffset: Int64, first: inout Bool
        ) throws(FormatError) {
            lineNumber += 1
            var start = p
            var len = rawLen
            var offset = rawOffset
            if first {
                first = false
                if len >= 3 && p.load(as: UInt8.self) == 0xEF && p.load(fromByteOffset: 1, as: UInt8.self) == 0xBB
                    && p.load(fromByteOffset: 2, as: UInt8.self) == 0xBF
                {
                    start += 3
                    len -= 3
                    offset += 3
                }
            }
            if len > 0 && start.load(fromByteOffset: len - 1, as: UInt8.self) == 0x0D { len -= 1 }
            // Blank or whitespace-only lines are not samples.
            var k = 0
            while k < len {
                let c = start.load(fromByteOffset: k, as: UInt8.self)
                if c != 0x20 && c != 0x09 && c != 0x0D { break }
                k += 1
            }
            if k == len { return }
            let line = UnsafeRawBufferPointer(start: start, count: len)
            do {
                try record(line, offset: offset)
            } catch {
                if scanner.dataset.onError == .skip {
                    result.skippedRecords += 1
                    if result.problems.count < 20 { result.problems.append(error) }
                } else {
                    throw error
                }
            }
        }

        func located(_ column: Int) -> DataLocation {
            DataLocation(path: displayPath, line: lineNumber, column: column + 1)
        }

        mutating func record(_ line: UnsafeRawBufferPointer, offset: Int64) throws(FormatError) {
            do {
                try extractor.parse(line)
            } catch {
                let kind: FormatError.Kind =
                    error.message == "record is not a JSON object" ? .notAnObject : .invalidJSON
                let what = kind == .notAnObject ? error.message : "invalid JSON: \(error.message)"
                throw FormatError(kind, what, at: located(error.offset))
            }
            let base = line.baseAddress!
            // Validate and convert everything before appending, so a bad record leaves no partial state.
            var textLen: Int64 = 0
            if let t = scanner.textSlot {
                let s = extractor.single[t]
                guard s.kind == .string else {
                    throw FormatError(
                        s.kind == .missing ? .missingField : .typeMismatch,
                        s.kind == .missing
                            ? "text field \"\(scanner.dataset.text!)\" is missing"
                            : "text field \"\(scanner.dataset.text!)\" must be a string, found \(kindName(s.kind))",
                        at: located(Int(s.start)))
                }
                let body = UnsafeRawBufferPointer(start: base + Int(s.start), count: Int(s.end - s.start))
                textLen = Int64(s.escaped ? JSONString.decodedLength(body) : body.count)
            }
            var tokenCount: Int64 = 0
            if let t = scanner.tokensSlot {
                let s = extractor.single[t]
                switch try intValue(s, base: base, property: scanner.dataset.tokens!) {
                case .some(let v): tokenCount = v
                case .none:
                    throw FormatError(
                        .missingField, "tokens field \"\(scanner.dataset.tokens!)\" is missing or null",
                        at: located(Int(s.start)))
                }
            }
            // Categorical key (values interned as they convert; the key is only used once the record is good).
            keyTable.beginKey()
            for (i, target) in scanner.categoricalTargets.enumerated() {
                let prop = scanner.schema.categorical[i]
                scratch.removeAll(keepingCapacity: true)
                switch target {
                case .constant(let v): CategoricalEncoding.encode(v, into: &scratch)
                case .json(let slot): try encodeCategorical(prop, slot: slot, base: base)
                }
                scratch.withUnsafeBytes { keyTable.add(i, encoded: $0) }
            }
            // Numeric values: all converted before any is appended, so a bad record leaves no partial column.
            numericScratch.removeAll(keepingCapacity: true)
            for (i, target) in scanner.numericTargets.enumerated() {
                switch target {
                case .constant(let v): numericScratch.append(v)
                case .json(let slot):
                    numericScratch.append(try numericValue(scanner.schema.numeric[i], extractor.single[slot], base: base))
                }
            }
            let key = keyTable.endKey()
            for (i, v) in numericScratch.enumerated() { numericColumns.append(i, v) }
            numericColumns.endSample()
            result.sampleKeys.append(key)
            result.byteOffsets.append(offset)
            result.byteLengths.append(Int64(line.count))
            result.textBytes.append(textLen)
            if scanner.tokensSlot != nil { result.tokens!.append(tokenCount) }
            result.sampleCount += 1
        }

        func kindName(_ k: JSONFieldExtractor.ValueKind) -> String {
            switch k {
            case .missing: return "nothing"
            case .null: return "null"
            case .string: return "a string"
            case .number: return "a number"
            case .trueValue, .falseValue: return "a boolean"
            case .object: return "an object"
            case .array: return "an array"
            }
        }

        func mismatch(_ prop: String, expected: String, _ s: JSONFieldExtractor.Span) -> FormatError {
            FormatError(
                .typeMismatch, "property \"\(prop)\" expects \(expected), found \(kindName(s.kind))",
                at: located(Int(s.start) - (s.kind == .string ? 1 : 0)))
        }

        func missingOrNull(_ prop: PropertyDecl, _ s: JSONFieldExtractor.Span) -> PropertyValue {
            if s.kind == .null && prop.nullable { return .null }
            return prop.defaultValue ?? .null
        }

        mutating func encodeCategorical(_ prop: PropertyDecl, slot: Int, base: UnsafeRawPointer) throws(FormatError) {
            if prop.type == .stringList && extractor.isMulti[slot] {
                let spans = extractor.multi[slot]
                scratch.append(CategoricalEncoding.listTag)
                for s in spans {
                    if s.kind == .null { continue }
                    guard s.kind == .string else { throw mismatch(prop.name, expected: "strings", s) }
                    try appendStringElement(s, base: base, prop: prop.name)
                }
                return
            }
            let s = extractor.single[slot]
            switch s.kind {
            case .missing, .null:
                CategoricalEncoding.encode(missingOrNull(prop, s), into: &scratch)
            case .string where prop.type == .string:
                scratch.append(CategoricalEncoding.stringTag)
                try appendString(s, base: base, prop: prop.name)
            case .trueValue where prop.type == .bool, .falseValue where prop.type == .bool:
                CategoricalEncoding.encode(.bool(s.kind == .trueValue), into: &scratch)
            case .array where prop.type == .stringList:
                scratch.append(CategoricalEncoding.listTag)
                // Re-walk the (already validated) array for its string elements.
                var p = Parser(b: base.assumingMemoryBound(to: UInt8.self), n: Int(s.end), i: Int(s.start) + 1)
                p.skipWS()
                if p.b[p.i] == UInt8(ascii: "]") { return }
                while true {
                    let st = p.i
                    guard p.b[st] == UInt8(ascii: "\"") else {
                        throw FormatError(
                            .typeMismatch, "property \"\(prop.name)\" expects a list of strings",
                            at: located(st))
                    }
                    let esc = (try? p.skipString()) ?? false
                    try appendStringElement(
                        .init(kind: .string, start: Int32(st + 1), end: Int32(p.i - 1), escaped: esc), base: base,
                        prop: prop.name)
                    p.skipWS()
                    if p.b[p.i] == UInt8(ascii: "]") { return }
                    p.i += 1
                    p.skipWS()
                }
            default:
                let expected =
                    prop.type == .string ? "a string" : prop.type == .bool ? "a boolean" : "a list of strings"
                throw mismatch(prop.name, expected: expected, s)
            }
        }

        mutating func appendString(_ s: JSONFieldExtractor.Span, base: UnsafeRawPointer, prop: String)
            throws(FormatError)
        {
            let body = UnsafeRawBufferPointer(start: base + Int(s.start), count: Int(s.end - s.start))
            let startCount = scratch.count
            if s.escaped { scratch.append(contentsOf: JSONString.unescape(body)) } else { scratch.append(contentsOf: body) }
            if !UTF8Validator.isValid(scratch[startCount...]) {
                throw FormatError(.invalidUTF8, "property \"\(prop)\" is not valid UTF-8", at: located(Int(s.start)))
            }
        }

        mutating func appendStringElement(_ s: JSONFieldExtractor.Span, base: UnsafeRawPointer, prop: String)
            throws(FormatError)
        {
            let lenPos = scratch.count
            scratch.append(contentsOf: [0, 0, 0, 0])
            try appendString(s, base: base, prop: prop)
            let len = UInt32(scratch.count - lenPos - 4)
            for j in 0..<4 { scratch[lenPos + j] = UInt8(truncatingIfNeeded: len >> (8 * UInt32(j))) }
        }

        func intValue(_ s: JSONFieldExtractor.Span, base: UnsafeRawPointer, property: String) throws(FormatError)
            -> Int64?
        {
            switch s.kind {
            case .missing, .null: return nil
            case .number, .string:
                let body = UnsafeRawBufferPointer(start: base + Int(s.start), count: Int(s.end - s.start))
                guard let v = NumberParsing.parseInt(body) else {
                    if s.kind == .number, NumberParsing.looksIntegral(body) {
                        throw FormatError(
                            .numberOutOfRange, "property \"\(property)\" is outside the 64-bit integer range",
                            at: located(Int(s.start)))
                    }
                    throw FormatError(
                        .typeMismatch,
                        "property \"\(property)\" expects an integer, found "
                            + (s.kind == .string ? "a non-integer string" : "a non-integer number"),
                        at: located(Int(s.start)))
                }
                return v
            default: throw mismatch(property, expected: "an integer", s)
            }
        }

        func numericValue(_ prop: PropertyDecl, _ s: JSONFieldExtractor.Span, base: UnsafeRawPointer)
            throws(FormatError) -> PropertyValue
        {
            if s.kind == .missing || s.kind == .null { return missingOrNull(prop, s) }
            if prop.type == .int {
                return .int(try intValue(s, base: base, property: prop.name)!)
            }
            guard s.kind == .number || s.kind == .string else { throw mismatch(prop.name, expected: "a number", s) }
            let body = UnsafeRawBufferPointer(start: base + Int(s.start), count: Int(s.end - s.start))
            guard let d = NumberParsing.parseDouble(body) else {
                throw FormatError(
                    .typeMismatch, "property \"\(prop.name)\" expects a number, found a non-numeric string",
                    at: located(Int(s.start)))
            }
            return .float(d)
        }

        mutating func finish() {
            result.keyTable = keyTable.table()
            result.numericColumns = numericColumns.finish()
        }
    }
}

extension Array where Element == UInt8 {
    @inline(__always) mutating func writeVarint32(_ value: UInt32) {
        var v = value
        while v >= 0x80 {
            append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        append(UInt8(v))
    }
}

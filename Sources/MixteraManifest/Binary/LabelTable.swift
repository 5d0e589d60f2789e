import MixteraCore
import Synchronization

/// `labels.bin` of a format 1.2 manifest (docs/manifest-format.md §3.3, normative):
///
/// ```
/// offset size field
///  0      8   magic "MXTRLABL"
///  8      2   major version (1)
/// 10      2   minor version (0)
/// 12      4   flags (0)
/// 16      4   checkpoint interval g
/// 20      4   labelled file count n
/// 24      4   label radix N (labels are below N)
/// 28      4   reserved (0)
/// 32      8   XXH3-64 of header.json
/// 40      8   XXH3-64 of bytes 0..<40
/// 48   32·n   directory: u32 file, u32 compressed size, u64 offset, u64 raw size, u64 XXH3-64 of the frame
///  …      8   XXH3-64 of the directory
///  …      …   one zstd frame per file: labels packed p to a byte in base N (N^p ≤ 256), then
///             varint checkpoint deltas[ceil(samples / g)]
/// ```
public enum LabelTableFormat {
    public static let magic: [UInt8] = Array("MXTRLABL".utf8)
    public static let major: UInt16 = 1
    public static let minor: UInt16 = 0
    public static let fileName = "labels.bin"
    public static let fixedHeaderBytes = 48
    public static let directoryEntryBytes = 32
    /// The checkpoint interval mixtera writes: a reader drops at most 63 records before an entry's first row.
    public static let interval = 64
    public static let maxInterval = 65_536
    /// Packed labels of a mixed layout are independent draws: the entropy coder does the work, and levels 5–12
    /// do worse than 3 (they spend bytes on short matches); 19 gains under 0.5 % at 100 times the time.
    static let level: Int32 = 3

    /// Labels packed `perByte(radix:)` to a byte, the first in the lowest digit (§3.3).
    public static func pack(_ labels: UnsafeBufferPointer<UInt8>, radix: Int) -> [UInt8] {
        let per = perByte(radix: radix)
        var out = [UInt8](repeating: 0, count: (labels.count + per - 1) / per)
        var i = 0
        var j = 0
        while i < labels.count {
            var v = 0
            var m = 1
            for t in 0..<per where i + t < labels.count {
                v += Int(labels[i + t]) * m
                m *= radix
            }
            out[j] = UInt8(v)
            j += 1
            i += per
        }
        return out
    }

    /// Checkpoints as varint deltas (§3.3).
    public static func deltas(_ checkpoints: [Int64]) -> [UInt8] {
        var w = ByteWriter(capacity: 3 * checkpoints.count)
        var prev: Int64 = 0
        for x in checkpoints {
            w.writeVarint(UInt64(x - prev))
            prev = x
        }
        return w.bytes
    }

    /// Labels per packed byte for radix `n`: the largest p with n^p ≤ 256.
    public static func perByte(radix n: Int) -> Int {
        var p = 1
        var v = n
        while v * n <= 256 {
            v *= n
            p += 1
        }
        return p
    }
    /// The largest component index a label can name (labels are `component + 1` in a byte).
    public static let maxComponent = 254
}

/// One file's labels (`component + 1` per row, 0 for none) and checkpoints, with rank and select by label.
public final class FileLabels: Sendable {
    /// One label per row (a slice: a writer's table shares one array over all files; use 0-based offsets from
    /// `startIndex`, or the buffer).
    public let labels: ArraySlice<UInt8>
    /// Locator of rows 0, g, 2g, …
    public let checkpoints: [Int64]
    public let interval: Int
    /// `counts[k · width + l]`: rows labelled `l` before row `k << groupShift`, for k in 0 ... groups.
    private let counts: [UInt32]
    private let width: Int
    static let groupShift = 9

    public convenience init(labels: [UInt8], checkpoints: [Int64], interval: Int) {
        self.init(labels: labels[...], checkpoints: checkpoints, interval: interval)
    }

    public init(labels: ArraySlice<UInt8>, checkpoints: [Int64], interval: Int) {
        self.labels = labels
        self.checkpoints = checkpoints
        self.interval = interval
        let width = Int(labels.max() ?? 0) + 1
        self.width = width
        let group = 1 << Self.groupShift
        let groups = (labels.count + group - 1) >> Self.groupShift
        var counts = [UInt32](repeating: 0, count: (groups + 1) * width)
        var running = [UInt32](repeating: 0, count: width)
        labels.withUnsafeBufferPointer { p in
            for k in 0..<groups {
                for l in 0..<width { counts[k * width + l] = running[l] }
                for r in (k << Self.groupShift)..<min(p.count, (k + 1) << Self.groupShift) { running[Int(p[r])] &+= 1 }
            }
        }
        for l in 0..<width { counts[groups * width + l] = running[l] }
        self.counts = counts
    }

    public var rowCount: Int { labels.count }

    /// Rows labelled `label` in the file.
    public func total(_ label: UInt8) -> Int {
        Int(label) < width ? Int(counts[(counts.count / width - 1) * width + Int(label)]) : 0
    }

    /// Rows before `row` labelled `label`: the member index of `row` when it has that label.
    public func rank(_ label: UInt8, before row: Int) -> Int {
        guard Int(label) < width else { return 0 }
        let k = row >> Self.groupShift
        var n = Int(counts[k * width + Int(label)])
        labels.withUnsafeBufferPointer { p in
            for r in (k << Self.groupShift)..<row where p[r] == label { n += 1 }
        }
        return n
    }

    /// The row of the `member`-th (0-based) row labelled `label`, or nil when there are not that many.
    public func select(_ label: UInt8, _ member: Int) -> Int? {
        let l = Int(label)
        guard l < width, member >= 0, member < total(label) else { return nil }
        // The last group whose count before it is ≤ member holds the row (counts[0] = 0 ≤ member < counts[groups]).
        var lo = 0
        var hi = counts.count / width - 1
        while hi - lo > 1 {
            let mid = (lo + hi) >> 1
            if Int(counts[mid * width + l]) <= member { lo = mid } else { hi = mid }
        }
        var n = Int(counts[lo * width + l])
        return labels.withUnsafeBufferPointer { p -> Int? in
            for r in (lo << Self.groupShift)..<p.count where p[r] == label {
                if n == member { return r }
                n += 1
            }
            return nil
        }
    }

    /// The rows of the label entry (`label`, `member`, `count`): its first row and the records skipped after
    /// each row but the last (empty when the rows are consecutive); nil when the file has fewer than
    /// `member + count` rows labelled `label`.
    public func resolve(_ label: UInt8, member: Int, count: Int) -> (row: Int, skips: [UInt32])? {
        guard count >= 1, member <= total(label) - count, let first = select(label, member) else { return nil }
        if count == 1 { return (first, []) }
        var skips: [UInt32] = []
        skips.reserveCapacity(count - 1)
        var gapped = false
        labels.withUnsafeBufferPointer { p in
            var prev = first
            var r = first + 1
            while skips.count < count - 1 {
                if p[r] == label {
                    let gap = r - prev - 1
                    gapped = gapped || gap > 0
                    skips.append(UInt32(truncatingIfNeeded: gap))
                    prev = r
                }
                r += 1
            }
        }
        return (first, gapped ? skips : [])
    }

    /// The locator to start reading row `row` from, and the records to drop before it.
    @inline(__always) public func start(row: Int) -> (locator: Int64, lead: Int) {
        (checkpoints[row / interval], row % interval)
    }
}

/// A manifest's label table: per labelled file, its `FileLabels`. Read from `labels.bin`, the fixed header and the
/// directory are verified when it is opened and a file's frame (checksum, size, labels, checkpoints) when the file is
/// first asked for (`verifyAll` checks every frame); built by a writer, it holds its files decoded.
public final class LabelTable: Sendable {
    public let interval: Int
    /// Every label is below the radix (mixtera: components + 1).
    public let radix: Int
    /// Indices of the labelled files, ascending.
    public let labelledFiles: [Int]
    private let fileCount: Int
    /// Decoded files (all of them for a built table; those asked for so far for a read one).
    private let decoded: Mutex<[Int: FileLabels]>
    private let encoded: Encoded?

    /// What reading a frame needs: the file's bytes and, per labelled file, where its frame is.
    private struct Encoded: Sendable {
        let bytes: [UInt8]
        let path: String
        let frames: [Int: Frame]
    }
    private struct Frame: Sendable {
        let entry: Int  // byte offset of the directory entry
        let offset: Int
        let size: Int
        let rawSize: Int
        let hash: UInt64
        let samples: Int
    }

    public init(interval: Int, radix: Int, fileCount: Int, files: [(file: Int, labels: FileLabels)]) {
        precondition(radix >= 2 && radix <= 256)
        self.interval = interval
        self.radix = radix
        self.fileCount = fileCount
        var byFile: [Int: FileLabels] = [:]
        for (f, l) in files { byFile[f] = l }
        decoded = Mutex(byFile)
        labelledFiles = files.map(\.file).sorted()
        encoded = nil
    }

    /// The labels of `file`, nil when it has none; a damaged frame is an error.
    public func labels(file: Int) throws(ManifestError) -> FileLabels? {
        guard file >= 0 && file < fileCount else { return nil }
        if let l = decoded.withLock({ $0[file] }) { return l }
        guard let encoded, let frame = encoded.frames[file] else { return nil }
        let l = try Self.decode(frame, file: file, in: encoded, interval: interval, radix: radix)
        decoded.withLock { $0[file] = l }
        return l
    }

    /// Decodes and checks every frame (`mixtera verify`).
    public func verifyAll() throws(ManifestError) {
        for f in labelledFiles { _ = try labels(file: f) }
    }

    /// Encodes `labels.bin`; frames are compressed once (`LabelTableEncoder`), the header hash set last.
    public static func encoder(_ table: LabelTable) -> LabelTableEncoder {
        var e = LabelTableEncoder(interval: table.interval, radix: table.radix)
        for f in table.labelledFiles {
            let l = table.decoded.withLock { $0[f]! }
            l.labels.withUnsafeBufferPointer { e.add(file: f, labels: $0, checkpoints: l.checkpoints) }
        }
        return e
    }

    /// Reads `labels.bin` and verifies its fixed header and directory against its header (docs/manifest-format.md
    /// §3.3, §6).
    public convenience init(path: String, header: ManifestHeader, headerHash: UInt64) throws(ManifestError) {
        let bytes: [UInt8]
        do {
            guard try FileSystem.stat(path) != nil else {
                throw ManifestError(
                    "missing-labels", "header.json names \(LabelTableFormat.fileName), which is missing",
                    at: DataLocation(path: path), category: .noInput)
            }
            bytes = try FileSystem.readAll(path)
        } catch let e as ManifestError {
            throw e
        } catch let e as CoreError {
            throw ManifestError("io", e.message, at: e.location, category: e.category)
        } catch {
            throw ManifestError("io", "\(error)", at: DataLocation(path: path), category: .io)
        }
        try self.init(bytes: bytes, path: path, header: header, headerHash: headerHash)
    }

    public init(bytes: [UInt8], path: String, header: ManifestHeader, headerHash: UInt64) throws(ManifestError) {
        func at(_ offset: Int) -> DataLocation { DataLocation(path: path, byteOffset: Int64(offset)) }
        let fixed = LabelTableFormat.fixedHeaderBytes
        guard bytes.count >= fixed else {
            throw ManifestError("truncated", "labels file is truncated (\(bytes.count) bytes)", at: at(bytes.count))
        }
        guard Array(bytes[0..<8]) == LabelTableFormat.magic else {
            throw ManifestError("bad-magic", "not a mixtera labels file (bad magic)", at: at(0))
        }
        func u16(_ o: Int) -> UInt16 { UInt16(bytes[o]) | UInt16(bytes[o + 1]) << 8 }
        func u32(_ o: Int) -> UInt32 { (0..<4).reduce(0) { $0 | UInt32(bytes[o + $1]) << (8 * UInt32($1)) } }
        func u64(_ o: Int) -> UInt64 { (0..<8).reduce(0) { $0 | UInt64(bytes[o + $1]) << (8 * UInt64($1)) } }
        let major = u16(8)
        guard major == LabelTableFormat.major else {
            throw ManifestError(
                "unsupported-version",
                "labels file format version \(major).\(u16(10)) is not supported (this reader supports \(LabelTableFormat.major).x)",
                at: at(8))
        }
        guard XXH3.hash(Array(bytes[0..<40])) == u64(40) else {
            throw ManifestError("checksum-mismatch", "labels file header checksum mismatch; the file is corrupt", at: at(40))
        }
        let flags = u32(12)
        guard flags == 0, u32(28) == 0 else {
            throw ManifestError("unsupported-flags", "labels file has unknown flags 0x\(String(flags, radix: 16))", at: at(12))
        }
        let g = Int(u32(16))
        guard g >= 1 && g <= LabelTableFormat.maxInterval else {
            throw ManifestError("corrupt", "labels file has checkpoint interval \(g), outside 1...65536", at: at(16))
        }
        let radix = Int(u32(24))
        guard radix >= 2 && radix <= 256 else {
            throw ManifestError("corrupt", "labels file has label radix \(radix), outside 2...256", at: at(24))
        }
        guard u64(32) == headerHash else {
            throw ManifestError(
                "header-mismatch", "labels file belongs to a different header.json (header checksum differs)", at: at(32))
        }
        let n = Int(u32(20))
        let dirEnd = fixed + n * LabelTableFormat.directoryEntryBytes
        guard n <= header.files.count, dirEnd + 8 <= bytes.count else {
            throw ManifestError(
                "truncated", "labels file is truncated: its directory of \(n) files does not fit", at: at(bytes.count))
        }
        guard XXH3.hash(Array(bytes[fixed..<dirEnd])) == u64(dirEnd) else {
            throw ManifestError("checksum-mismatch", "labels directory checksum mismatch; the file is corrupt", at: at(dirEnd))
        }
        let per = LabelTableFormat.perByte(radix: radix)
        var frames: [Int: Frame] = [:]
        var order: [Int] = []
        var expected = dirEnd + 8
        var previous = -1
        for i in 0..<n {
            let e = fixed + i * LabelTableFormat.directoryEntryBytes
            let file = Int(u32(e))
            let size = Int(u32(e + 4))
            let offset = u64(e + 8)
            let rawSize = u64(e + 16)
            guard file > previous, file < header.files.count, header.files[file].format == "jsonl" else {
                throw ManifestError(
                    "corrupt",
                    "labels directory entry \(i) names file \(file), which is out of order, out of range or not jsonl",
                    at: at(e))
            }
            previous = file
            guard offset == UInt64(expected), size <= bytes.count - expected else {
                throw ManifestError(
                    "corrupt", "labels frame of file \(file) is not where the previous one ends, or runs past the end",
                    at: at(e + 8))
            }
            let samples = Int(clamping: header.files[file].sampleCount)
            let checkpointCount = (samples + g - 1) / g
            let packed = (samples + per - 1) / per
            // Each checkpoint takes 1 to 10 bytes.
            guard rawSize >= UInt64(packed + checkpointCount), rawSize <= UInt64(packed + 10 * checkpointCount) else {
                throw ManifestError(
                    "corrupt", "labels frame of file \(file) has raw size \(rawSize) for \(samples) samples", at: at(e + 16))
            }
            frames[file] = Frame(
                entry: e, offset: expected, size: size, rawSize: Int(rawSize), hash: u64(e + 24), samples: samples)
            order.append(file)
            expected += size
        }
        guard expected == bytes.count else {
            throw ManifestError(
                "corrupt", "labels file has \(bytes.count - expected) bytes after its last frame", at: at(expected))
        }
        interval = g
        self.radix = radix
        fileCount = header.files.count
        labelledFiles = order
        decoded = Mutex([:])
        encoded = Encoded(bytes: bytes, path: path, frames: frames)
    }

    /// Checks and decodes one frame: checksum, size, packed labels below N^p, checkpoints.
    private static func decode(_ f: Frame, file: Int, in encoded: Encoded, interval g: Int, radix: Int) throws(ManifestError)
        -> FileLabels
    {
        let at = DataLocation(path: encoded.path, byteOffset: Int64(f.offset))
        let frame = encoded.bytes[f.offset..<(f.offset + f.size)]
        guard XXH3.hash(Array(frame)) == f.hash else {
            throw ManifestError(
                "checksum-mismatch", "labels frame of file \(file) checksum mismatch; the file is corrupt", at: at)
        }
        let raw: [UInt8]
        do { raw = try Zstd.decompress(frame, maxSize: f.rawSize) } catch {
            throw ManifestError("corrupt", "labels frame of file \(file) does not decompress", at: at)
        }
        guard raw.count == f.rawSize else {
            throw ManifestError(
                "corrupt", "labels frame of file \(file) decompresses to \(raw.count) bytes, not \(f.rawSize)", at: at)
        }
        let per = LabelTableFormat.perByte(radix: radix)
        var limit = 1
        for _ in 0..<per { limit *= radix }
        let samples = f.samples
        let packed = (samples + per - 1) / per
        let checkpointCount = (samples + g - 1) / g
        var labels = [UInt8](repeating: 0, count: samples)
        var bad = false
        raw.withUnsafeBufferPointer { src in
            labels.withUnsafeMutableBufferPointer { dst in
                var row = 0
                for i in 0..<packed {
                    var v = Int(src[i])
                    bad = bad || v >= limit
                    for _ in 0..<per where row < samples {
                        dst[row] = UInt8(truncatingIfNeeded: v % radix)
                        v /= radix
                        row += 1
                    }
                }
            }
        }
        guard !bad else {
            throw ManifestError(
                "corrupt", "labels frame of file \(file) has a packed byte of \(limit) or more (radix \(radix))", at: at)
        }
        var r = ByteReader(raw, offset: packed)
        var checkpoints: [Int64] = []
        checkpoints.reserveCapacity(checkpointCount)
        var locator: Int64 = 0
        do {
            for _ in 0..<checkpointCount {
                let d = try r.readVarint()
                guard d <= UInt64(Int64.max - locator) else { throw ByteReaderError.truncated(offset: r.offset) }
                locator += Int64(d)
                checkpoints.append(locator)
            }
        } catch {
            throw ManifestError("corrupt", "labels frame of file \(file) has malformed checkpoints", at: at)
        }
        guard r.offset == raw.count else {
            throw ManifestError(
                "corrupt", "labels frame of file \(file) has \(raw.count - r.offset) bytes after its checkpoints", at: at)
        }
        return FileLabels(labels: labels, checkpoints: checkpoints, interval: g)
    }
}

/// `labels.bin` being written: frames are compressed as files are added, so the size is known before the
/// header (whose hash the file carries) is.
public struct LabelTableEncoder: Sendable {
    public let interval: Int
    public let radix: Int
    private var entries: [(file: Int, frame: [UInt8], rawSize: Int)] = []

    public init(interval: Int, radix: Int) {
        self.interval = interval
        self.radix = radix
    }

    /// Adds a file's frame from its labels (one per row) and checkpoints (the locator of every `interval`-th row):
    /// the packed labels and the checkpoint deltas in zstd blocks of their own (their bytes follow different
    /// statistics; one entropy table for both costs about 7 % more on the bench's manifests).
    public mutating func add(file: Int, labels: UnsafeBufferPointer<UInt8>, checkpoints: [Int64]) {
        precondition(entries.last.map { $0.file < file } ?? true, "labelled files must be added in increasing order")
        let parts = [LabelTableFormat.pack(labels, radix: radix), LabelTableFormat.deltas(checkpoints)]
        entries.append((file, Zstd.compress(parts: parts, level: LabelTableFormat.level), parts[0].count + parts[1].count))
    }

    /// The labelled files so far, ascending.
    public var files: [Int] { entries.map(\.file) }

    /// The size of the encoded file in bytes.
    public var byteCount: Int {
        LabelTableFormat.fixedHeaderBytes + LabelTableFormat.directoryEntryBytes * entries.count + 8
            + entries.reduce(0) { $0 + $1.frame.count }
    }

    public func bytes(headerHash: UInt64) -> [UInt8] {
        var w = ByteWriter(capacity: byteCount)
        w.write(LabelTableFormat.magic)
        w.writeUInt16LE(LabelTableFormat.major)
        w.writeUInt16LE(LabelTableFormat.minor)
        w.writeUInt32LE(0)
        w.writeUInt32LE(UInt32(interval))
        w.writeUInt32LE(UInt32(entries.count))
        w.writeUInt32LE(UInt32(radix))
        w.writeUInt32LE(0)
        w.writeUInt64LE(headerHash)
        w.writeUInt64LE(XXH3.hash(w.bytes))
        var offset = UInt64(LabelTableFormat.fixedHeaderBytes + LabelTableFormat.directoryEntryBytes * entries.count + 8)
        var dir = ByteWriter(capacity: LabelTableFormat.directoryEntryBytes * entries.count)
        for e in entries {
            dir.writeUInt32LE(UInt32(e.file))
            dir.writeUInt32LE(UInt32(e.frame.count))
            dir.writeUInt64LE(offset)
            dir.writeUInt64LE(UInt64(e.rawSize))
            dir.writeUInt64LE(XXH3.hash(e.frame))
            offset += UInt64(e.frame.count)
        }
        w.write(dir.bytes)
        w.writeUInt64LE(XXH3.hash(dir.bytes))
        for e in entries { w.write(e.frame) }
        return w.bytes
    }
}

import Dispatch
import MixteraCore

#if canImport(Glibc)
    import Glibc
#endif

/// Rank file layout (all integers little-endian; docs/manifest-format.md is normative):
///
/// ```
/// offset size field
///  0      8   magic "MXTRRANK"
///  8      2   major version (1)
/// 10      2   minor version (0; 1 when flag bit 0 is set; 2 when flag bit 1 is set)
/// 12      4   flags (bit 0: entries may be sparse; bit 1: label entries; readers reject unknown bits)
/// 16      4   rank
/// 20      4   data_parallel
/// 24      8   step count
/// 32      4   samples per step (b = global_batch / data_parallel)
/// 36      4   steps per block (K)
/// 40      8   XXH3-64 of header.json
/// 48      8   block table offset
/// 56      8   XXH3-64 of bytes 0..<56
/// 64      …   blocks: one zstd frame per K steps
/// table       per block: u64 offset, u32 compressed size, u32 raw size, u64 XXH3-64 of the compressed bytes
/// end-8   8   XXH3-64 of the block table
/// ```
/// A raw block holds `u32 stepOffsets[k + 1]` (k = steps in the block; offsets relative to the end
/// of the offset array), then per step: varint entry count, then per entry: varint component,
/// zigzag file delta, zigzag row delta, varint count, zigzag locator delta (see docs/manifest-format.md §3.1).
public enum RankFileFormat {
    public static let magic: [UInt8] = Array("MXTRRANK".utf8)
    public static let major: UInt16 = 1
    public static let minor: UInt16 = 0
    /// Minor version of files whose entries may be sparse (flag bit 0).
    public static let sparseMinor: UInt16 = 1
    public static let sparseFlag: UInt32 = 1
    /// Minor version of files with label entries (flag bit 1, always with bit 0; docs/manifest-format.md §3.3).
    public static let labelMinor: UInt16 = 2
    public static let labelFlag: UInt32 = 2
    /// Column blocks (flag bit 1): step entry counts, components, file deltas, member or row, count, locator, skips.
    public static let columnCount = 7
    public static let fixedHeaderBytes = 64
    public static let tableEntryBytes = 24

    /// Steps per block: about 64 KiB of raw entries at one entry per sample, between 1 and 4096.
    public static func stepsPerBlock(samplesPerStep b: Int) -> Int {
        max(1, min(4096, 16_384 / max(1, b)))
    }
}

/// Delta-coding state within one step: entries of the same file as the previous entry store their row
/// relative to the previous entry's end and their locator relative to the previous entry's locator.
struct EntryDeltaState {
    var file = 0
    var rowEnd: Int64 = 0
    var locator: Int64 = 0
}

/// A growable byte buffer for the encoder's hot loop: capacity is ensured once per entry, then bytes are
/// stored through a pointer (no per-byte `append` bookkeeping).
struct EncodeBuffer {
    private(set) var storage: [UInt8] = []
    private(set) var count = 0
    /// The size of the first allocation (then ×1.5 per growth); storage is allocated on first use.
    var initialCapacity: Int

    init(capacity: Int) { initialCapacity = max(capacity, 64) }

    @inline(__always) mutating func ensure(_ extra: Int) {
        if count + extra > storage.count { grow(count + extra) }
    }

    private mutating func grow(_ needed: Int) {
        var n = max(storage.count, initialCapacity)
        while n < needed { n += n / 2 }
        // A new exact-size array (appending would let Array pick its own, larger, capacity).
        var bigger = [UInt8](repeating: 0, count: n)
        let used = count
        if used > 0 {
            storage.withUnsafeBufferPointer { src in
                bigger.withUnsafeMutableBufferPointer { $0.baseAddress!.update(from: src.baseAddress!, count: used) }
            }
        }
        storage = bigger
    }

    mutating func removeAll() { count = 0 }

    /// Advances the write position by `n` bytes (ensured by the caller), left as they are.
    mutating func skip(_ n: Int) { count += n }

    /// Stores bytes through `body`, which gets the buffer and the write position and returns the new position.
    /// The caller must have called `ensure` for everything `body` writes.
    @inline(__always) mutating func write(_ body: (UnsafeMutablePointer<UInt8>, Int) -> Int) {
        let start = count
        count = storage.withUnsafeMutableBufferPointer { body($0.baseAddress!, start) }
    }

    mutating func append(_ other: EncodeBuffer) {
        ensure(other.count)
        let n = other.count
        guard n > 0 else { return }
        other.storage.withUnsafeBufferPointer { src in
            write { p, o in
                (p + o).update(from: src.baseAddress!, count: n)
                return o + n
            }
        }
    }

    /// Hands over the bytes written (the storage itself, no copy) and leaves the buffer empty; its next
    /// allocation is sized like this one.
    mutating func take() -> [UInt8] {
        var out = storage
        storage = []
        out.removeSubrange(count...)
        initialCapacity = max(64, count + count / 8)
        count = 0
        return out
    }

    var bytes: ArraySlice<UInt8> { storage[0..<count] }
}

@inline(__always) func putVarint(_ p: UnsafeMutablePointer<UInt8>, _ o: inout Int, _ value: UInt64) {
    var v = value
    while v >= 0x80 {
        p[o] = UInt8(truncatingIfNeeded: v) | 0x80
        o += 1
        v >>= 7
    }
    p[o] = UInt8(truncatingIfNeeded: v)
    o += 1
}

@inline(__always) func putSignedVarint(_ p: UnsafeMutablePointer<UInt8>, _ o: inout Int, _ value: Int64) {
    putVarint(p, &o, UInt64(bitPattern: (value &<< 1) ^ (value >> 63)))
}

/// Compresses and writes blocks of rank files on one background thread, in submission order, so that
/// planning (the caller's thread) overlaps zstd and I/O. At most `depth` blocks wait at a time. Blocks of
/// one rank file are written in order, so the output does not depend on timing.
public final class BlockPipeline: @unchecked Sendable {
    private let queue = DispatchQueue(label: "mixtera.rank-blocks")
    private let slots: DispatchSemaphore

    public init(depth: Int = 1) { slots = DispatchSemaphore(value: max(1, depth)) }

    func submit(_ work: @escaping @Sendable () -> Void) {
        slots.wait()
        queue.async {
            work()
            self.slots.signal()
        }
    }

    /// Waits until every submitted block is written.
    public func drain() { queue.sync {} }
}

/// A rank file being written to disk block by block: only the block table stays in memory.
final class RankFileSink: @unchecked Sendable {
    let path: String
    private var fd: Int32
    /// Where the next block goes (the fixed header is written last, at offset 0).
    private(set) var offset = Int64(RankFileFormat.fixedHeaderBytes)
    private(set) var table = ByteWriter()
    /// The first write error; later blocks are dropped and `finish` reports it.
    private(set) var error: ManifestError?

    init(path: String) throws(ManifestError) {
        self.path = path
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        if fd < 0 {
            let e = CoreError.fromErrno(errno, op: "create", path: path, creating: true)
            throw ManifestError("cannot-create", e.message, at: e.location, category: e.category)
        }
    }

    deinit { if fd >= 0 { Glibc.close(fd) } }

    /// Compresses `raw` and appends it with its table entry.
    func writeBlock(_ raw: [UInt8]) {
        guard error == nil else { return }
        let compressed = Zstd.compress(raw, level: 3)
        table.writeUInt64LE(UInt64(offset))
        table.writeUInt32LE(UInt32(compressed.count))
        table.writeUInt32LE(UInt32(raw.count))
        table.writeUInt64LE(XXH3.hash(compressed))
        write(compressed[...], at: offset)
        offset += Int64(compressed.count)
    }

    func write(_ bytes: ArraySlice<UInt8>, at position: Int64) {
        guard error == nil else { return }
        var done = 0
        bytes.withUnsafeBytes { b in
            while done < b.count {
                let n = pwrite(fd, b.baseAddress! + done, b.count - done, off_t(position) + off_t(done))
                if n < 0 {
                    if errno == EINTR { continue }
                    let e = CoreError.fromErrno(errno, op: "write", path: path, creating: true)
                    error = ManifestError("cannot-create", e.message, at: e.location, category: e.category)
                    return
                }
                done += n
            }
        }
    }

    /// fsyncs and closes the file.
    func close() throws(ManifestError) {
        if error == nil && fsync(fd) != 0 {
            let e = CoreError.fromErrno(errno, op: "fsync", path: path, creating: true)
            error = ManifestError("cannot-create", e.message, at: e.location, category: e.category)
        }
        Glibc.close(fd)
        fd = -1
        if let error { throw error }
    }
}

/// Builds one rank file step by step: in memory (`finish`), or streamed to disk block by block
/// (`ManifestWriter.rankFileWriter`, then `finishFile`) so that memory holds one block, not the file.
public struct RankFileWriter {
    public let rank: Int
    public let dataParallel: Int
    public let samplesPerStep: Int
    let stepsPerBlock: Int
    /// In-memory mode: the file so far (fixed header placeholder, blocks).
    private var body = ByteWriter()
    private var table = ByteWriter()
    /// The current raw block: room for the step offsets (`offsetBytes`), then its steps encoded back to
    /// back; `stepEnds` are where each step ends, relative to the end of the offsets.
    private var blockBytes = EncodeBuffer(capacity: 1 << 16)
    private var stepEnds: [UInt32] = []
    private var offsetBytes: Int { 4 * (stepsPerBlock + 1) }
    /// The current step's entries (its entry count is written before them when the step ends).
    private var stepBytes = EncodeBuffer(capacity: 1 << 10)
    private var stepEntries = 0
    private var stepSamples = 0
    private var prev = EntryDeltaState()
    private var stepCount = 0
    /// With label entries, the current block's columns (docs/manifest-format.md §3.1).
    private var columns: [EncodeBuffer] = []
    private let sink: RankFileSink?
    private let pipeline: BlockPipeline?

    /// When true, counts are written as `count << 1 | sparse` and sparse entries carry their skips
    /// (flag bit 0, minor version 1); otherwise the 1.0 encoding, and entries must not be sparse.
    public let sparseEntries: Bool
    /// When true, entries of labelled files are label entries (`appendLabelEntry`; flag bits 0 and 1, minor
    /// version 2).
    public let labelEntries: Bool

    public init(rank: Int, dataParallel: Int, samplesPerStep: Int, sparseEntries: Bool = false, labelEntries: Bool = false) {
        self.init(
            rank: rank, dataParallel: dataParallel, samplesPerStep: samplesPerStep, sparseEntries: sparseEntries,
            labelEntries: labelEntries, sink: nil, pipeline: nil)
    }

    init(
        rank: Int, dataParallel: Int, samplesPerStep: Int, sparseEntries: Bool, labelEntries: Bool, sink: RankFileSink?,
        pipeline: BlockPipeline?
    ) {
        precondition(!labelEntries || sparseEntries, "label entries need sparse entries (flag bit 1 implies bit 0)")
        self.sparseEntries = sparseEntries
        self.labelEntries = labelEntries
        if labelEntries {
            columns = (0..<RankFileFormat.columnCount).map { EncodeBuffer(capacity: $0 == 3 ? 1 << 14 : 1 << 12) }
        }
        self.rank = rank
        self.dataParallel = dataParallel
        self.samplesPerStep = samplesPerStep
        self.sink = sink
        self.pipeline = sink == nil ? nil : pipeline
        stepsPerBlock = RankFileFormat.stepsPerBlock(samplesPerStep: samplesPerStep)
        if sink == nil {
            body = ByteWriter(capacity: 1 << 16)
            body.write(repeatElement(0, count: RankFileFormat.fixedHeaderBytes))
        }
    }

    /// Appends the entries of the next step (their counts must sum to `samplesPerStep`).
    public mutating func appendStep(_ entries: [ManifestEntry]) {
        for e in entries {
            appendEntry(
                component: e.component, file: e.file, row: e.row, count: e.count, locator: e.locator, skips: e.skips,
                sparse: e.isSparse)
        }
        endStep()
    }

    /// Appends one entry to the current step. `skips` (the records skipped after each row but the last,
    /// `count − 1` values) is read only when `sparse`.
    @inline(__always)
    public mutating func appendEntry(
        component: Int, file: Int, row: Int64, count: Int, locator: Int64, skips: [UInt32], sparse: Bool
    ) {
        precondition(!sparse || sparseEntries, "sparse entry written without sparseEntries")
        let same = file == prev.file
        var rowEnd = row + Int64(count)
        if labelEntries {
            put(1, UInt64(component))
            put(2, zigzag(Int64(file - prev.file)))
            put(3, zigzag(row - (same ? prev.rowEnd : 0)))
            put(4, UInt64(count) << 1 | (sparse ? 1 : 0))
            put(5, zigzag(locator - (same ? prev.locator : 0)))
            if sparse {
                for k in skips {
                    put(6, UInt64(k))
                    rowEnd += Int64(k)
                }
            }
            prev = EntryDeltaState(file: file, rowEnd: rowEnd, locator: locator)
            stepEntries += 1
            stepSamples += count
            return
        }
        stepBytes.ensure(50 + (sparse ? 5 * skips.count : 0))
        let sparseEntries = self.sparseEntries
        let prev = self.prev
        stepBytes.write { p, start in
            var o = start
            putVarint(p, &o, UInt64(component))
            putSignedVarint(p, &o, Int64(file - prev.file))
            putSignedVarint(p, &o, row - (same ? prev.rowEnd : 0))
            putVarint(p, &o, sparseEntries ? UInt64(count) << 1 | (sparse ? 1 : 0) : UInt64(count))
            putSignedVarint(p, &o, locator - (same ? prev.locator : 0))
            if sparse {
                for k in skips {
                    putVarint(p, &o, UInt64(k))
                    rowEnd += Int64(k)
                }
            }
            return o
        }
        self.prev = EntryDeltaState(file: file, rowEnd: rowEnd, locator: locator)
        stepEntries += 1
        stepSamples += count
    }

    /// Appends a label entry: the `count` rows of `file` labelled `component + 1` from the `member`-th on
    /// (docs/manifest-format.md §3.1). Only for files in the manifest's label table.
    public mutating func appendLabelEntry(component: Int, file: Int, member: Int, count: Int) {
        precondition(labelEntries, "label entry written without labelEntries")
        put(1, UInt64(component))
        put(2, zigzag(Int64(file - prev.file)))
        put(3, UInt64(member))
        put(4, UInt64(count))
        prev.file = file
        stepEntries += 1
        stepSamples += count
    }

    @inline(__always) private mutating func put(_ column: Int, _ value: UInt64) {
        columns[column].ensure(10)
        columns[column].write { p, start in
            var o = start
            putVarint(p, &o, value)
            return o
        }
    }

    @inline(__always) private func zigzag(_ v: Int64) -> UInt64 { UInt64(bitPattern: (v &<< 1) ^ (v >> 63)) }

    /// Ends the current step (the entries appended since the last one).
    public mutating func endStep() {
        assert(stepSamples == samplesPerStep, "step does not hold b samples")
        if labelEntries {
            put(0, UInt64(stepEntries))
            stepEnds.append(0)
            stepEntries = 0
            stepSamples = 0
            prev = EntryDeltaState()
            stepCount += 1
            if stepEnds.count == stepsPerBlock { flushBlock() }
            return
        }
        if blockBytes.count == 0 {
            blockBytes.ensure(offsetBytes)
            blockBytes.skip(offsetBytes)
        }
        blockBytes.ensure(10 + stepBytes.count)
        let n = stepEntries
        blockBytes.write { p, start in
            var o = start
            putVarint(p, &o, UInt64(n))
            return o
        }
        blockBytes.append(stepBytes)
        stepEnds.append(UInt32(blockBytes.count - offsetBytes))
        stepBytes.removeAll()
        stepEntries = 0
        stepSamples = 0
        prev = EntryDeltaState()
        stepCount += 1
        if stepEnds.count == stepsPerBlock { flushBlock() }
    }

    /// Writes the current, possibly incomplete, block now instead of holding it until `finishFile`; call
    /// only after the file's last step (a block ends early only at the end of the file).
    public mutating func flushLastBlock() { flushBlock() }

    /// The raw block: `u32 stepOffsets[k + 1]` (k = steps in the block), then the steps.
    private mutating func flushBlock() {
        guard !stepEnds.isEmpty else { return }
        if labelEntries {
            // Column block: u32 column lengths, then the columns.
            var out = EncodeBuffer(capacity: 4 * columns.count + columns.reduce(0) { $0 + $1.count })
            out.ensure(4 * columns.count)
            let lengths = columns.map { UInt32($0.count) }
            out.write { p, start in
                var o = start
                for v in lengths {
                    for i in 0..<4 { p[o + i] = UInt8(truncatingIfNeeded: v >> (8 * UInt32(i))) }
                    o += 4
                }
                return o
            }
            for i in columns.indices {
                out.append(columns[i])
                columns[i].removeAll()
            }
            stepEnds.removeAll(keepingCapacity: true)
            write(raw: out.take())
            return
        }
        let k = stepEnds.count
        let used = 4 * (k + 1)
        let reserved = offsetBytes
        let shift = reserved - used
        let ends = stepEnds
        blockBytes.write { p, end in
            // A last, shorter block needs fewer offsets: move its steps down.
            if shift > 0 { memmove(p + used, p + reserved, end - reserved) }
            var o = 0
            func u32(_ v: UInt32) {
                for i in 0..<4 { p[o + i] = UInt8(truncatingIfNeeded: v >> (8 * UInt32(i))) }
                o += 4
            }
            u32(0)
            for e in ends { u32(e) }
            return end - shift
        }
        let raw = blockBytes.take()
        stepEnds.removeAll(keepingCapacity: true)
        write(raw: raw)
    }

    /// Compresses a raw block and writes it: to the sink (through the pipeline when there is one) or to `body`.
    private mutating func write(raw: [UInt8]) {
        if let sink {
            if let pipeline {
                pipeline.submit { sink.writeBlock(raw) }
            } else {
                sink.writeBlock(raw)
            }
            return
        }
        let compressed = Zstd.compress(raw, level: 3)
        table.writeUInt64LE(UInt64(body.count))
        table.writeUInt32LE(UInt32(compressed.count))
        table.writeUInt32LE(UInt32(raw.count))
        table.writeUInt64LE(XXH3.hash(compressed))
        body.write(compressed)
    }

    /// The fixed header (bytes 0..<64) of a file whose block table starts at `tableOffset`.
    private func fixedHeader(headerHash: UInt64, tableOffset: Int) -> [UInt8] {
        var h = ByteWriter(capacity: 64)
        h.write(RankFileFormat.magic)
        h.writeUInt16LE(RankFileFormat.major)
        h.writeUInt16LE(
            labelEntries ? RankFileFormat.labelMinor : sparseEntries ? RankFileFormat.sparseMinor : RankFileFormat.minor)
        h.writeUInt32LE((sparseEntries ? RankFileFormat.sparseFlag : 0) | (labelEntries ? RankFileFormat.labelFlag : 0))
        h.writeUInt32LE(UInt32(rank))
        h.writeUInt32LE(UInt32(dataParallel))
        h.writeUInt64LE(UInt64(stepCount))
        h.writeUInt32LE(UInt32(samplesPerStep))
        h.writeUInt32LE(UInt32(stepsPerBlock))
        h.writeUInt64LE(headerHash)
        h.writeUInt64LE(UInt64(tableOffset))
        h.writeUInt64LE(XXH3.hash(h.bytes))
        return h.bytes
    }

    /// Finishes the file and returns its bytes, binding it to the header by its XXH3-64.
    public mutating func finish(headerHash: UInt64) -> [UInt8] {
        precondition(sink == nil, "finish() on a streaming writer; use finishFile(headerHash:)")
        flushBlock()
        let tableOffset = body.count
        body.write(table.bytes)
        body.writeUInt64LE(XXH3.hash(table.bytes))
        var out = body.bytes
        out.replaceSubrange(0..<64, with: fixedHeader(headerHash: headerHash, tableOffset: tableOffset))
        return out
    }

    /// Finishes a streaming writer: writes the last block, the block table and the fixed header, fsyncs
    /// and closes the file. Returns the file's size in bytes.
    public mutating func finishFile(headerHash: UInt64) throws(ManifestError) -> Int64 {
        guard let sink else { preconditionFailure("finishFile on an in-memory writer; use finish(headerHash:)") }
        flushBlock()
        pipeline?.drain()
        let tableOffset = sink.offset
        var tail = sink.table
        tail.writeUInt64LE(XXH3.hash(sink.table.bytes))
        sink.write(tail.bytes[...], at: tableOffset)
        sink.write(fixedHeader(headerHash: headerHash, tableOffset: Int(tableOffset))[...], at: 0)
        try sink.close()
        return tableOffset + Int64(tail.count)
    }
}

extension ManifestWriter {
    /// A rank file writer that streams to `rank`'s file in this manifest's temporary directory.
    /// - Parameter pipeline: compresses and writes blocks on a background thread (shared by all ranks);
    ///   nil writes them on the caller's thread.
    public func rankFileWriter(
        rank: Int, dataParallel: Int, samplesPerStep: Int, sparseEntries: Bool, labelEntries: Bool = false,
        pipeline: BlockPipeline?
    ) throws(ManifestError) -> RankFileWriter {
        let sink: RankFileSink
        do { sink = try RankFileSink(path: temporary + "/" + ManifestHeader.rankFileName(rank)) } catch {
            abandon()
            throw error
        }
        return RankFileWriter(
            rank: rank, dataParallel: dataParallel, samplesPerStep: samplesPerStep, sparseEntries: sparseEntries,
            labelEntries: labelEntries, sink: sink, pipeline: pipeline)
    }
}

/// Reads one rank file with O(1) access to any step; verifies the fixed header, the block table and
/// each block's checksum on first use. Memory: the block table plus one decoded block.
public final class RankFileReader {
    public let path: String
    public let rank: Int
    public let dataParallel: Int
    public let stepCount: Int
    public let samplesPerStep: Int
    public let headerHash: UInt64
    /// Flag bit 0: counts carry a sparse bit and sparse entries their skips.
    public let sparseEntries: Bool
    /// Flag bit 1: entries of labelled files are label entries, resolved through `labels`.
    public let labelEntries: Bool
    /// The manifest's label table (set by `ManifestDirectory.rankFile` when the header names one).
    public var labels: LabelTable?
    let stepsPerBlock: Int
    private let file: ReadOnlyFile
    private var blocks: [(offset: Int64, size: Int, rawSize: Int, hash: UInt64)] = []
    private var cachedBlock = -1
    private var cachedRaw: [UInt8] = []
    /// Column blocks: the decoded steps of the cached block.
    private var cachedSteps: [[ManifestEntry]] = []

    public init(path: String) throws(ManifestError) {
        self.path = path
        let loc = DataLocation(path: path)
        do { file = try ReadOnlyFile(path: path) } catch {
            throw ManifestError("missing-rank-file", error.message, at: error.location, category: error.category)
        }
        let size: Int64
        let head: [UInt8]
        do {
            size = try file.stat().byteCount
            guard size >= Int64(RankFileFormat.fixedHeaderBytes + 8) else {
                throw ManifestError("truncated", "rank file is truncated (\(size) bytes)", at: loc)
            }
            head = try file.readExactly(64, at: 0)
        } catch let e as ManifestError {
            throw e
        } catch let e as CoreError {
            throw ManifestError("io", e.message, at: e.location, category: e.category)
        } catch {
            throw ManifestError("io", "\(error)", at: loc, category: .io)
        }
        guard Array(head[0..<8]) == RankFileFormat.magic else {
            throw ManifestError("bad-magic", "not a mixtera rank file (bad magic)", at: DataLocation(path: path, byteOffset: 0))
        }
        var r = ByteReader(head, offset: 8)
        do {
            let major = try r.readUInt16LE()
            let minor = try r.readUInt16LE()
            guard major == RankFileFormat.major else {
                throw ManifestError(
                    "unsupported-version",
                    "rank file format version \(major).\(minor) is not supported (this reader supports \(RankFileFormat.major).x)",
                    at: DataLocation(path: path, byteOffset: 8))
            }
            guard
                XXH3.hash(Array(head[0..<56]))
                    == UInt64(head[56..<64].enumerated().reduce(0) { $0 | UInt64($1.1) << (8 * UInt64($1.0)) })
            else {
                throw ManifestError(
                    "checksum-mismatch", "rank file header checksum mismatch; the file is corrupt",
                    at: DataLocation(path: path, byteOffset: 56))
            }
            let flags = try r.readUInt32LE()
            sparseEntries = flags & RankFileFormat.sparseFlag != 0
            labelEntries = flags & RankFileFormat.labelFlag != 0
            guard flags & ~(RankFileFormat.sparseFlag | RankFileFormat.labelFlag) == 0, !labelEntries || sparseEntries else {
                throw ManifestError(
                    "unsupported-flags", "rank file has unknown flags 0x\(String(flags, radix: 16))",
                    at: DataLocation(path: path, byteOffset: 12))
            }
            rank = Int(try r.readUInt32LE())
            dataParallel = Int(try r.readUInt32LE())
            // Fields are range-checked before any arithmetic: a hostile file with a valid header
            // checksum must get a `corrupt` error, not an overflow trap.
            let rawSteps = try r.readUInt64LE()
            samplesPerStep = Int(try r.readUInt32LE())
            stepsPerBlock = Int(try r.readUInt32LE())
            headerHash = try r.readUInt64LE()
            let rawTableOffset = try r.readUInt64LE()
            guard rawSteps <= UInt64(size), rawTableOffset <= UInt64(size) else {
                throw ManifestError(
                    "corrupt", "rank file header has an impossible step count or table offset",
                    at: DataLocation(path: path, byteOffset: 24))
            }
            stepCount = Int(rawSteps)
            let tableOffset = Int64(rawTableOffset)
            guard stepsPerBlock > 0 else { throw ManifestError("corrupt", "rank file has zero steps per block", at: loc) }
            let blockCount = (stepCount + stepsPerBlock - 1) / stepsPerBlock
            let tableBytes = blockCount * RankFileFormat.tableEntryBytes
            guard tableOffset >= 64, tableOffset + Int64(tableBytes) + 8 == size else {
                throw ManifestError(
                    "truncated",
                    "rank file is truncated or has trailing bytes (expected \(tableOffset + Int64(tableBytes) + 8) bytes, found \(size))",
                    at: DataLocation(path: path, byteOffset: min(size, tableOffset)))
            }
            let table = try file.readExactly(tableBytes + 8, at: tableOffset)
            var tr = ByteReader(table)
            for _ in 0..<blockCount {
                let rawOff = try tr.readUInt64LE()
                let cs = Int(try tr.readUInt32LE())
                let rs = Int(try tr.readUInt32LE())
                let h = try tr.readUInt64LE()
                let off = Int64(min(rawOff, UInt64(Int64.max / 2)))
                guard off >= 64, off + Int64(cs) <= tableOffset else {
                    throw ManifestError(
                        "corrupt", "block table points outside the file", at: DataLocation(path: path, byteOffset: tableOffset))
                }
                blocks.append((off, cs, rs, h))
            }
            let stored = try tr.readUInt64LE()
            guard XXH3.hash(Array(table[0..<tableBytes])) == stored else {
                throw ManifestError(
                    "checksum-mismatch", "block table checksum mismatch; the file is corrupt",
                    at: DataLocation(path: path, byteOffset: tableOffset))
            }
        } catch let e as ManifestError {
            throw e
        } catch let e as CoreError {
            throw ManifestError("truncated", e.message, at: e.location)
        } catch {
            throw ManifestError("truncated", "rank file is truncated", at: loc)
        }
    }

    /// The entries of `step`, in slot order.
    /// The entries of `step`, in slot order.
    public func entries(step: Int) throws(ManifestError) -> [ManifestEntry] {
        guard step >= 0 && step < stepCount else {
            throw ManifestError(
                "step-out-of-range", "step \(step) is out of range (the manifest has \(stepCount) steps)",
                at: DataLocation(path: path), category: .usage)
        }
        let b = step / stepsPerBlock
        try loadBlock(b)
        let k = step - b * stepsPerBlock
        if labelEntries { return cachedSteps[k] }
        let stepsInBlock = min(stepsPerBlock, stepCount - b * stepsPerBlock)
        let base = (stepsInBlock + 1) * 4
        func u32(_ at: Int) -> Int {
            var v = 0
            for j in 0..<4 { v |= Int(cachedRaw[at + j]) << (8 * j) }
            return v
        }
        guard cachedRaw.count >= base else { throw corrupt(b) }
        let start = base + u32(k * 4)
        let end = base + u32(k * 4 + 4)
        guard start <= end, end <= cachedRaw.count else { throw corrupt(b) }
        var fields = EntryFields(raw: cachedRaw, starts: [start])
        let out = try decodeStep(&fields, block: b)
        guard fields.readers[0].offset == end else { throw corrupt(b) }
        return out
    }

    /// Decodes every step of a column block (flag bit 1) into `cachedSteps`.
    private func decodeColumnBlock(_ b: Int) throws(ManifestError) {
        let columns = RankFileFormat.columnCount
        guard cachedRaw.count >= 4 * columns else { throw corrupt(b) }
        var starts: [Int] = []
        var ends: [Int] = []
        var position = 4 * columns
        for c in 0..<columns {
            var length = 0
            for j in 0..<4 { length |= Int(cachedRaw[4 * c + j]) << (8 * j) }
            starts.append(position)
            position += length
            ends.append(position)
        }
        guard position == cachedRaw.count else { throw corrupt(b) }
        var fields = EntryFields(raw: cachedRaw, starts: starts)
        let stepsInBlock = min(stepsPerBlock, stepCount - b * stepsPerBlock)
        var steps: [[ManifestEntry]] = []
        steps.reserveCapacity(stepsInBlock)
        for _ in 0..<stepsInBlock { steps.append(try decodeStep(&fields, block: b)) }
        for c in 0..<columns where fields.readers[c].offset != ends[c] { throw corrupt(b) }
        cachedSteps = steps
    }

    /// Where an entry's fields come from: one reader for the step layout, one per column for column blocks
    /// (whose column numbers are the fields' order in the step layout).
    private struct EntryFields {
        var readers: [ByteReader]
        init(raw: [UInt8], starts: [Int]) { readers = starts.map { ByteReader(raw, offset: $0) } }
        @inline(__always) mutating func varint(_ column: Int) throws(ByteReaderError) -> UInt64 {
            try readers[readers.count == 1 ? 0 : column].readVarint()
        }
        @inline(__always) mutating func signed(_ column: Int) throws(ByteReaderError) -> Int64 {
            try readers[readers.count == 1 ? 0 : column].readSignedVarint()
        }
    }

    /// Decodes one step: its entry count, then its entries (docs/manifest-format.md §3.1).
    private func decodeStep(_ fields: inout EntryFields, block b: Int) throws(ManifestError) -> [ManifestEntry] {
        do {
            let n = Int(try fields.varint(0))
            guard n <= samplesPerStep else { throw corrupt(b) }
            var out: [ManifestEntry] = []
            out.reserveCapacity(n)
            var total = 0
            var prev = EntryDeltaState()
            let labels = labelEntries ? self.labels : nil
            if labelEntries && labels == nil {
                throw ManifestError(
                    "missing-labels", "rank file has label entries but no label table was given (header.json names none)",
                    at: DataLocation(path: path, byteOffset: 12))
            }
            for _ in 0..<n {
                let component = Int(try fields.varint(1))
                let fileDelta = try fields.signed(2)
                guard abs(fileDelta) < 1 << 40 else { throw corrupt(b) }
                let file = prev.file + Int(fileDelta)
                if let fl = try labels?.labels(file: file) {
                    let member = try fields.varint(3)
                    let count = try fields.varint(4)
                    guard component <= LabelTableFormat.maxComponent, member < UInt64(fl.rowCount), count >= 1,
                        count <= UInt64(samplesPerStep),
                        let resolved = fl.resolve(UInt8(component + 1), member: Int(member), count: Int(count))
                    else {
                        let have = component <= LabelTableFormat.maxComponent ? fl.total(UInt8(component + 1)) : 0
                        throw ManifestError(
                            "corrupt",
                            "block \(b): a label entry names members \(member)..<\(member &+ count) of component \(component) in file \(file), which has \(have)",
                            at: DataLocation(path: path, byteOffset: blocks[b].offset))
                    }
                    let (locator, lead) = fl.start(row: resolved.row)
                    out.append(
                        ManifestEntry(
                            component: component, file: file, row: Int64(resolved.row), count: Int(count), locator: locator,
                            skips: resolved.skips, lead: lead))
                    prev.file = file
                    total += Int(count)
                    continue
                }
                let same = file == prev.file
                let row = (same ? prev.rowEnd : 0) &+ (try fields.signed(3))
                let rawCount = try fields.varint(4)
                let sparse = sparseEntries && rawCount & 1 == 1
                let count = Int(truncatingIfNeeded: sparseEntries ? rawCount >> 1 : rawCount)
                let locator = (same ? prev.locator : 0) &+ (try fields.signed(5))
                guard file >= 0, row >= 0, locator >= 0, count > 0, count <= samplesPerStep else { throw corrupt(b) }
                var skips: [UInt32] = []
                if sparse {
                    guard count > 1 else { throw corrupt(b) }
                    skips.reserveCapacity(count - 1)
                    for _ in 1..<count {
                        let k = try fields.varint(6)
                        guard k <= UInt64(UInt32.max) else { throw corrupt(b) }
                        skips.append(UInt32(k))
                    }
                }
                let e = ManifestEntry(component: component, file: file, row: row, count: count, locator: locator, skips: skips)
                prev = EntryDeltaState(file: file, rowEnd: e.rowEnd, locator: locator)
                total += e.count
                out.append(e)
            }
            guard total == samplesPerStep else { throw corrupt(b) }
            return out
        } catch let e as ManifestError {
            throw e
        } catch {
            throw corrupt(b)
        }
    }

    private func corrupt(_ block: Int) -> ManifestError {
        ManifestError("corrupt", "block \(block) is malformed", at: DataLocation(path: path, byteOffset: blocks[block].offset))
    }

    private func loadBlock(_ b: Int) throws(ManifestError) {
        if b == cachedBlock { return }
        let info = blocks[b]
        let compressed: [UInt8]
        do { compressed = try file.readExactly(info.size, at: info.offset) } catch {
            throw ManifestError("truncated", error.message, at: error.location)
        }
        guard XXH3.hash(compressed) == info.hash else {
            throw ManifestError(
                "checksum-mismatch", "block \(b) checksum mismatch; the file is corrupt",
                at: DataLocation(path: path, byteOffset: info.offset))
        }
        do { cachedRaw = try Zstd.decompress(compressed, maxSize: info.rawSize) } catch {
            throw corrupt(b)
        }
        guard cachedRaw.count == info.rawSize else { throw corrupt(b) }
        if labelEntries {
            cachedBlock = -1
            try decodeColumnBlock(b)
        }
        cachedBlock = b
    }
}

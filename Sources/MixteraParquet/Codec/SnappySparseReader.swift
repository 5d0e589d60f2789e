/// Random access to the decompressed bytes of a raw snappy block without decompressing it.
///
/// ```
/// block   := uncompressed length (varint) element*
/// element := literal (tag & 3 == 0: length, then the bytes) | copy (tag & 3 == 1, 2, 3: length and distance back)
/// ```
/// Elements are indexed by output position on demand (only their tags are read; literal bytes are skipped), and a
/// byte is read by following copies back to the literal that holds it. The cost grows with the number of elements
/// walked, not with the bytes they stand for, so reading the 4-byte length prefixes of PLAIN byte arrays does not
/// touch the values. The structure is checked as strictly as by a full decompression (distances within the output,
/// lengths within the block, exact total length once `finish()` has run).
struct SnappySparseReader {
    let input: UnsafeRawBufferPointer
    let outLength: Int
    private var inPos: Int
    /// Output bytes covered by the indexed elements.
    private(set) var indexedEnd = 0
    /// Per indexed element: its first output position, and its source: ≥ 0 the literal's input offset, < 0 minus
    /// the copy distance (`count` elements; capacity for every element the block can hold).
    /// Owns the storage `outStarts` and `sources` point into.
    private let storage: SnappyElementBuffers
    private let outStarts: UnsafeMutablePointer<Int32>
    private let sources: UnsafeMutablePointer<Int32>
    private var count = 0
    /// Copy hops taken, against a budget (a hostile chain of short copies must not cost quadratic time).
    private var hops = 0
    /// While the indexed elements keep to 64 KiB output fragments (no element crosses a multiple of 64 KiB and no
    /// copy reaches before its fragment's start, as the reference compressor writes them): the input offset of
    /// each fragment's first element. `SnappyFragments` then decodes any range from its fragment on.
    private(set) var fragmentStarts: [Int32] = []
    private(set) var fragmentIndependent = true
    /// Output position of the next fragment boundary (`Int.max` once the block is known not to keep to them).
    private var nextBoundary = 0

    /// - Parameter buffers: element storage to reuse (grown to the block's worst case).
    init(_ input: UnsafeRawBufferPointer, expectedLength: Int, buffers: SnappyElementBuffers) throws(ParquetError) {
        self.input = input
        var pos = 0
        var length = 0
        var shift = 0
        while true {
            guard pos < input.count, shift <= 28 else {
                throw ParquetError(.decompression, "snappy page has a bad length header")
            }
            let b = input[pos]
            pos += 1
            length |= Int(b & 0x7F) << shift
            if b & 0x80 == 0 { break }
            shift += 7
        }
        guard length == expectedLength else {
            throw ParquetError(
                .decompression,
                "snappy page does not decompress: snappy length \(length) differs from the header's \(expectedLength)")
        }
        guard length <= Int(Int32.max), input.count <= Int(Int32.max) else {
            throw ParquetError(.decompression, "snappy page of \(length) bytes is too large")
        }
        outLength = length
        inPos = pos
        // Every element takes at least two input bytes, except a one-byte literal tag with one byte.
        buffers.reserve(input.count / 2 + 1)
        storage = buffers
        outStarts = buffers.outStarts
        sources = buffers.sources
    }

    @inline(never)
    private func corrupt(_ why: String) -> ParquetError {
        ParquetError(.decompression, "snappy page does not decompress: \(why)")
    }

    /// Indexes elements until output position `pos` is covered.
    mutating func index(through pos: Int) throws(ParquetError) {
        guard pos < outLength else { throw corrupt("position \(pos) is past the block's \(outLength) bytes") }
        while indexedEnd <= pos { try indexOne() }
    }

    /// Indexes the rest of the block and checks that it produces exactly `outLength` bytes.
    mutating func finish() throws(ParquetError) {
        while inPos < input.count { try indexOne() }
        guard indexedEnd == outLength else { throw corrupt("produced \(indexedEnd) of \(outLength) bytes") }
        // The last element ran across a fragment boundary that no element starts on.
        if indexedEnd > nextBoundary { leaveFragments() }
    }

    @inline(__always)
    private mutating func indexOne() throws(ParquetError) {
        guard inPos < input.count else { throw corrupt("produced \(indexedEnd) of \(outLength) bytes") }
        if indexedEnd >= nextBoundary { passBoundary() }
        let tag = input[inPos]
        inPos += 1
        var length: Int
        switch tag & 3 {
        case 0:
            length = Int(tag >> 2) + 1
            if length > 60 {
                let extra = length - 60
                guard input.count - inPos >= extra else { throw corrupt("literal length is truncated") }
                var v = 0
                for i in 0..<extra { v |= Int(input[inPos + i]) << (8 * i) }
                inPos += extra
                length = v + 1
            }
            guard input.count - inPos >= length, outLength - indexedEnd >= length else {
                throw corrupt("literal of \(length) bytes overruns the block")
            }
            outStarts[count] = Int32(truncatingIfNeeded: indexedEnd)
            sources[count] = Int32(truncatingIfNeeded: inPos)
            count += 1
            inPos += length
        default:
            var distance: Int
            switch tag & 3 {
            case 1:
                guard inPos < input.count else { throw corrupt("copy is truncated") }
                length = 4 + Int((tag >> 2) & 7)
                distance = Int(tag >> 5) << 8 | Int(input[inPos])
                inPos += 1
            case 2:
                guard input.count - inPos >= 2 else { throw corrupt("copy is truncated") }
                length = Int(tag >> 2) + 1
                distance = Int(input[inPos]) | Int(input[inPos + 1]) << 8
                inPos += 2
            default:
                guard input.count - inPos >= 4 else { throw corrupt("copy is truncated") }
                length = Int(tag >> 2) + 1
                distance = Int(input.loadUnaligned(fromByteOffset: inPos, as: UInt32.self).littleEndian)
                inPos += 4
            }
            guard distance > 0, distance <= indexedEnd, outLength - indexedEnd >= length else {
                throw corrupt("copy of \(length) bytes from \(distance) back at byte \(indexedEnd) is out of range")
            }
            if distance > indexedEnd &- (nextBoundary &- SnappyFragments.size) { leaveFragments() }
            outStarts[count] = Int32(truncatingIfNeeded: indexedEnd)
            sources[count] = Int32(truncatingIfNeeded: -distance)
            count += 1
        }
        indexedEnd += length
    }

    /// An element starts at or past the next fragment boundary: exactly on it, it starts the next fragment.
    @inline(never)
    private mutating func passBoundary() {
        guard indexedEnd == nextBoundary else { return leaveFragments() }
        fragmentStarts.append(Int32(truncatingIfNeeded: inPos))
        nextBoundary += SnappyFragments.size
    }

    @inline(never)
    private mutating func leaveFragments() {
        fragmentIndependent = false
        fragmentStarts = []
        nextBoundary = Int.max
    }

    /// The indexed element holding output position `p` (`p < indexedEnd`): a short walk back from the newest
    /// element (the usual case: the position just indexed), else a binary search.
    @inline(__always)
    private func element(containing p: Int) -> Int {
        var k = count - 1
        var steps = 0
        while Int(outStarts[k]) > p && steps < 4 {
            k -= 1
            steps += 1
        }
        if Int(outStarts[k]) <= p { return k }
        var lo = 0
        var hi = k + 1
        while hi - lo > 1 {
            let mid = (lo + hi) >> 1
            if Int(outStarts[mid]) <= p { lo = mid } else { hi = mid }
        }
        return lo
    }

    /// The byte at output position `pos` (indexed first when needed).
    mutating func byte(at pos: Int) throws(ParquetError) -> UInt8 {
        if pos >= indexedEnd { try index(through: pos) }
        var p = pos
        while true {
            let k = element(containing: p)
            let s = Int(sources[k])
            if s >= 0 { return input[s + p - Int(outStarts[k])] }
            p += s
            hops += 1
            guard hops <= 1 << 24 else { throw corrupt("copy chains are too long to follow") }
        }
    }

    /// The little-endian UInt32 at output position `pos`.
    mutating func uint32(at pos: Int) throws(ParquetError) -> UInt32 {
        guard outLength - pos >= 4 else { throw truncated("PLAIN byte array length", need: 4, have: outLength - pos) }
        try index(through: pos + 3)
        let k = element(containing: pos)
        let s = Int(sources[k])
        let next = k + 1 < count ? Int(outStarts[k + 1]) : indexedEnd
        if s >= 0 && next - pos >= 4 {
            return UInt32(littleEndian: input.loadUnaligned(fromByteOffset: s + pos - Int(outStarts[k]), as: UInt32.self))
        }
        var v: UInt32 = 0
        for i in 0..<4 { v |= UInt32(try byte(at: pos + i)) << (8 * UInt32(i)) }
        return v
    }
}

extension SnappySparseReader {
    /// The element index of the fully indexed block (after `finish()`), to keep and resolve ranges from later.
    func elementIndex() -> SnappyElementIndex {
        // Per `SnappyElementIndex.stride` output bytes: the element holding the first of them.
        var buckets: [Int32] = []
        buckets.reserveCapacity(indexedEnd / SnappyElementIndex.stride + 1)
        var k = 0
        var p = 0
        while p < indexedEnd {
            while k + 1 < count && Int(outStarts[k + 1]) <= p { k += 1 }
            buckets.append(Int32(truncatingIfNeeded: k))
            p += SnappyElementIndex.stride
        }
        return SnappyElementIndex(
            outStarts: Array(UnsafeBufferPointer(start: outStarts, count: count)),
            sources: Array(UnsafeBufferPointer(start: sources, count: count)), buckets: buckets, outLength: indexedEnd)
    }
}

/// The elements of a checked snappy block (output start and source of each, as `SnappySparseReader` indexes them):
/// enough to produce any range of its output from the compressed bytes without decompressing the rest. A byte in
/// a literal is read from the input; a byte in a copy is resolved from the earlier output it repeats, recursively.
/// 8 bytes per element.
struct SnappyElementIndex: Sendable {
    let outStarts: [Int32]
    /// ≥ 0: the literal's input offset; < 0: minus the copy distance.
    let sources: [Int32]
    /// Per `stride` output bytes: the element holding the first of them (a lookup starts there).
    let buckets: [Int32]
    let outLength: Int

    static let stride = 256

    var count: Int { outStarts.count }

    /// Writes output bytes `range` into `dst`, reading literals from `input` (the block this index was built
    /// from). Work is bounded: false when resolving the copies would take more than about `budget` element
    /// steps (or nest deeper than 64 copies), and the caller decompresses the block whole instead.
    func copy(_ range: Range<Int>, from input: UnsafeRawBufferPointer, into dst: UnsafeMutableRawPointer, budget: Int)
        -> Bool
    {
        guard range.lowerBound >= 0, range.upperBound <= outLength, !range.isEmpty else { return range.isEmpty }
        var left = budget
        return outStarts.withUnsafeBufferPointer { starts in
            sources.withUnsafeBufferPointer { sources in
                buckets.withUnsafeBufferPointer { buckets in
                    Self.resolve(
                        range.lowerBound, range.upperBound, into: dst, starts: starts, sources: sources,
                        buckets: buckets, outLength: outLength, input: input, depth: 0, budget: &left)
                }
            }
        }
    }

    private static func resolve(
        _ a: Int, _ b: Int, into dst: UnsafeMutableRawPointer, starts: UnsafeBufferPointer<Int32>,
        sources: UnsafeBufferPointer<Int32>, buckets: UnsafeBufferPointer<Int32>, outLength: Int,
        input: UnsafeRawBufferPointer, depth: Int, budget: inout Int
    ) -> Bool {
        guard depth < 64, let src = input.baseAddress, a / stride < buckets.count else { return false }
        // The element holding `a`: from its bucket's first element, forward (each step counts against the budget).
        var k = Int(buckets[a / stride])
        while k + 1 < starts.count && Int(starts[k + 1]) <= a {
            k += 1
            budget -= 1
        }
        var p = a
        while p < b {
            budget -= 1
            guard budget >= 0, k < starts.count else { return false }
            let start = Int(starts[k])
            let end = k + 1 < starts.count ? Int(starts[k + 1]) : outLength
            let n = min(b, end) - p
            let s = Int(sources[k])
            let to = dst + (p - a)
            if s >= 0 {
                let from = s + (p - start)
                guard from >= 0, n <= input.count - from else { return false }
                to.copyMemory(from: src + from, byteCount: n)
            } else {
                let distance = -s
                guard distance <= p else { return false }
                // The first `min(distance, n)` bytes repeat earlier output (already in `dst` when it is within the
                // range, else resolved); an overlapping copy repeats them.
                let first = min(distance, n)
                if p - distance >= a {
                    if distance >= n {
                        to.copyMemory(from: to - distance, byteCount: n)
                    } else {
                        for i in 0..<n {
                            (to + i).storeBytes(of: to.load(fromByteOffset: i - distance, as: UInt8.self), as: UInt8.self)
                        }
                    }
                    p += n
                    k += 1
                    continue
                }
                guard
                    resolve(
                        p - distance, p - distance + first, into: to, starts: starts, sources: sources,
                        buckets: buckets, outLength: outLength, input: input, depth: depth + 1, budget: &budget)
                else { return false }
                var i = first
                while i < n {
                    (to + i).storeBytes(of: to.load(fromByteOffset: i - distance, as: UInt8.self), as: UInt8.self)
                    i += 1
                }
            }
            p += n
            k += 1
        }
        return true
    }
}

/// Element storage for `SnappySparseReader`, reused from page to page.
final class SnappyElementBuffers {
    private(set) var outStarts: UnsafeMutablePointer<Int32>
    private(set) var sources: UnsafeMutablePointer<Int32>
    private var capacity: Int

    init() {
        capacity = 1024
        outStarts = .allocate(capacity: capacity)
        sources = .allocate(capacity: capacity)
    }

    func reserve(_ n: Int) {
        guard n > capacity else { return }
        outStarts.deallocate()
        sources.deallocate()
        capacity = max(n, capacity * 2)
        outStarts = .allocate(capacity: capacity)
        sources = .allocate(capacity: capacity)
    }

    deinit {
        outStarts.deallocate()
        sources.deallocate()
    }
}

/// Decoding part of a snappy block from a 64 KiB output fragment on, for blocks whose elements keep to fragments
/// (`SnappySparseReader.fragmentStarts`; the reference compressor compresses each 64 KiB of input on its own, so its
/// copies never reach into an earlier fragment). Reading a range then costs the range plus at most one fragment.
enum SnappyFragments {
    static let size = 1 << 16
    /// Bytes `decode` may write past the last element (short elements are copied 8 or 16 bytes at a time).
    static let slack = 64

    /// Decodes whole elements from input offset `i` into `window` at offset `o` until `o ≥ end`, growing the
    /// window as needed (keeping its bytes). Copies may reach back to the window's start but not before it, and
    /// the output may not pass `limit` (the block's length, relative to the window). False when the bytes break
    /// those rules or the block's structure (the caller then decompresses the block whole, which reports the
    /// damage).
    static func decode(
        _ input: UnsafeRawBufferPointer, from i: inout Int, to o: inout Int, through end: Int, limit: Int,
        window: ParquetSparseWindow
    ) -> Bool {
        guard let src = input.baseAddress else { return false }
        let n = input.count
        var dst = window.bytes
        var capacity = window.capacity
        while o < end {
            guard i < n else { return false }
            let tag = input[i]
            i += 1
            var length: Int
            if tag & 3 == 0 {
                length = Int(tag >> 2) + 1
                if length > 60 {
                    let extra = length - 60
                    guard n - i >= extra else { return false }
                    var v = 0
                    for j in 0..<extra { v |= Int(input[i + j]) << (8 * j) }
                    i += extra
                    length = v + 1
                }
                guard n - i >= length, limit - o >= length else { return false }
                if o + length + slack > capacity {
                    window.grow(to: o + length + slack, keeping: o)
                    (dst, capacity) = (window.bytes, window.capacity)
                }
                if length <= slack && n - i >= slack {
                    // Whole 16-byte chunks (up to `slack` bytes past the literal, which the window allows) rather
                    // than a call per short literal.
                    var j = 0
                    repeat {
                        (dst + o + j).storeBytes(
                            of: input.loadUnaligned(fromByteOffset: i + j, as: UInt64.self), as: UInt64.self)
                        (dst + o + j + 8).storeBytes(
                            of: input.loadUnaligned(fromByteOffset: i + j + 8, as: UInt64.self), as: UInt64.self)
                        j += 16
                    } while j < length
                } else {
                    (dst + o).copyMemory(from: src + i, byteCount: length)
                }
                i += length
                o += length
                continue
            }
            let distance: Int
            switch tag & 3 {
            case 1:
                guard i < n else { return false }
                length = 4 + Int((tag >> 2) & 7)
                distance = Int(tag >> 5) << 8 | Int(input[i])
                i += 1
            case 2:
                guard n - i >= 2 else { return false }
                length = Int(tag >> 2) + 1
                distance = Int(input[i]) | Int(input[i + 1]) << 8
                i += 2
            default:
                guard n - i >= 4 else { return false }
                length = Int(tag >> 2) + 1
                distance = Int(input.loadUnaligned(fromByteOffset: i, as: UInt32.self).littleEndian)
                i += 4
            }
            guard distance > 0, distance <= o, limit - o >= length else { return false }
            if o + length + slack > capacity {
                window.grow(to: o + length + slack, keeping: o)
                (dst, capacity) = (window.bytes, window.capacity)
            }
            let to = dst + o
            if distance >= 16 && length <= 16 {
                // The usual short copy: 16 bytes at once (past the copy within the slack), all already written.
                let a = (to - distance).loadUnaligned(as: UInt64.self)
                let b = (to - distance + 8).loadUnaligned(as: UInt64.self)
                to.storeBytes(of: a, as: UInt64.self)
                (to + 8).storeBytes(of: b, as: UInt64.self)
            } else if distance >= 8 {
                // 8 bytes at a time (up to 7 past the copy, within the slack): each load reads bytes already written.
                var j = 0
                while j < length {
                    (to + j).storeBytes(of: (to + j - distance).loadUnaligned(as: UInt64.self), as: UInt64.self)
                    j += 8
                }
            } else {
                for j in 0..<length {
                    (to + j).storeBytes(of: to.load(fromByteOffset: j - distance, as: UInt8.self), as: UInt8.self)
                }
            }
            o += length
        }
        return true
    }
}

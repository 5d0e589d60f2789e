import MixteraCore

/// The samples of a WebDataset tar in archive order, as flat arrays: for each sample its key and, for each of
/// its members, the extension, data offset and size. Built for replay by one header walk with
/// ``TarWalker/nextRaw()`` (a plain tar in place in a ``TarFileMapping``, its payloads never read), without a
/// string or an array per sample.
///
/// The grouping is ``WebDatasetGrouper``'s, on name bytes: the same skip rules, a new sample when the key
/// changes, `.badArchive` for a repeated extension. Keys and extensions are compared as their bytes when both
/// are ASCII, else as decoded strings, exactly as the grouper's `String` comparison does. A damaged archive
/// (truncated, bad header, failed decompression, repeated extension) yields the samples completed before the
/// damage, as `on_error: skip` indexed them; other errors throw.
///
/// ```swift
/// let table = try WebDatasetSampleTable(path: "shard-000.tar")
/// if let i = table.sample(atHeaderOffset: locator), let t = table.member(of: i, extension: "txt") { … }
/// ```
public struct WebDatasetSampleTable: Sendable {
    /// Number of samples.
    public var count: Int { headerOffsets.count }
    /// Per sample: header offset of its first member (ascending).
    public private(set) var headerOffsets: [Int64] = []
    /// Per sample `i`: its members are `memberStarts[i] ..< memberStarts[i + 1]`.
    private var memberStarts: [Int32] = [0]
    /// Per member: index into `extensions`, data offset and size.
    private var memberExtensions: [Int32] = []
    private var memberDataOffsets: [Int64] = []
    private var memberByteCounts: [Int64] = []
    /// Distinct extensions (as bytes), in order of first appearance.
    public private(set) var extensions: [[UInt8]] = []
    /// Keys: sample `i`'s key is `keyBytes[keyStarts[i] ..< keyStarts[i + 1]]`.
    private var keyBytes: [UInt8] = []
    private var keyStarts: [Int] = [0]

    /// One member of a sample.
    public struct Member: Sendable, Hashable {
        /// Index into ``WebDatasetSampleTable/extensions``.
        public var extensionIndex: Int
        public var dataByteOffset: Int64
        public var byteCount: Int64
    }

    /// Walks the tar at `path` (plain or compressed).
    public init(path: String, limits: TarLimits = TarLimits()) throws(FormatError) {
        // A plain tar is walked in place in a mapping (released after the walk), with no copy of its bytes.
        let walker: TarWalker
        if let mapping = try TarFileMapping(path: path) {
            walker = TarWalker(path: path, mapping: mapping, limits: limits)
        } else {
            walker = try TarWalker(path: path, limits: limits)
        }
        var builder = Builder()
        while true {
            do throws(FormatError) {
                guard let m = try walker.nextRaw() else { break }
                guard m.kind == .regular else { continue }
                var failure: FormatError?
                walker.withCurrentName { name in
                    do throws(FormatError) { try builder.add(name, m, table: &self, path: path) } catch {
                        failure = error
                    }
                }
                if let failure { throw failure }
            } catch {
                if error.code == .truncated || error.code == .badArchive || error.code == .decompression {
                    builder.dropPending(table: &self)
                    return
                }
                throw error
            }
        }
        builder.finish(table: &self)
    }

    /// The sample whose first member header is at `offset`, or nil.
    public func sample(atHeaderOffset offset: Int64) -> Int? {
        var lo = 0
        var hi = headerOffsets.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if headerOffsets[mid] < offset { lo = mid + 1 } else { hi = mid }
        }
        return lo < headerOffsets.count && headerOffsets[lo] == offset ? lo : nil
    }

    /// The members of sample `i`, in archive order.
    public func members(of i: Int) -> [Member] {
        (Int(memberStarts[i])..<Int(memberStarts[i + 1])).map(member(at:))
    }

    /// The number of members of sample `i`.
    public func memberCount(of i: Int) -> Int { Int(memberStarts[i + 1] - memberStarts[i]) }

    /// The `k`-th member of sample `i`.
    public func member(of i: Int, at k: Int) -> Member { member(at: Int(memberStarts[i]) + k) }

    /// The first member of sample `i` whose extension index is in `matching` (from ``extensionMatches(_:)``),
    /// if any.
    public func member(of i: Int, extensionIn matching: [Bool]) -> Member? {
        for j in Int(memberStarts[i])..<Int(memberStarts[i + 1]) where matching[Int(memberExtensions[j])] {
            return member(at: j)
        }
        return nil
    }

    /// Per entry of ``extensions``: whether it equals `ext` as ``WebDatasetSample/member(withExtension:)``
    /// compares (decoded strings).
    public func extensionMatches(_ ext: String) -> [Bool] {
        extensions.map { String(decoding: $0, as: UTF8.self) == ext }
    }

    /// Extension `i` of ``extensions``, decoded as ``WebDatasetMember/extension``.
    public func extensionName(_ i: Int) -> String { String(decoding: extensions[i], as: UTF8.self) }

    /// The key of sample `i`, decoded as ``WebDatasetSample/key``.
    public func key(of i: Int) -> String {
        String(decoding: keyBytes[keyStarts[i]..<keyStarts[i + 1]], as: UTF8.self)
    }

    /// The member name of sample `i`'s member `m` (key, dot, extension), decoded as ``WebDatasetMember/name``.
    public func name(of i: Int, _ m: Member) -> String {
        String(decoding: keyBytes[keyStarts[i]..<keyStarts[i + 1]] + [0x2E] + extensions[m.extensionIndex], as: UTF8.self)
    }

    /// The byte offset where sample `i`'s last member's padded data ends.
    public func endOffset(of i: Int) -> Int64 {
        let j = Int(memberStarts[i + 1]) - 1
        return memberDataOffsets[j] + (memberByteCounts[j] + 511) / 512 * 512
    }

    private func member(at j: Int) -> Member {
        Member(
            extensionIndex: Int(memberExtensions[j]), dataByteOffset: memberDataOffsets[j],
            byteCount: memberByteCounts[j])
    }

    /// Equality of two names (or parts of names) as `String` comparison of their decodings: byte equality for
    /// ASCII, which is what tars hold; canonical equivalence otherwise.
    static func sameText(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Bool {
        if a.elementsEqual(b) { return true }
        if isASCII(a) && isASCII(b) { return false }
        return String(decoding: a, as: UTF8.self) == String(decoding: b, as: UTF8.self)
    }

    static func isASCII(_ bytes: UnsafeRawBufferPointer) -> Bool {
        var i = 0
        var acc: UInt64 = 0
        while i + 8 <= bytes.count {
            acc |= bytes.loadUnaligned(fromByteOffset: i, as: UInt64.self)
            i += 8
        }
        while i < bytes.count {
            acc |= UInt64(bytes[i])
            i += 1
        }
        return acc & 0x8080_8080_8080_8080 == 0
    }

    /// The pending sample of the walk: members are appended to the table as they come; a completed sample is
    /// committed by closing its member range, a damaged one is rolled back.
    private struct Builder {
        var hasPending = false
        var pendingHeaderOffset: Int64 = 0

        mutating func add(
            _ name: UnsafeRawBufferPointer, _ m: TarRawMember, table t: inout WebDatasetSampleTable, path: String
        ) throws(FormatError) {
            guard case .member(let dot) = WebDatasetName.split(bytes: name) else { return }
            let key = UnsafeRawBufferPointer(rebasing: name[..<dot])
            let ext = UnsafeRawBufferPointer(rebasing: name[(dot + 1)...])
            let extIndex = Self.intern(ext, &t.extensions)
            let sameKey =
                hasPending
                && t.keyBytes.withUnsafeBytes { all in
                    WebDatasetSampleTable.sameText(
                        UnsafeRawBufferPointer(rebasing: all[t.keyStarts[t.keyStarts.count - 1]...]), key)
                }
            if sameKey {
                let first = Int(t.memberStarts[t.memberStarts.count - 1])
                for j in first..<t.memberExtensions.count {
                    let other = t.extensions[Int(t.memberExtensions[j])]
                    let duplicate = other.withUnsafeBytes { WebDatasetSampleTable.sameText($0, ext) }
                    if duplicate {
                        throw FormatError(
                            .badArchive,
                            "duplicate extension \"\(String(decoding: ext, as: UTF8.self))\" in sample "
                                + "\"\(String(decoding: key, as: UTF8.self))\"",
                            at: DataLocation(
                                path: path, byteOffset: m.headerByteOffset,
                                member: String(decoding: name, as: UTF8.self)))
                    }
                }
            } else {
                finish(table: &t)
                hasPending = true
                pendingHeaderOffset = m.headerByteOffset
                t.keyBytes.append(contentsOf: key)
            }
            t.memberExtensions.append(Int32(extIndex))
            t.memberDataOffsets.append(m.dataByteOffset)
            t.memberByteCounts.append(m.byteCount)
        }

        /// Commits the pending sample.
        mutating func finish(table t: inout WebDatasetSampleTable) {
            guard hasPending else { return }
            t.headerOffsets.append(pendingHeaderOffset)
            t.memberStarts.append(Int32(t.memberExtensions.count))
            t.keyStarts.append(t.keyBytes.count)
            hasPending = false
        }

        /// Drops the pending sample's members and key.
        mutating func dropPending(table t: inout WebDatasetSampleTable) {
            guard hasPending else { return }
            let first = Int(t.memberStarts[t.memberStarts.count - 1])
            t.memberExtensions.removeSubrange(first...)
            t.memberDataOffsets.removeSubrange(first...)
            t.memberByteCounts.removeSubrange(first...)
            t.keyBytes.removeSubrange(t.keyStarts[t.keyStarts.count - 1]...)
            hasPending = false
        }

        /// The index of `ext` in `extensions` (byte equality: extensions that only decode alike stay
        /// distinct entries, and are compared as text where it matters), appending it when new.
        static func intern(_ ext: UnsafeRawBufferPointer, _ extensions: inout [[UInt8]]) -> Int {
            for (i, e) in extensions.enumerated() where e.withUnsafeBytes({ $0.elementsEqual(ext) }) { return i }
            extensions.append(Array(ext))
            return extensions.count - 1
        }
    }
}

import MixteraCore

/// Groups tar members, in archive order, into WebDataset samples.
///
/// Rules (as `webdataset.tariterators.group_by_keys`):
/// - a sample is a run of *adjacent* regular members with the same key (``WebDatasetName``);
/// - a key that reappears after another key starts a new sample (so keys are not unique per archive);
/// - directories, links, devices, names without an extension, hidden and `__…__` metadata names are skipped
///   and counted in ``skipped``;
/// - two members of one sample with the same extension throw `.badArchive` (webdataset raises too).
///
/// ```swift
/// var grouper = WebDatasetGrouper(path: path)
/// while let m = try walker.next() { if let s = try grouper.add(m) { emit(s) } }
/// if let s = grouper.finish() { emit(s) }
/// ```
public struct WebDatasetGrouper: Sendable {
    public let path: String
    public private(set) var skipped = WebDatasetSkipCounts()
    /// Samples completed so far (including the one being built).
    public private(set) var sampleCount = 0
    private var pending: WebDatasetSample?

    public init(path: String) {
        self.path = path
    }

    /// The sample index `member` would join, or nil when it would be skipped. Lets a caller decide whether to
    /// load the member's bytes before calling ``add(_:data:)``.
    public func sampleIndex(for member: TarMember) -> Int? {
        guard member.kind == .regular, case .member(let key, _) = WebDatasetName.split(member.name) else {
            return nil
        }
        if let pending, pending.key == key { return pending.sampleIndex }
        return sampleCount
    }

    /// Adds the next member in archive order. Returns the previous sample when `member` starts a new one.
    public mutating func add(_ member: TarMember, data: [UInt8]? = nil) throws(FormatError) -> WebDatasetSample? {
        guard member.kind == .regular else {
            skipped.add(.notRegular)
            return nil
        }
        let key: Substring
        let ext: Substring
        switch WebDatasetName.split(member.name) {
        case .skipped(let reason):
            skipped.add(reason)
            return nil
        case .member(let k, let e):
            (key, ext) = (k, e)
        }
        let wdsMember = WebDatasetMember(
            extension: String(ext), name: member.name, headerByteOffset: member.headerByteOffset,
            dataByteOffset: member.dataByteOffset, byteCount: member.byteCount, memberIndex: member.memberIndex,
            data: data)
        if pending != nil, pending!.key == key {
            if pending!.members.contains(where: { $0.extension == wdsMember.extension }) {
                throw FormatError(
                    .badArchive,
                    "duplicate extension \"\(ext)\" in sample \"\(key)\"",
                    at: DataLocation(path: path, byteOffset: member.headerByteOffset, member: member.name))
            }
            pending!.members.append(wdsMember)
            return nil
        }
        let done = pending
        var members: [WebDatasetMember] = []
        members.reserveCapacity(4)
        members.append(wdsMember)
        pending = WebDatasetSample(key: String(key), sampleIndex: sampleCount, members: members)
        sampleCount += 1
        return done
    }

    /// Ends the archive: returns the last sample, if any.
    public mutating func finish() -> WebDatasetSample? {
        defer { pending = nil }
        return pending
    }
}

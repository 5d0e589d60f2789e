/// One member of a WebDataset sample.
public struct WebDatasetMember: Sendable, Hashable {
    /// Everything after the first dot of the base name, case kept (`json`, `0001.txt`; may be empty for `a.`).
    /// webdataset lowercases it by default; compare case-insensitively if that matters.
    public var `extension`: String
    /// The full member name in the archive.
    public var name: String
    public var headerByteOffset: Int64
    public var dataByteOffset: Int64
    public var byteCount: Int64
    /// Position among all tar members (see ``TarMember/memberIndex``).
    public var memberIndex: Int
    /// The member's bytes when they were loaded during the walk, else nil.
    public var data: [UInt8]?

    public init(
        extension: String, name: String, headerByteOffset: Int64, dataByteOffset: Int64, byteCount: Int64,
        memberIndex: Int, data: [UInt8]? = nil
    ) {
        self.extension = `extension`
        self.name = name
        self.headerByteOffset = headerByteOffset
        self.dataByteOffset = dataByteOffset
        self.byteCount = byteCount
        self.memberIndex = memberIndex
        self.data = data
    }
}

/// A WebDataset sample: adjacent members that share a key.
public struct WebDatasetSample: Sendable, Hashable {
    /// The member path up to the first dot of the base name (directories kept).
    public var key: String
    /// 0-based position of the sample in the archive.
    public var sampleIndex: Int
    /// Members in archive order.
    public var members: [WebDatasetMember]

    public init(key: String, sampleIndex: Int, members: [WebDatasetMember]) {
        self.key = key
        self.sampleIndex = sampleIndex
        self.members = members
    }

    /// The first member with this extension (exact match), if any.
    public func member(withExtension ext: String) -> WebDatasetMember? {
        members.first { $0.extension == ext }
    }
}

/// How many members a grouping skipped, per reason.
public struct WebDatasetSkipCounts: Sendable, Hashable {
    public var notRegular = 0
    public var noExtension = 0
    public var hidden = 0
    public var metadata = 0

    public init() {}

    public var total: Int { notRegular + noExtension + hidden + metadata }

    mutating func add(_ reason: WebDatasetName.SkipReason) {
        switch reason {
        case .notRegular: notRegular += 1
        case .noExtension: noExtension += 1
        case .hidden: hidden += 1
        case .metadata: metadata += 1
        }
    }
}

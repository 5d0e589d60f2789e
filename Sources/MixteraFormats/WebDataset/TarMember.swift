/// One member (entry) of a tar archive, as found by ``TarWalker``.
///
/// Offsets are 0-based byte offsets into the *uncompressed* tar stream: for a plain `.tar` they are file
/// offsets; for a `.tar.gz` / `.tar.zst` they are offsets into the decompressed stream.
public struct TarMember: Sendable, Hashable {
    /// What a member is. Only ``regular`` members carry data that WebDataset groups.
    public enum Kind: Sendable, Hashable {
        /// Type flag `0`, NUL (old v7 regular file) or `7` (contiguous file).
        case regular
        /// Type flag `5` (or a v7 regular member whose name ends in `/`).
        case directory
        /// Type flag `2`.
        case symlink
        /// Type flag `1`.
        case hardLink
        /// Any other type flag (character or block device, FIFO, GNU volume header, vendor types); the raw
        /// type flag byte is kept.
        case other(UInt8)
    }

    /// The full path as stored: pax `path`, else GNU `L` long name, else ustar `prefix/name`, else `name`.
    /// Decoded as UTF-8 (invalid bytes become U+FFFD). Never a safe file-system path: it may be absolute or
    /// contain `..`; mixtera uses it only as a name.
    public var name: String
    public var kind: Kind
    /// Link target of symlinks and hard links (pax `linkpath`, GNU `K`, or the `linkname` field).
    public var linkName: String?
    /// Offset of the member's first header block, including its own pax `x` and GNU `L`/`K` extension headers
    /// (but not preceding pax global `g` headers). Matches Python's `TarInfo.offset`.
    public var headerByteOffset: Int64
    /// Offset of the member's data. Matches Python's `TarInfo.offset_data`.
    public var dataByteOffset: Int64
    /// Size of the member's data in bytes (pax `size` overrides the header field). Zero for directories, links
    /// and devices, whose size field tar readers ignore.
    public var byteCount: Int64
    /// 0-based position of the member among all members yielded by the walk (extension headers not counted).
    public var memberIndex: Int

    public init(
        name: String, kind: Kind, linkName: String? = nil, headerByteOffset: Int64, dataByteOffset: Int64,
        byteCount: Int64, memberIndex: Int
    ) {
        self.name = name
        self.kind = kind
        self.linkName = linkName
        self.headerByteOffset = headerByteOffset
        self.dataByteOffset = dataByteOffset
        self.byteCount = byteCount
        self.memberIndex = memberIndex
    }
}

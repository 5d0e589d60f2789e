/// Resource caps that keep a hostile archive from exhausting memory or time. Exceeding one throws
/// ``FormatError`` `.unsupported` naming the limit.
public struct TarLimits: Sendable, Hashable {
    /// Largest member name (pax `path`, GNU long name) or link name, in bytes.
    public var maxNameByteCount: Int
    /// Largest pax extended header (`x`, `g`) or GNU `L`/`K` payload, in bytes.
    public var maxExtensionHeaderByteCount: Int
    /// Most members a walk yields before it throws (extension headers are not counted).
    public var maxMemberCount: Int
    /// Most consecutive extension headers (`x`, `g`, `L`, `K`) before a member header.
    public var maxConsecutiveExtensionHeaders: Int

    public init(
        maxNameByteCount: Int = 64 * 1024, maxExtensionHeaderByteCount: Int = 64 * 1024,
        maxMemberCount: Int = 100_000_000, maxConsecutiveExtensionHeaders: Int = 64
    ) {
        self.maxNameByteCount = maxNameByteCount
        self.maxExtensionHeaderByteCount = maxExtensionHeaderByteCount
        self.maxMemberCount = maxMemberCount
        self.maxConsecutiveExtensionHeaders = maxConsecutiveExtensionHeaders
    }
}

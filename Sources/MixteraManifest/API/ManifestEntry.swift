/// A run of `count` consecutive samples (rows `row ..< row + count`) of one file, all from one component.
public struct ManifestEntry: Sendable, Equatable, Hashable {
    public var component: Int
    public var file: Int
    public var row: Int64
    public var count: Int
    /// Where replay starts reading: for JSONL the byte offset of row `row`'s line in the file (plain) or
    /// in the decompressed stream (compressed); 0 for formats that locate rows themselves.
    public var locator: Int64

    public init(component: Int, file: Int, row: Int64, count: Int, locator: Int64) {
        self.component = component
        self.file = file
        self.row = row
        self.count = count
        self.locator = locator
    }
}

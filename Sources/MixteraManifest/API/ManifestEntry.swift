/// Samples of one file from one component: `count` rows starting at `row`. A plain entry covers the
/// consecutive rows `row ..< row + count`; a sparse entry (format 1.1, rank-file flag bit 0) skips
/// `skips[i]` records between its i-th and (i+1)-th row, so rows are `row`, `row + 1 + skips[0]`, …
/// A label entry (format 1.2) is resolved to this form through the label table; its locator is then a
/// checkpoint `lead` records before `row`.
public struct ManifestEntry: Sendable, Equatable, Hashable {
    public var component: Int
    public var file: Int
    public var row: Int64
    public var count: Int
    /// Where replay starts reading: for JSONL the byte offset of row `row`'s line in the file (plain) or
    /// in the decompressed stream (compressed); 0 for formats that locate rows themselves.
    public var locator: Int64
    /// Records skipped after each selected row but the last (`count − 1` values), or empty for a plain entry.
    public var skips: [UInt32]
    /// Records between `locator` and row `row` that a reader drops first (0 unless the entry came from a
    /// label entry, whose locator is the checkpoint at or before its first row).
    public var lead: Int

    public init(component: Int, file: Int, row: Int64, count: Int, locator: Int64, skips: [UInt32] = [], lead: Int = 0) {
        self.component = component
        self.file = file
        self.row = row
        self.count = count
        self.locator = locator
        self.skips = skips
        self.lead = lead
    }

    public var isSparse: Bool { !skips.isEmpty }

    /// Records from the first row to the last, inclusive (= `count` for a plain entry).
    public var span: Int64 { Int64(count) + skips.reduce(Int64(0)) { $0 + Int64($1) } }

    /// One past the last row.
    public var rowEnd: Int64 { row + span }

    /// The entry's rows, in order.
    public var rows: [Int64] {
        var out: [Int64] = [row]
        out.reserveCapacity(count)
        var r = row
        for s in skips {
            r += 1 + Int64(s)
            out.append(r)
        }
        if skips.isEmpty { for k in 1..<max(1, count) { out.append(row + Int64(k)) } }
        return out
    }
}

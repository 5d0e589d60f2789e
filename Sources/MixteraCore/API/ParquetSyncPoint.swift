/// Where decoding of a snappy PLAIN text page can start without walking the page from its beginning.
///
/// The reference snappy compressor compresses each 64 KiB of a block on its own, so decoding can start at any
/// 64 KiB output fragment. A sync point records, for one such fragment, the first row whose 4-byte length prefix
/// starts in it: the row, the file offset of the fragment's first compressed element, and the prefix's offset in
/// the decompressed page. From there the following rows are read by their length prefixes, in order. Scans record
/// one per fragment of the text column's pages (`ParquetFile.byteArrayRowLengths(_:rowGroup:syncPoints:)`) for
/// pages that keep to fragments and hold no nulls; the catalog keeps them per file, manifests carry them as
/// `parquet_sync` (docs/manifest-format.md §4.1), and replay reads rows from them (`ParquetSyncedPage`). One type
/// from the scan to the reader.
public struct ParquetSyncPoint: Sendable, Equatable {
    /// File row index; for a dictionary page, −(i + 1) for its value i (the page is found by `offset`).
    public var row: Int64
    /// File offset of the fragment's first compressed element.
    public var offset: Int64
    /// Offset of the row's length prefix in the decompressed page (its fragment is `value >> 16`).
    public var value: Int64

    public init(row: Int64, offset: Int64, value: Int64) {
        self.row = row
        self.offset = offset
        self.value = value
    }
}

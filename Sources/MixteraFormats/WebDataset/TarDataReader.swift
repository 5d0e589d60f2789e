import MixteraCore

/// Random access to member data of a *plain* tar with `pread`, for replay: given a member's
/// `dataByteOffset` and `byteCount` from the catalog, returns its bytes without walking the archive.
///
/// Compressed tars cannot be read at an offset; opening one throws `.unsupported`. Replay them by streaming
/// with ``WebDatasetReader`` (`sampleIndices` + `loadExtensions: nil`). Safe to share across threads.
public final class TarDataReader: Sendable {
    public let path: String
    fileprivate let file: ReadOnlyFile
    /// The file size at open time.
    public let fileByteCount: Int64

    public init(path: String) throws(FormatError) {
        self.path = path
        let magic: [UInt8]
        do {
            file = try ReadOnlyFile(path: path)
            fileByteCount = try file.stat().byteCount
            magic = try file.readPrefix(6, at: 0)
        } catch { throw FormatError(error) }
        if TarWalker.isCompressedMagic(magic[...]) {
            throw FormatError(
                .unsupported, "compressed tar cannot be read at an offset; replay must stream it",
                at: DataLocation(path: path))
        }
    }

    /// Reads `byteCount` bytes at `dataByteOffset`; `member` only names the member in errors.
    public func read(dataByteOffset: Int64, byteCount: Int64, member: String? = nil) throws(FormatError) -> [UInt8] {
        let location = DataLocation(path: path, byteOffset: dataByteOffset, member: member)
        guard dataByteOffset >= 0, byteCount >= 0, byteCount <= Int64(Int32.max) else {
            throw FormatError(
                .unsupported, "member of \(byteCount) bytes at offset \(dataByteOffset) is out of range", at: location)
        }
        let out: [UInt8]
        do { out = try file.readPrefix(Int(byteCount), at: dataByteOffset) } catch { throw FormatError(error) }
        let n = out.count
        if n < Int(byteCount) {
            throw FormatError(
                .truncated, "member data of \(byteCount) bytes is cut off after \(n) bytes", at: location)
        }
        return out
    }
}

extension TarDataReader {
    /// Reads `buffer.count` bytes at `byteOffset` into `buffer`; returns how many were read (fewer only at end
    /// of file).
    public func read(into buffer: UnsafeMutableRawBufferPointer, at byteOffset: Int64) throws(FormatError) -> Int {
        do { return try file.pread(into: buffer, at: byteOffset) } catch { throw FormatError(error) }
    }
}

import MixteraCore

extension ReadOnlyFile {
    /// Reads up to `count` bytes at `offset`; the result is shorter only at end of file.
    func readPrefix(_ count: Int, at offset: Int64) throws(CoreError) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        var n = 0
        var failure: CoreError?
        out.withUnsafeMutableBytes { b in
            do throws(CoreError) { n = try pread(into: b, at: offset) } catch { failure = error }
        }
        if let failure { throw failure }
        if n < count { out.removeSubrange(n...) }
        return out
    }
}

extension ArchiveStream {
    /// Reads up to `count` bytes; shorter only at end of stream.
    func readPrefix(_ count: Int) throws(FormatError) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        var n = 0
        var failure: FormatError?
        out.withUnsafeMutableBytes { b in
            do throws(FormatError) { n = try read(into: b) } catch { failure = error }
        }
        if let failure { throw failure }
        if n < count { out.removeSubrange(n...) }
        return out
    }
}

extension Array where Element == UInt8 {
    /// `withUnsafeBytes` that preserves a typed error (the stdlib version rethrows `any Error`).
    @inlinable public func withBytes<R, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
        var result: Result<R, E>?
        withUnsafeBytes { p in
            do throws(E) { result = .success(try body(p)) } catch { result = .failure(error) }
        }
        return try result!.get()
    }

    /// `withUnsafeMutableBytes` that preserves a typed error.
    @inlinable public mutating func withMutableBytes<R, E: Error>(_ body: (UnsafeMutableRawBufferPointer) throws(E) -> R)
        throws(E) -> R
    {
        var result: Result<R, E>?
        withUnsafeMutableBytes { p in
            do throws(E) { result = .success(try body(p)) } catch { result = .failure(error) }
        }
        return try result!.get()
    }
}

/// `withUnsafeBytes` with a typed-throwing body (the stdlib's `Array.withUnsafeBytes` rethrows untyped).
@inline(__always)
func withBytes<R>(
    _ array: [UInt8], _ body: (UnsafeRawBufferPointer) throws(ParquetError) -> R
) throws(ParquetError) -> R {
    let result = array.withUnsafeBytes { p -> Result<R, ParquetError> in
        do throws(ParquetError) {
            return .success(try body(p))
        } catch {
            return .failure(error)
        }
    }
    return try result.get()
}

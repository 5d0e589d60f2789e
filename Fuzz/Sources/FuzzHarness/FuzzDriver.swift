// libFuzzer's driver, called from each Fuzz* executable's main.swift (Fuzz/ package only).
//
// SwiftPM renames an executable's entry point to `<Module>_main` in debug builds, which clashes
// with libFuzzer providing `main`; so each target has its own main.swift that hands libFuzzer's
// argc/argv and its harness to `LLVMFuzzerRunDriver` (compiler-rt, LLVM >= 11).

#if canImport(Glibc)
    import Glibc
#endif

public typealias FuzzCallback = @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt

@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<CInt>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
    _ callback: FuzzCallback
) -> CInt

extension FuzzHarness {
    /// Runs libFuzzer with this process's arguments; never returns.
    public static func runDriver(_ callback: FuzzCallback) -> Never {
        var argc = CommandLine.argc
        var argv = CommandLine.unsafeArgv
        exit(LLVMFuzzerRunDriver(&argc, &argv, callback))
    }

    /// The input libFuzzer passes, as bytes.
    public static func bytes(_ data: UnsafePointer<UInt8>?, _ size: Int) -> [UInt8] {
        guard let data, size > 0 else { return [] }
        return Array(UnsafeBufferPointer(start: data, count: size))
    }
}

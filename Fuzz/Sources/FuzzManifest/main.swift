import FuzzHarness

// libFuzzer target (scripts/fuzz.sh). SwiftPM links this module's entry point as `main`; it hands
// argc/argv to libFuzzer's driver. LLVMFuzzerTestOneInput is also exported, for libFuzzer's own
// main when a toolchain links that instead.
FuzzHarness.runDriver { data, size in testOneInput(data, size) }

@_cdecl("LLVMFuzzerTestOneInput")
public func testOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    FuzzHarness.manifest(FuzzHarness.bytes(data, size), scratch: FuzzHarness.processScratch)
    return 0
}

import FuzzHarness

/// libFuzzer entry point (no main: libFuzzer provides it).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzJSONL(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    FuzzHarness.jsonl(UnsafeBufferPointer(start: data, count: size))
    return 0
}

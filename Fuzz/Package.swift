// swift-tools-version: 6.1
// libFuzzer targets for mixtera (docs/security.md, scripts/fuzz.sh). A separate package so the main
// build is unaffected. Build (Linux):
//   swift build -c debug -Xswiftc -sanitize=fuzzer,address -Xswiftc -use-ld=lld
// The harnesses use `@testable import`, which debug builds allow.
import PackageDescription

let fuzzTargets = ["FuzzJSONL", "FuzzParquet", "FuzzTar", "FuzzManifest", "FuzzQuery"]

let package = Package(
    name: "mixtera-fuzz",
    platforms: [.macOS(.v14)],
    dependencies: [.package(name: "mixtera", path: "..")],
    targets: [
        // The harness bodies, shared by the libFuzzer entry points (one executable per target).
        .target(
            name: "FuzzHarness",
            dependencies: [.product(name: "Mixtera", package: "mixtera"), .product(name: "MixteraReplay", package: "mixtera")])
    ] + fuzzTargets.map { .executableTarget(name: $0, dependencies: ["FuzzHarness"]) },
    swiftLanguageModes: [.v6]
)

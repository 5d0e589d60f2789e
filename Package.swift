// swift-tools-version: 6.1
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "mixtera",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "mixtera", targets: ["mixtera"]),
        .library(name: "Mixtera", targets: ["Mixtera"]),
        .library(name: "MixteraReplay", targets: ["MixteraReplay"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", exact: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams", exact: "6.2.2"),
    ],
    targets: [
        // System C libraries (Debian -dev packages; `make deps` installs them).
        .systemLibrary(name: "CSQLite", path: "Sources/CSQLite"),
        .systemLibrary(name: "CZstd", path: "Sources/CZstd"),
        .systemLibrary(name: "CArchive", path: "Sources/CArchive"),
        .systemLibrary(name: "CXXHash", path: "Sources/CXXHash"),
        // Parquet page codecs (MixteraParquet).
        .systemLibrary(name: "CSnappy", path: "Sources/CSnappy"),
        .systemLibrary(name: "CZlib", path: "Sources/CZlib"),
        .systemLibrary(name: "CLZ4", path: "Sources/CLZ4"),
        .systemLibrary(name: "CBrotli", path: "Sources/CBrotli"),

        // A few bytes-level kernels in C (SSE2 where available, scalar elsewhere).
        .target(name: "CMixteraSIMD", path: "Sources/CMixteraSIMD"),
        // Layer 0: bytes, varints, PRNG, locations, hashing. No Foundation.
        .target(name: "MixteraCore", dependencies: ["CXXHash", "CZstd", "CMixteraSIMD"], swiftSettings: swiftSettings),
        // Layer 1: spec models (dataset + build YAML), format readers, catalog, manifest.
        .target(
            name: "MixteraSpec",
            dependencies: ["MixteraCore", .product(name: "Yams", package: "Yams")],
            swiftSettings: swiftSettings),
        .target(
            name: "MixteraFormats", dependencies: ["MixteraCore", "MixteraSpec", "MixteraParquet", "CZstd", "CArchive", "CMixteraSIMD"],
            swiftSettings: swiftSettings),
        .target(
            name: "MixteraParquet", dependencies: ["MixteraCore", "CZstd", "CSnappy", "CZlib", "CLZ4", "CBrotli"],
            swiftSettings: swiftSettings),
        .target(name: "MixteraCatalog", dependencies: ["MixteraCore", "MixteraSpec", "CSQLite"], swiftSettings: swiftSettings),
        .target(name: "MixteraManifest", dependencies: ["MixteraCore"], swiftSettings: swiftSettings),
        // Layer 2: planning (pure: works on in-memory sample tables) and replay (no SQLite).
        .target(name: "MixteraPlanner", dependencies: ["MixteraCore", "MixteraSpec"], swiftSettings: swiftSettings),
        .target(
            name: "MixteraReplay", dependencies: ["MixteraCore", "MixteraManifest", "MixteraFormats", "MixteraParquet"],
            swiftSettings: swiftSettings),
        // Layer 3: facade and CLI.
        .target(
            name: "Mixtera",
            dependencies: [
                "MixteraCore", "MixteraSpec", "MixteraFormats", "MixteraCatalog", "MixteraManifest",
                "MixteraPlanner", "MixteraReplay",
            ],
            swiftSettings: swiftSettings),
        .executableTarget(
            name: "mixtera",
            dependencies: ["Mixtera", "MixteraCore", "CMixteraSIMD", "MixteraSpec", "MixteraPlanner", "MixteraReplay", "MixteraManifest", "MixteraFormats", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            swiftSettings: swiftSettings),

        .target(name: "MixteraTestSupport", dependencies: ["MixteraCore"], path: "Tests/MixteraTestSupport"),
        .testTarget(name: "MixteraCoreTests", dependencies: ["MixteraCore", "MixteraTestSupport"]),
        .testTarget(name: "MixteraSpecTests", dependencies: ["MixteraSpec", "MixteraTestSupport"]),
        .testTarget(name: "MixteraParquetTests", dependencies: ["MixteraParquet", "MixteraTestSupport", "CLZ4"]),
        .testTarget(name: "MixteraFormatsTests", dependencies: ["MixteraFormats", "MixteraParquet", "MixteraSpec", "MixteraTestSupport"]),
        .testTarget(name: "MixteraCatalogTests", dependencies: ["MixteraCatalog", "MixteraTestSupport"]),
        .testTarget(name: "MixteraManifestTests", dependencies: ["MixteraManifest", "MixteraTestSupport"]),
        .testTarget(name: "MixteraPlannerTests", dependencies: ["MixteraPlanner", "MixteraTestSupport"]),
        .testTarget(
            name: "MixteraIntegrationTests",
            dependencies: ["Mixtera", "MixteraReplay", "MixteraCatalog", "MixteraSpec", "MixteraTestSupport"]),
        .testTarget(name: "MixteraCLITests", dependencies: ["MixteraTestSupport"]),
    ],
    swiftLanguageModes: [.v6]
)

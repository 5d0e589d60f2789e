import Foundation
import MixteraCore
import Testing

@testable import MixteraFormats

/// Locates `fixtures/` from this file's path and decodes the `*.expected.json` files written by
/// `scripts/make-wds-fixtures.py`.
enum TarFixtures {
    static let root: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }()

    static func good(_ name: String) -> String { root + "/fixtures/wds/" + name }
    static func bad(_ name: String) -> String { root + "/fixtures/bad/wds/" + name }

    /// Plain good archives (each has an expected JSON).
    static let plain = [
        "python-ustar.tar", "python-pax.tar", "python-gnu.tar", "python-pax-global.tar", "webdataset-writer.tar",
        "gnutar-ustar.tar", "gnutar-pax.tar", "gnutar-gnu.tar", "dotted-dirs.tar", "non-adjacent.tar",
        "edge-names.tar", "no-eof-blocks.tar", "v7.tar", "dialects.tar",
    ]
    static let compressed = ["webdataset-writer.tar.gz", "python-pax.tar.zst"]
    static let all = plain + compressed

    struct Member: Decodable, Equatable {
        var index: Int
        var name: String
        var kind: String
        var header_offset: Int64
        var data_offset: Int64
        var size: Int64
        var link: String?
        var data_hex: String?
    }

    struct SampleMember: Decodable, Equatable {
        var ext: String
        var name: String
        var data_offset: Int64
        var size: Int64
        var member_index: Int
    }

    struct Sample: Decodable, Equatable {
        var key: String
        var index: Int
        var members: [SampleMember]
    }

    struct Expected: Decodable {
        var members: [Member]
        var samples: [Sample]
        var skipped: [String: Int]
    }

    static func expected(_ name: String) throws -> Expected {
        let data = try Data(contentsOf: URL(fileURLWithPath: good(name + ".expected.json")))
        return try JSONDecoder().decode(Expected.self, from: data)
    }

    static func kindName(_ k: TarMember.Kind) -> String {
        switch k {
        case .regular: "regular"
        case .directory: "directory"
        case .symlink: "symlink"
        case .hardLink: "hardlink"
        case .other: "other"
        }
    }

    static func hex(_ bytes: [UInt8]) -> String {
        bytes.map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined()
    }

    /// Runs `body` and returns the `FormatError` it throws (records an issue when it does not throw).
    static func formatError(
        sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws(FormatError) -> Void
    ) -> FormatError? {
        do {
            try body()
            Issue.record("expected a FormatError", sourceLocation: sourceLocation)
            return nil
        } catch {
            return error
        }
    }
}

import Foundation

/// Locates the package's fixtures from this source file.
enum Fixtures {
    static let root: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }()

    static func good(_ name: String) -> String { root + "/fixtures/parquet/" + name }
    static func bad(_ name: String) -> String { root + "/fixtures/bad/parquet/" + name }

    static func list(_ dir: String, suffix: String) -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: root + "/" + dir)) ?? []
        return names.filter { $0.hasSuffix(suffix) }.sorted()
    }

    static func expectedLines(_ parquetName: String) -> [String] {
        let name = parquetName.replacingOccurrences(of: ".parquet", with: ".expected.jsonl")
        guard let text = try? String(contentsOfFile: good(name), encoding: .utf8) else { return [] }
        return text.split(separator: "\n", omittingEmptySubsequences: true).map(String.init)
    }

    static func parse(_ json: String) -> NSObject? {
        try? JSONSerialization.jsonObject(with: Data(json.utf8), options: [.fragmentsAllowed]) as? NSObject
    }
}

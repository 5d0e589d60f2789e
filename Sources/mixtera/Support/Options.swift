import ArgumentParser
import Mixtera
import MixteraCore
import MixteraSpec

#if canImport(Glibc)
    import Glibc
#endif

struct OutputOptions: ParsableArguments {
    @Flag(help: "Machine-readable JSON output.")
    var json = false

    @Flag(name: .shortAndLong, help: "No progress or summary output.")
    var quiet = false
}

/// Reads a spec file, mapping a missing file to exit 66.
func readSpecText(_ path: String) throws -> String {
    guard let st = try FileSystem.stat(path) else {
        throw SpecError("missing-spec", "spec file does not exist", at: DataLocation(path: path), category: .noInput)
    }
    guard st.isRegular else {
        throw SpecError("missing-spec", "spec path is not a file", at: DataLocation(path: path), category: .noInput)
    }
    let bytes = try FileSystem.readAll(path)
    guard let text = String(validating: bytes, as: UTF8.self) else {
        throw SpecError("malformed-yaml", "spec file is not valid UTF-8", at: DataLocation(path: path))
    }
    return text
}

/// Parses a dataset spec; roots resolve against the spec's folder made absolute, so the catalog
/// and manifests never hold paths relative to the current directory.
func loadDatasetSpec(_ path: String) throws -> DatasetSpec {
    let text = try readSpecText(path)
    var spec = try DatasetSpec.parse(text: text, path: absolutePath(path))
    spec.path = path
    return spec
}

func absolutePath(_ path: String) -> String {
    if path.hasPrefix("/") { return PathUtil.normalize(path) }
    var buf = [CChar](repeating: 0, count: 4096)
    guard getcwd(&buf, buf.count) != nil else { return path }
    let cwd = String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    return PathUtil.normalize(cwd + "/" + path)
}

func loadBuildSpec(_ path: String) throws -> BuildSpec {
    try BuildSpec.parse(text: try readSpecText(path), path: path)
}

func formatCount(_ n: Int64) -> String {
    let s = String(n)
    var out = ""
    for (i, c) in s.reversed().enumerated() {
        if i > 0 && i % 3 == 0 && c != "-" { out.append(",") }
        out.append(c)
    }
    return String(out.reversed())
}

func formatBytes(_ n: Int64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"]
    var v = Double(n)
    var u = 0
    while v >= 1024 && u < units.count - 1 {
        v /= 1024
        u += 1
    }
    return u == 0 ? "\(n) B" : String(format1(v)) + " " + units[u]
}

func format1(_ v: Double) -> String {
    let x = (v * 10).rounded() / 10
    return String(x)
}

func pad(_ s: String, _ n: Int, right: Bool = false) -> String {
    let c = s.count
    if c >= n { return s }
    let sp = String(repeating: " ", count: n - c)
    return right ? sp + s : s + sp
}

/// Renders a simple aligned table.
func table(_ header: [String], _ rows: [[String]], rightAligned: Set<Int> = []) -> String {
    var widths = header.map(\.count)
    for r in rows { for (i, c) in r.enumerated() { widths[i] = max(widths[i], c.count) } }
    var out = ""
    func line(_ cells: [String]) {
        out += cells.enumerated().map { i, c in pad(c, widths[i], right: rightAligned.contains(i)) }.joined(separator: "  ")
        while out.hasSuffix(" ") { out.removeLast() }
        out += "\n"
    }
    line(header)
    line(widths.map { String(repeating: "-", count: $0) })
    for r in rows { line(r) }
    return out
}

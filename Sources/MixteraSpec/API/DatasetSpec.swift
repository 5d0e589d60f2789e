import MixteraCore

/// The type of a declared property.
public enum PropertyType: String, Sendable, Hashable, Codable {
    case string
    case int
    case float
    case bool
    case stringList = "list<string>"

    /// Categorical properties (string, bool, list<string>) are stored once per distinct
    /// combination ("key"); numeric ones (int, float) per sample.
    public var isCategorical: Bool {
        switch self {
        case .string, .bool, .stringList: return true
        case .int, .float: return false
        }
    }
}

/// A property value. Lists are kept in record order.
public enum PropertyValue: Sendable, Hashable {
    case null
    case string(String)
    case int(Int64)
    case float(Double)
    case bool(Bool)
    case stringList([String])
}

/// Where a property's value comes from.
public enum PropertySource: Sendable, Hashable {
    /// A JSON path (`meta.language`, `tags[0]`, `meta.language[*].name`), a Parquet column path, or a
    /// WebDataset member reference (`cls`, `json:meta.topic`).
    case field(String)
    /// A named capture of a `from_path` pattern such as `{source}/{lang}/*.jsonl`.
    case fromPath(pattern: String, capture: String)
}

public struct PropertyDecl: Sendable, Hashable {
    public var name: String
    public var source: PropertySource
    public var type: PropertyType
    /// Used when the field is missing (and when it is null, unless `nullable`).
    public var defaultValue: PropertyValue?
    /// When true, an explicit JSON null is stored as null; otherwise null is treated like a missing field.
    public var nullable: Bool
}

public enum DatasetFormat: String, Sendable, Hashable, CaseIterable {
    case jsonl, parquet, webdataset, auto
}

public enum OnError: String, Sendable, Hashable {
    case fail, skip
}

public struct DatasetDecl: Sendable {
    public var name: String
    /// Absolute (or spec-relative resolved) root folder.
    public var root: String
    public var format: DatasetFormat
    public var include: [String]
    public var exclude: [String]
    public var text: String?
    public var tokens: String?
    public var onError: OnError
    /// Lines longer than this are an error (default 64 MiB).
    public var maxLineBytes: Int
    public var properties: [PropertyDecl]
    public var location: DataLocation
}

/// `datasets.yaml`: the datasets to index, their formats and declared properties.
public struct DatasetSpec: Sendable {
    public var path: String
    public var datasets: [DatasetDecl]

    /// Parses a dataset spec. Relative roots resolve against the spec file's folder.
    /// - Throws: `SpecError` with `file:line:column` for malformed YAML, unknown keys, bad types,
    ///   unknown formats, duplicate names.
    public static func parse(text: String, path: String) throws(SpecError) -> DatasetSpec {
        guard let root = try YAMLNode.parse(text: text, path: path) else {
            throw SpecError("invalid-spec", "the dataset spec is empty", at: DataLocation(path: path))
        }
        let top = try root.mapping(allowedKeys: ["datasets"])
        guard let list = top["datasets"] else { throw root.fail("missing key \"datasets\"") }
        let base = PathUtil.directory(of: path)
        var datasets: [DatasetDecl] = []
        var names = Set<String>()
        for item in try list.sequence() {
            let d = try parseDataset(item, base: base)
            if !names.insert(d.name).inserted {
                throw item.fail("duplicate dataset name \"\(d.name)\"")
            }
            datasets.append(d)
        }
        if datasets.isEmpty { throw list.fail("no datasets declared") }
        return DatasetSpec(path: path, datasets: datasets)
    }

    static let datasetKeys: Set<String> = [
        "name", "root", "format", "include", "exclude", "text", "tokens", "on_error", "properties", "max_line_bytes",
    ]

    static func parseDataset(_ node: YAMLNode, base: String) throws(SpecError) -> DatasetDecl {
        let m = try node.mapping(allowedKeys: datasetKeys)
        guard let nameNode = m["name"] else { throw node.fail("missing key \"name\"") }
        let name = try nameNode.string()
        if name.isEmpty { throw nameNode.fail("dataset name must not be empty") }
        guard let rootNode = m["root"] else { throw node.fail("missing key \"root\"") }
        let root = PathUtil.resolve(try rootNode.string(), against: base)
        var format = DatasetFormat.auto
        if let f = m["format"] {
            let s = try f.string()
            guard let v = DatasetFormat(rawValue: s) else {
                throw f.fail(
                    "unknown dataset format \"\(s)\" (expected jsonl, parquet, webdataset or auto)",
                    kind: "unknown-format")
            }
            format = v
        }
        let include = try m["include"]?.stringList() ?? defaultIncludes(format)
        let exclude = try m["exclude"]?.stringList() ?? []
        var onError = OnError.fail
        if let e = m["on_error"] {
            let s = try e.string()
            guard let v = OnError(rawValue: s) else { throw e.fail("on_error must be fail or skip, found \"\(s)\"") }
            onError = v
        }
        var maxLine = 64 << 20
        if let n = m["max_line_bytes"] {
            maxLine = try n.int()
            if maxLine < 16 { throw n.fail("max_line_bytes must be at least 16") }
        }
        var properties: [PropertyDecl] = []
        var propNames = Set<String>()
        if let p = m["properties"], !p.isNull {
            for (key, value) in try p.mapping() {
                guard isIdentifier(key) else {
                    throw value.fail("property name \"\(key)\" must be an identifier ([A-Za-z_][A-Za-z0-9_]*)")
                }
                if !propNames.insert(key).inserted { throw value.fail("duplicate property \"\(key)\"") }
                properties.append(try parseProperty(name: key, value))
            }
        }
        return DatasetDecl(
            name: name, root: root, format: format, include: include, exclude: exclude,
            text: try m["text"]?.string(), tokens: try m["tokens"]?.string(), onError: onError,
            maxLineBytes: maxLine, properties: properties, location: node.location)
    }

    static func defaultIncludes(_ format: DatasetFormat) -> [String] {
        switch format {
        case .jsonl:
            return ["**/*.jsonl", "**/*.jsonl.zst", "**/*.jsonl.gz", "**/*.jsonl.xz", "**/*.jsonl.bz2", "**/*.json"]
        case .parquet: return ["**/*.parquet"]
        case .webdataset: return ["**/*.tar", "**/*.tar.gz", "**/*.tar.zst"]
        case .auto:
            return defaultIncludes(.jsonl) + defaultIncludes(.parquet) + defaultIncludes(.webdataset)
        }
    }

    static func isIdentifier(_ s: String) -> Bool {
        guard let first = s.utf8.first, first == UInt8(ascii: "_") || (first | 0x20) >= 97 && (first | 0x20) <= 122
        else { return false }
        return s.utf8.allSatisfy { c in
            c == UInt8(ascii: "_") || (c >= 48 && c <= 57) || ((c | 0x20) >= 97 && (c | 0x20) <= 122)
        }
    }

    static func parseProperty(name: String, _ node: YAMLNode) throws(SpecError) -> PropertyDecl {
        let m = try node.mapping(allowedKeys: ["path", "from_path", "type", "default", "nullable"])
        var type = PropertyType.string
        if let t = m["type"] {
            let s = try t.string()
            guard let v = PropertyType(rawValue: s) else {
                throw t.fail("unknown type \"\(s)\" (expected string, int, float, bool or list<string>)")
            }
            type = v
        }
        let source: PropertySource
        switch (m["path"], m["from_path"]) {
        case (let p?, nil):
            let s = try p.string()
            if s.isEmpty { throw p.fail("path must not be empty") }
            source = .field(s)
        case (nil, let fp?):
            let pattern = try fp.string()
            let captures = PathPattern.captureNames(pattern)
            if captures.isEmpty { throw fp.fail("from_path pattern has no {capture}") }
            // `{name}` captures the property itself when present, else the first capture.
            source = .fromPath(pattern: pattern, capture: captures.contains(name) ? name : captures[0])
            if type != .string && type != .int {
                throw fp.fail("from_path properties must be string or int")
            }
        case (nil, nil): throw node.fail("property \"\(name)\" needs path or from_path")
        case (_?, _?): throw node.fail("property \"\(name)\" has both path and from_path")
        }
        var def: PropertyValue?
        if let d = m["default"] { def = try parseValue(d, type: type) }
        let nullable = try m["nullable"]?.bool() ?? false
        return PropertyDecl(name: name, source: source, type: type, defaultValue: def, nullable: nullable)
    }

    static func parseValue(_ node: YAMLNode, type: PropertyType) throws(SpecError) -> PropertyValue {
        if node.isNull { return .null }
        switch type {
        case .string: return .string(try node.string())
        case .int: return .int(Int64(try node.int()))
        case .float: return .float(try node.double())
        case .bool: return .bool(try node.bool())
        case .stringList:
            var out: [String] = []
            for i in try node.sequence() { out.append(try i.string()) }
            return .stringList(out)
        }
    }
}

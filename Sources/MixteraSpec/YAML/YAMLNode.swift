import MixteraCore
import Yams

/// A thin, located view of a Yams node used by the spec decoders: every accessor that fails throws a
/// `SpecError` carrying `file:line:column` of the offending node, and unknown keys are errors.
struct YAMLNode {
    let node: Node
    let path: String
    /// Dotted key path from the document root, for messages (`mixture.components[1].weight`).
    let keyPath: String

    var location: DataLocation {
        DataLocation(path: path, line: node.mark?.line, column: node.mark?.column)
    }

    static func parse(text: String, path: String) throws(SpecError) -> YAMLNode? {
        do {
            guard let root = try Yams.compose(yaml: text) else { return nil }
            return YAMLNode(node: root, path: path, keyPath: "")
        } catch let error as YamlError {
            throw Self.convert(error, path: path)
        } catch {
            throw SpecError("malformed-yaml", "malformed YAML: \(error)", at: DataLocation(path: path))
        }
    }

    private static func convert(_ error: YamlError, path: String) -> SpecError {
        func located(_ problem: String, _ mark: Mark) -> SpecError {
            SpecError(
                "malformed-yaml", "malformed YAML: \(problem)",
                at: DataLocation(path: path, line: mark.line, column: mark.column))
        }
        switch error {
        case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _),
            .composer(_, let problem, let mark, _):
            return located(problem, mark)
        case .duplicatedKeysInMapping(let duplicates, let context):
            return located("duplicate key \(duplicates.joined(separator: ", "))", context.mark)
        case .reader(let problem, _, _, _):
            return SpecError("malformed-yaml", "malformed YAML: \(problem)", at: DataLocation(path: path))
        default:
            return SpecError("malformed-yaml", "malformed YAML: \(error)", at: DataLocation(path: path))
        }
    }

    func fail(_ message: String, kind: String = "invalid-spec") -> SpecError {
        SpecError(kind, keyPath.isEmpty ? message : "\(keyPath): \(message)", at: location)
    }

    private func child(_ n: Node, _ key: String) -> YAMLNode {
        YAMLNode(node: n, path: path, keyPath: keyPath.isEmpty ? key : "\(keyPath).\(key)")
    }

    var isMapping: Bool { node.mapping != nil }

    var isNull: Bool {
        if case .scalar(let s) = node,
            s.tag.rawValue == Tag.Name.null.rawValue
                || (s.style == .plain && ["", "~", "null", "Null", "NULL"].contains(s.string))
        {
            return true
        }
        return false
    }

    /// The mapping entries in document order.
    func mapping(allowedKeys: Set<String>? = nil) throws(SpecError) -> [(key: String, value: YAMLNode)] {
        guard case .mapping(let m) = node else { throw fail("expected a mapping") }
        var out: [(String, YAMLNode)] = []
        for (k, v) in m {
            guard case .scalar(let ks) = k else {
                throw YAMLNode(node: k, path: path, keyPath: keyPath).fail("mapping keys must be strings")
            }
            let key = ks.string
            if let allowedKeys, !allowedKeys.contains(key) {
                let known = allowedKeys.sorted().joined(separator: ", ")
                throw YAMLNode(node: k, path: path, keyPath: keyPath)
                    .fail("unknown key \"\(key)\" (known: \(known))", kind: "unknown-key")
            }
            out.append((key, child(v, key)))
        }
        return out
    }

    func sequence() throws(SpecError) -> [YAMLNode] {
        guard case .sequence(let s) = node else { throw fail("expected a list") }
        return s.enumerated().map { i, n in
            YAMLNode(node: n, path: path, keyPath: "\(keyPath)[\(i)]")
        }
    }

    func string() throws(SpecError) -> String {
        guard case .scalar(let s) = node else { throw fail("expected a string") }
        return s.string
    }

    func int() throws(SpecError) -> Int {
        guard case .scalar = node, let v = node.int else { throw fail("expected an integer") }
        return v
    }

    func double() throws(SpecError) -> Double {
        guard case .scalar(let s) = node else { throw fail("expected a number") }
        if let i = node.int { return Double(i) }
        if let v = node.float, s.style == .plain { return v }
        throw fail("expected a number, found \"\(s.string)\"")
    }

    func bool() throws(SpecError) -> Bool {
        guard case .scalar = node, let v = node.bool else { throw fail("expected true or false") }
        return v
    }

    func stringList() throws(SpecError) -> [String] {
        if case .scalar = node { return [try string()] }
        var out: [String] = []
        for item in try sequence() { out.append(try item.string()) }
        return out
    }

    /// The original scalar style was quoted (so `"1"` is a string, not a number).
    var isQuotedScalar: Bool {
        if case .scalar(let s) = node { return s.style == .singleQuoted || s.style == .doubleQuoted }
        return false
    }
}

/// Finds a key's value in an entries list.
extension Array where Element == (key: String, value: YAMLNode) {
    subscript(key: String) -> YAMLNode? { first { $0.key == key }?.value }
}

import Foundation
import MixteraCore

/// Paths and helpers shared by the test targets.
public enum TestSupport {
    /// The package root, found from this file's path.
    public static let packageRoot: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }()

    public static func fixture(_ relative: String) -> String { packageRoot + "/fixtures/" + relative }

    /// A fresh temporary directory, removed by the caller if wanted.
    public static func temporaryDirectory(_ name: String = "t") -> String {
        let path = NSTemporaryDirectory() + "mixtera-\(name)-\(UUID().uuidString)"
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    public static func write(_ text: String, to path: String) {
        try! FileManager.default.createDirectory(
            atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try! text.write(toFile: path, atomically: true, encoding: .utf8)
    }

    /// The test seed: `MIXTERA_TEST_SEED` when set, else a fixed default (printed by callers on failure).
    public static var seed: UInt64 {
        if let s = ProcessInfo.processInfo.environment["MIXTERA_TEST_SEED"], let v = UInt64(s) { return v }
        return 20_261_129
    }

    /// The built `mixtera` binary (debug build of this package).
    public static var binary: String {
        for config in ["debug", "release"] {
            let p = packageRoot + "/.build/\(config)/mixtera"
            if FileManager.default.isExecutableFile(atPath: p) { return p }
        }
        return packageRoot + "/.build/debug/mixtera"
    }

    public struct RunResult {
        public var status: Int32
        public var stdout: String
        public var stderr: String
        public var stdoutBytes: Data
    }

    /// Runs the built binary (or `executable`) with arguments, in `cwd` (default: package root).
    public static func run(_ arguments: [String], cwd: String? = nil, executable: String? = nil) throws -> RunResult {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executable ?? binary)
        p.arguments = arguments
        p.currentDirectoryURL = URL(fileURLWithPath: cwd ?? packageRoot)
        var env = ProcessInfo.processInfo.environment
        env["NO_COLOR"] = "1"
        p.environment = env
        let dir = temporaryDirectory("run")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        FileManager.default.createFile(atPath: dir + "/out", contents: nil)
        FileManager.default.createFile(atPath: dir + "/err", contents: nil)
        let out = try FileHandle(forWritingTo: URL(fileURLWithPath: dir + "/out"))
        let err = try FileHandle(forWritingTo: URL(fileURLWithPath: dir + "/err"))
        p.standardOutput = out
        p.standardError = err
        p.standardInput = FileHandle.nullDevice
        try p.run()
        p.waitUntilExit()
        try out.close()
        try err.close()
        let outData = FileManager.default.contents(atPath: dir + "/out") ?? Data()
        let errData = FileManager.default.contents(atPath: dir + "/err") ?? Data()
        return RunResult(
            status: p.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
            stderr: String(decoding: errData, as: UTF8.self), stdoutBytes: outData)
    }

    /// All files under a directory (relative paths, sorted) with their bytes.
    public static func directoryContents(_ path: String) -> [String: Data] {
        var out: [String: Data] = [:]
        let fm = FileManager.default
        for name in (try? fm.subpathsOfDirectory(atPath: path)) ?? [] {
            var isDir: ObjCBool = false
            if fm.fileExists(atPath: path + "/" + name, isDirectory: &isDir), !isDir.boolValue {
                out[name] = fm.contents(atPath: path + "/" + name)
            }
        }
        return out
    }
}

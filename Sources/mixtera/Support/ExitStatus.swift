import ArgumentParser
import CMixteraSIMD
import MixteraCore

#if canImport(Glibc)
    import Glibc
#endif

/// The only place errors become exit codes (docs/errors.md).
enum ExitStatus {
    static func code(for category: ErrorCategory) -> Int32 {
        switch category {
        case .usage: return 64
        case .data: return 65
        case .noInput: return 66
        case .software: return 70
        case .cannotCreate: return 73
        case .io: return 74
        case .locked: return 75
        }
    }

    /// Runs a command body: prints a `MixteraError` as one line on stderr and exits with its code.
    static func run(json: Bool = false, _ body: () throws -> Void) throws {
        tuneAllocator()
        do {
            try body()
        } catch let e as MixteraError {
            report(e, json: json)
            throw ExitCode(code(for: e.category))
        } catch let e as ExitCode {
            throw e
        } catch let e as ValidationError {
            Terminal.error(Terminal.red("error: ") + e.message + " [usage]")
            throw ExitCode(64)
        } catch {
            Terminal.error("internal error: \(error)")
            throw ExitCode(70)
        }
    }

    static func report(_ e: MixteraError, json: Bool) {
        if json {
            var kv: [(String, JSON)] = [("kind", .string(e.kind)), ("message", .string(e.message))]
            if let l = e.location { kv.append(("location", .string(l.description))) }
            kv.append(("exit_code", .int(Int64(code(for: e.category)))))
            Terminal.writeStderr(JSON.object([("error", .object(kv))]).serialized() + "\n")
        } else {
            let prefix = e.location.map { "\($0): " } ?? ""
            // One line, whatever a message echoes from hostile input (docs/security.md).
            var message = ""
            for c in e.message.unicodeScalars {
                switch c {
                case "\n": message += "\\n"
                case "\r": message += "\\r"
                default: message.unicodeScalars.append(c)
                }
            }
            Terminal.error(prefix + Terminal.red("error: ") + message + " [\(e.kind)]")
        }
    }
}

/// Decoders allocate and free multi-megabyte page buffers in a loop; by default glibc serves those with
/// fresh `mmap`s, so every page of every buffer is faulted in and zeroed again. Raising the mmap and trim
/// thresholds lets freed buffers be reused from the heap (peak memory is unchanged).
func tuneAllocator() {
    mixtera_tune_allocator()
}

enum Terminal {
    static let stderrIsTTY = isatty(2) == 1
    static let stdoutIsTTY = isatty(1) == 1
    static let colors = stderrIsTTY && getenv("NO_COLOR") == nil

    /// Colours for stdout: only when stdout is a terminal and `NO_COLOR` is unset.
    static let stdoutColors = stdoutIsTTY && getenv("NO_COLOR") == nil

    static func red(_ s: String) -> String { colors ? "\u{1B}[31m\(s)\u{1B}[0m" : s }
    /// ANSI SGR `code` around `s` on stdout (e.g. "31" red, "32" green), or `s` unchanged.
    static func paint(_ s: String, _ code: String) -> String { stdoutColors ? "\u{1B}[\(code)m\(s)\u{1B}[0m" : s }
    static func bold(_ s: String) -> String { colors && stdoutIsTTY ? "\u{1B}[1m\(s)\u{1B}[0m" : s }

    static func error(_ line: String) { writeStderr("mixtera: " + line + "\n") }

    static func writeStderr(_ s: String) {
        var bytes = Array(s.utf8)
        bytes.withUnsafeMutableBytes { _ = write(2, $0.baseAddress, $0.count) }
    }

    /// Buffered stdout for bulk output (replay, samples).
    final class Output {
        private var buffer: [UInt8] = []
        init() { buffer.reserveCapacity(1 << 20) }
        func write(_ bytes: [UInt8]) {
            buffer.append(contentsOf: bytes)
            if buffer.count >= 1 << 20 { flush() }
        }
        func write(_ s: String) { write(Array(s.utf8)) }
        /// Lets `body` append to the output buffer directly (no intermediate line array).
        func append(_ body: (inout [UInt8]) -> Void) {
            body(&buffer)
            if buffer.count >= 1 << 20 { flush() }
        }
        func flush() {
            var off = 0
            while off < buffer.count {
                let n = buffer.withUnsafeBytes { Glibc.write(1, $0.baseAddress! + off, $0.count - off) }
                if n <= 0 { break }
                off += n
            }
            buffer.removeAll(keepingCapacity: true)
        }
        deinit { flush() }
    }

    /// Progress line on a TTY only (never with --json or --quiet).
    static func progress(_ s: String, enabled: Bool) {
        guard enabled && stderrIsTTY else { return }
        writeStderr("\r\u{1B}[2K" + s)
    }

    static func endProgress(enabled: Bool) {
        guard enabled && stderrIsTTY else { return }
        writeStderr("\r\u{1B}[2K")
    }
}

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// File metadata used for change detection.
public struct FileStat: Sendable, Equatable {
    public var byteCount: Int64
    /// Modification time in nanoseconds since the epoch.
    public var mtimeNanoseconds: Int64
    public var isDirectory: Bool
    public var isRegular: Bool
}

/// A read-only file descriptor that closes itself. The corresponding C functions are `open`, `pread`, `close`.
public final class ReadOnlyFile: @unchecked Sendable {
    public let fd: Int32
    public let path: String

    public init(path: String) throws(CoreError) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 { throw CoreError.fromErrno(errno, op: "open", path: path) }
        self.fd = fd
        self.path = path
    }

    deinit { close(fd) }

    public func stat() throws(CoreError) -> FileStat {
        guard let st = _fstat(fd) else { throw CoreError.fromErrno(errno, op: "stat", path: path) }
        return st
    }

    /// Reads up to `count` bytes at `offset` into `buffer`, looping over short reads. Returns bytes read
    /// (less than `count` only at end of file).
    public func pread(into buffer: UnsafeMutableRawBufferPointer, at offset: Int64) throws(CoreError) -> Int {
        var done = 0
        while done < buffer.count {
            let n = Glibc.pread(fd, buffer.baseAddress! + done, buffer.count - done, off_t(offset) + off_t(done))
            if n < 0 {
                if errno == EINTR { continue }
                throw CoreError.fromErrno(errno, op: "read", path: path)
            }
            if n == 0 { break }
            done += n
        }
        return done
    }

    /// Reads exactly `count` bytes at `offset`, or throws a truncation error.
    public func readExactly(_ count: Int, at offset: Int64) throws(CoreError) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        var n = 0
        var failure: CoreError?
        out.withUnsafeMutableBytes { b in
            do throws(CoreError) { n = try pread(into: b, at: offset) } catch { failure = error }
        }
        if let failure { throw failure }
        if n != count {
            throw CoreError(
                .data, kind: "truncated", "file ended after \(n) of \(count) bytes",
                at: DataLocation(path: path, byteOffset: offset + Int64(n)))
        }
        return out
    }

    /// Sequential read into `buffer`; returns 0 at end of file.
    public func read(into buffer: UnsafeMutableRawBufferPointer) throws(CoreError) -> Int {
        while true {
            let n = Glibc.read(fd, buffer.baseAddress, buffer.count)
            if n < 0 {
                if errno == EINTR { continue }
                throw CoreError.fromErrno(errno, op: "read", path: path)
            }
            return n
        }
    }
}

private func _fstat(_ fd: Int32) -> FileStat? {
    var st = stat()
    return fstat(fd, &st) == 0 ? FileStat(st) : nil
}

private func _stat(_ path: String) -> FileStat? {
    var st = stat()
    return stat(path, &st) == 0 ? FileStat(st) : nil
}

extension FileStat {
    init(_ st: stat) {
        byteCount = Int64(st.st_size)
        mtimeNanoseconds = Int64(st.st_mtim.tv_sec) * 1_000_000_000 + Int64(st.st_mtim.tv_nsec)
        isDirectory = (st.st_mode & S_IFMT) == S_IFDIR
        isRegular = (st.st_mode & S_IFMT) == S_IFREG
    }
}

public enum FileSystem {
    /// `stat(2)` following symlinks; nil when the path does not exist.
    public static func stat(_ path: String) throws(CoreError) -> FileStat? {
        guard let st = _stat(path) else {
            if errno == ENOENT || errno == ENOTDIR { return nil }
            throw CoreError.fromErrno(errno, op: "stat", path: path)
        }
        return st
    }

    /// Hashes a whole file with XXH3-64, reading 1 MiB at a time.
    public static func fingerprint(path: String) throws(CoreError) -> UInt64 {
        let file = try ReadOnlyFile(path: path)
        let hasher = XXH3Stream()
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
        defer { buffer.deallocate() }
        while true {
            let n = try file.read(into: buffer)
            if n == 0 { break }
            hasher.update(UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
        }
        return hasher.digest()
    }

    /// Writes `bytes` to `path` through a temporary file in the same directory, `fsync`, then `rename`.
    public static func writeAtomically(_ bytes: [UInt8], to path: String) throws(CoreError) {
        let tmp = path + ".tmp-\(getpid())"
        try write(bytes, to: tmp, sync: true)
        if Glibc.rename(tmp, path) != 0 {
            let e = errno
            unlink(tmp)
            throw CoreError.fromErrno(e, op: "rename", path: path, creating: true)
        }
    }

    /// Creates (truncating) `path` and writes all of `bytes`, optionally `fsync`ing.
    public static func write(_ bytes: [UInt8], to path: String, sync: Bool) throws(CoreError) {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        if fd < 0 { throw CoreError.fromErrno(errno, op: "create", path: path, creating: true) }
        defer { close(fd) }
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + done, $0.count - done) }
            if n < 0 {
                if errno == EINTR { continue }
                throw CoreError.fromErrno(errno, op: "write", path: path, creating: true)
            }
            done += n
        }
        if sync && fsync(fd) != 0 { throw CoreError.fromErrno(errno, op: "fsync", path: path, creating: true) }
    }

    public static func syncDirectory(_ path: String) {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if fd >= 0 {
            fsync(fd)
            close(fd)
        }
    }

    public static func makeDirectory(_ path: String) throws(CoreError) {
        if mkdir(path, 0o755) != 0 && errno != EEXIST {
            throw CoreError.fromErrno(errno, op: "mkdir", path: path, creating: true)
        }
    }

    /// Removes a file or a directory tree (best effort, for cleaning temporary output).
    /// Symlinks are removed, never followed.
    public static func removeTree(_ path: String) {
        var lst = Glibc.stat()
        guard lstat(path, &lst) == 0 else { return }
        if (lst.st_mode & S_IFMT) == S_IFDIR {
            for name in (try? listDirectory(path)) ?? [] { removeTree(path + "/" + name) }
            rmdir(path)
        } else {
            unlink(path)
        }
    }

    /// Names in a directory except `.` and `..`, sorted bytewise.
    public static func listDirectory(_ path: String) throws(CoreError) -> [String] {
        guard let dir = opendir(path) else { throw CoreError.fromErrno(errno, op: "list", path: path) }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafePointer(to: entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if name == "." || name == ".." { continue }
            names.append(name)
        }
        return names.sorted { Array($0.utf8).lexicographicallyPrecedes($1.utf8) }
    }

    public static func rename(_ from: String, _ to: String) throws(CoreError) {
        if Glibc.rename(from, to) != 0 { throw CoreError.fromErrno(errno, op: "rename", path: to, creating: true) }
    }

    public static func readAll(_ path: String) throws(CoreError) -> [UInt8] {
        let f = try ReadOnlyFile(path: path)
        let size = try f.stat().byteCount
        return try f.readExactly(Int(size), at: 0)
    }
}

extension CoreError {
    public static func fromErrno(_ code: Int32, op: String, path: String, creating: Bool = false) -> CoreError {
        let text = String(cString: strerror(code))
        let category: ErrorCategory
        switch code {
        case ENOENT where !creating: category = .noInput
        case ENOENT, EACCES, EROFS, EEXIST, ENOTDIR, EISDIR: category = creating ? .cannotCreate : .noInput
        default: category = .io
        }
        let hint = category == .noInput ? "; check the path" : ""
        return CoreError(
            category, kind: "io", "cannot \(op) file: \(text.lowercased())\(hint)", at: DataLocation(path: path))
    }
}

import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A file operation that failed, with a sentence naming the path and the operating system's
/// reason (`strerror`).
public struct FileError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The file the operation was about.
    public let path: String
    /// One sentence naming `path`, what was being done and why it failed.
    public let description: String

    public init(path: String, description: String) {
        self.path = path
        self.description = description
    }

    /// "cannot write 'ckpt.safetensors': renaming the temporary file failed: Permission denied."
    init(path: String, verb: String, step: String, errno code: Int32) {
        let reason = String(cString: strerror(code))
        self.init(path: path, description: "cannot \(verb) '\(path)': \(step) failed: \(reason).")
    }
}

extension FileError: LocalizedError {
    public var errorDescription: String? { description }
}

/// Whole-file writes that never leave a half-written file behind (no file of the
/// user's overwritten or half-written): the bytes go to a temporary file in the same directory,
/// which is flushed to disk and then renamed over the target, so a reader sees either the old
/// file or the complete new one, even after a crash.
public enum AtomicFile {
    /// Replaces (or creates) `path` with `data` atomically.
    ///
    /// On failure the temporary file is removed, any previous file at `path` is left as it was,
    /// and a `FileError` naming `path` and the OS error is thrown.
    public static func write(_ data: Data, to path: String) throws {
        let directory = directoryOf(path)
        let name = (path as NSString).lastPathComponent
        let temporary = (directory as NSString).appendingPathComponent(".\(name).\(UUID().uuidString).tmp")

        // 0o666 filtered by the umask: the same permissions a plain `open(O_CREAT)` would give.
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o666)
        guard fd >= 0 else { throw FileError(path: path, verb: "write", step: "creating a temporary file", errno: errno) }

        var failure: FileError?
        if let error = writeAll(data, to: fd) {
            failure = FileError(path: path, verb: "write", step: "writing", errno: error)
        } else if fsync(fd) != 0 {
            failure = FileError(path: path, verb: "write", step: "flushing to disk", errno: errno)
        }
        if close(fd) != 0 && failure == nil {
            failure = FileError(path: path, verb: "write", step: "closing the temporary file", errno: errno)
        }
        if failure == nil && rename(temporary, path) != 0 {
            failure = FileError(path: path, verb: "write", step: "renaming the temporary file over it", errno: errno)
        }
        if let failure {
            unlink(temporary)
            throw failure
        }
        try syncDirectory(directory, of: path)
    }

    /// The file a temporary file of `write` was for (".config.json.<UUID>.tmp" → "config.json"),
    /// or nil when `name` is no such file. A process killed while writing leaves one behind.
    public static func target(ofTemporary name: String) -> String? {
        guard name.hasPrefix("."), name.hasSuffix(".tmp") else { return nil }
        let inner = name.dropFirst().dropLast(".tmp".count)
        guard let dot = inner.lastIndex(of: "."), UUID(uuidString: String(inner[inner.index(after: dot)...])) != nil,
              dot > inner.startIndex else { return nil }
        return String(inner[..<dot])
    }

    /// The whole contents of `path`, or a `FileError` naming it and the OS error. A file larger
    /// than `maxBytes` is refused before anything is read.
    public static func read(_ path: String, maxBytes: Int = .max) throws -> Data {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw FileError(path: path, verb: "read", step: "opening", errno: errno) }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw FileError(path: path, verb: "read", step: "stat", errno: errno) }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            throw FileError(path: path, description: "cannot read '\(path)': it is not a regular file.")
        }
        guard info.st_size <= maxBytes else {
            throw FileError(path: path, description: "cannot read '\(path)': it is \(info.st_size) bytes, more than the \(maxBytes) allowed.")
        }
        var data = Data(count: Int(info.st_size))
        var filled = 0
        let error: Int32? = data.withUnsafeMutableBytes { raw in
            while filled < raw.count {
                let n = posixRead(fd, raw.baseAddress! + filled, raw.count - filled)
                if n < 0 && errno == EINTR { continue }
                if n < 0 { return errno }
                if n == 0 { break }
                filled += n
            }
            return nil
        }
        if let error { throw FileError(path: path, verb: "read", step: "reading", errno: error) }
        // The file shrank while we read it: return what is there, the parser will judge it.
        if filled < data.count { data.count = filled }
        return data
    }

    /// Writes every byte, retrying short writes and interrupted calls; returns the errno on failure.
    private static func writeAll(_ data: Data, to fd: Int32) -> Int32? {
        data.withUnsafeBytes { raw -> Int32? in
            var done = 0
            while done < raw.count {
                let n = posixWrite(fd, raw.baseAddress! + done, raw.count - done)
                if n < 0 && errno == EINTR { continue }
                if n < 0 { return errno }
                done += n
            }
            return nil
        }
    }

    /// Makes the entries of `directory` (a file renamed or a directory made in it) durable.
    public static func syncDirectory(_ directory: String) throws {
        try syncDirectory(directory, of: directory)
    }

    /// Makes the rename itself durable. Some file systems refuse `fsync` on a directory
    /// (EINVAL); the file is already complete then, so that is not an error.
    private static func syncDirectory(_ directory: String, of path: String) throws {
        let fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return }
        defer { close(fd) }
        if fsync(fd) != 0 && errno != EINVAL {
            throw FileError(path: path, verb: "write", step: "flushing its directory to disk", errno: errno)
        }
    }

    private static func directoryOf(_ path: String) -> String {
        let directory = (path as NSString).deletingLastPathComponent
        return directory.isEmpty ? "." : directory
    }
}

// Outside the enum so that `read`/`write` mean the POSIX calls, not `AtomicFile`'s.
private func posixRead(_ fd: Int32, _ buffer: UnsafeMutableRawPointer, _ count: Int) -> Int { read(fd, buffer, count) }
private func posixWrite(_ fd: Int32, _ buffer: UnsafeRawPointer, _ count: Int) -> Int { write(fd, buffer, count) }

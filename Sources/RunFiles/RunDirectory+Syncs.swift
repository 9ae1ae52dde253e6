import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `syncs.jsonl`, one JSON object per synchronization, appended in batches (at epoch ends and
/// before checkpoints) rather than rewritten: a minibatch run has a line per iteration.
extension RunDirectory {
    public static let syncsFile = "syncs.jsonl"

    /// Appends one line per record and flushes the file to disk; nothing for no records.
    public func appendSyncs<Record: Encodable>(_ records: [Record]) throws {
        guard !records.isEmpty else { return }
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        e.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        var data = Data()
        for r in records {
            data.append(try e.encode(r))
            data.append(0x0A)
        }
        let path = file(Self.syncsFile)
        let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o666)
        guard fd >= 0 else { throw FileError(path: path, verb: "append to", step: "opening", errno: errno) }
        defer { close(fd) }
        let failure: Int32? = data.withUnsafeBytes { raw in
            var done = 0
            while done < raw.count {
                let n = write(fd, raw.baseAddress! + done, raw.count - done)
                if n < 0 && errno == EINTR { continue }
                if n < 0 { return errno }
                done += n
            }
            return nil
        }
        if let failure { throw FileError(path: path, verb: "append to", step: "writing", errno: failure) }
        guard fsync(fd) == 0 else { throw FileError(path: path, verb: "append to", step: "flushing to disk", errno: errno) }
    }

    /// On resume from iteration `step`: keeps the lines of synchronizations before it and drops
    /// the rest (written after the checkpoint by the run that stopped), atomically. A last line
    /// cut short by a crash is dropped; any other line that is not a record is an error.
    public func truncateSyncs(before step: Int) throws {
        let path = file(Self.syncsFile)
        guard FileManager.default.fileExists(atPath: path) else { return }
        let lines = try AtomicFile.read(path).split(separator: 0x0A, omittingEmptySubsequences: false)
        var kept = Data()
        for (i, line) in lines.enumerated() where !line.isEmpty {
            let object = try? JSONSerialization.jsonObject(with: Data(line)) as? [String: Any]
            guard let lineStep = (object?["step"] as? NSNumber)?.intValue else {
                if i == lines.count - 1 { break }  // no newline: cut short while being written
                throw FileError(path: path, description: "cannot resume: line \(i + 1) of '\(path)' is not a synchronization record; remove the file to continue without the lines before the checkpoint")
            }
            guard lineStep < step else { continue }
            kept.append(contentsOf: line)
            kept.append(0x0A)
        }
        try AtomicFile.write(kept, to: path)
    }
}

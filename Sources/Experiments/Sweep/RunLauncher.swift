import Config
import Foundation
import Training

/// One run for a launcher: its config (also written to `runFile`) and its directory.
public struct RunJob: Sendable {
    public var name: String
    public var config: RunConfig
    /// The run directory; it exists and holds `runFile` and nothing else yet.
    public var directory: String
    public var runFile: String
}

/// How a launched run ended.
public enum RunOutcome: Equatable, Sendable {
    case finished
    /// The run's error, one or a few lines.
    case failed(String)
}

/// Runs one training to completion. Called from several threads at once when `concurrent`.
public protocol RunLauncher: Sendable {
    /// Runs `job`, calling `progress` whenever the training reports where it is.
    func launch(_ job: RunJob, progress: @escaping (TrainingProgress) -> Void) -> RunOutcome
    /// Whether several runs may be launched at once.
    var concurrent: Bool { get }
}

/// Runs each training as a child process, `EXECUTABLE train --config RUN_FILE --out DIR --quiet
/// --progress-json`, with its output in `DIR/train.log`: a run that crashes or is killed takes
/// nothing else down. The child's progress lines (stderr) are read here and not logged.
public struct ProcessLauncher: RunLauncher {
    public var executable: String
    public var concurrent: Bool { true }

    public init(executable: String) { self.executable = executable }

    public func launch(_ job: RunJob, progress: @escaping (TrainingProgress) -> Void) -> RunOutcome {
        let log = job.directory + "/train.log"
        guard FileManager.default.createFile(atPath: log, contents: nil), let handle = FileHandle(forWritingAtPath: log) else {
            return .failed("cannot create \(log)")
        }
        defer { try? handle.close() }
        let process = Process(), stderr = Pipe()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = ["train", "--config", job.runFile, "--out", job.directory, "--quiet", "--progress-json"]
        process.standardOutput = handle
        process.standardError = stderr
        process.standardInput = FileHandle.nullDevice
        do {
            try process.run()
        } catch {
            return .failed("cannot start \(executable): \(error.localizedDescription)")
        }
        ProcessLauncher.readLines(stderr.fileHandleForReading) { line in
            if let p = TrainingProgress(jsonLine: line) {
                progress(p)
            } else {
                handle.write(Data((line + "\n").utf8))
            }
        }
        process.waitUntilExit()
        if process.terminationReason == .exit && process.terminationStatus == 0 { return .finished }
        let how = process.terminationReason == .uncaughtSignal
            ? "killed by signal \(process.terminationStatus)" : "exit status \(process.terminationStatus)"
        return .failed(ProcessLauncher.errorText(logFile: log, how: how))
    }

    /// Calls `body` with every line read from `file` until end of file (a last line without a
    /// newline included).
    static func readLines(_ file: FileHandle, _ body: (String) -> Void) {
        var pending = Data()
        while true {
            let chunk = file.availableData
            if chunk.isEmpty { break }
            pending.append(chunk)
            while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                body(String(decoding: pending[pending.startIndex..<newline], as: UTF8.self))
                pending.removeSubrange(pending.startIndex...newline)
            }
        }
        if !pending.isEmpty { body(String(decoding: pending, as: UTF8.self)) }
    }

    /// The CLI's `localsgd: error: …` lines, else the end of the log, and how the process ended.
    static func errorText(logFile: String, how: String) -> String {
        let lines = ((try? String(contentsOfFile: logFile, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
        let prefix = "localsgd: error: "
        let errors = lines.filter { $0.hasPrefix(prefix) }.map { String($0.dropFirst(prefix.count)) }
        let body = errors.isEmpty ? lines.suffix(20).joined(separator: "\n") : errors.joined(separator: "\n")
        return body.isEmpty ? "the run ended with \(how) and printed nothing" : body + (errors.isEmpty ? "\n(\(how))" : "")
    }
}

/// Runs each training in this process with `RunDriver`, one at a time (for tests and for
/// machines where starting processes is not possible). A thrown error fails that run only.
public struct InProcessLauncher: RunLauncher {
    public var concurrent: Bool { false }

    public init() {}

    public func launch(_ job: RunJob, progress: @escaping (TrainingProgress) -> Void) -> RunOutcome {
        do {
            _ = try RunDriver.run(job.config, out: job.directory) { event in
                if case .progress(let p) = event { progress(p) }
            }
            return .finished
        } catch {
            return .failed("\(error)")
        }
    }
}

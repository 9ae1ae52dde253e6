import Foundation

/// How one mpirun job ended, read from its exit status and what it printed.
public enum JobEnd: Equatable, Sendable {
    /// mpirun exited 0.
    case succeeded
    /// A rank died (killed by a signal, or exited on its own without a `localsgd: error:` line);
    /// mpirun then ended the job. `rank`/`node` as mpirun reported them, when it did.
    case rankDied(rank: Int?, node: String?, signal: Int32?, exitCode: Int32)
    /// A rank waited longer than `--collective-timeout` in one collective and aborted the job
    /// (exit 124): another rank hung or lost its connection. `rank` is the one that aborted.
    case collectiveTimeout(rank: Int?)
    /// `localsgd train` itself stopped with an error (bad settings, data, a checkpoint it cannot
    /// continue): restarting would fail again.
    case runError(rank: Int?, message: String)
    /// mpirun failed otherwise (it could not start its daemons on a host, or ended by a signal).
    case failed(exitCode: Int32, signal: Int32?, message: String?)
    /// Stopped by `launch` itself (Ctrl-C, SIGTERM).
    case stopped(signal: Int32)

    /// Whether a restart can help: a failure of a rank, a host or the launcher, not of the run.
    public var isRetryable: Bool {
        switch self {
        case .rankDied, .collectiveTimeout, .failed: return true
        case .succeeded, .runError, .stopped: return false
        }
    }

    /// "rank 1 died (signal 9)", for the console and the event log.
    public var cause: String {
        switch self {
        case .succeeded: return "succeeded"
        case .rankDied(let rank, _, let signal, let code):
            let who = rank.map { "rank \($0)" } ?? "a rank"
            return who + (signal.map { " was killed by signal \($0)" } ?? " exited with status \(code)")
        case .collectiveTimeout(let rank):
            return "collective timeout" + (rank.map { " (rank \($0) waited too long; another rank hung or lost its connection)" } ?? "")
        case .runError(_, let message): return "the run stopped with an error: " + message
        case .failed(let code, let signal, let message):
            return "mpirun failed (" + (signal.map { "signal \($0)" } ?? "exit status \(code)") + ")" + (message.map { ": " + $0 } ?? "")
        case .stopped(let signal): return "stopped by signal \(signal)"
        }
    }
}

/// Reads a job's output lines as they pass and, at the end, tells how the job ended.
public struct JobOutputWatch: Sendable {
    private var deadRank: (rank: Int, node: String, signal: Int32)?
    private var firstNonZero: (rank: Int, code: Int32)?
    private var abortRank: Int?
    private var errors: [String] = []
    private var daemonsFailed = false
    private var timeoutReported = false
    private var pendingProcessName: Int?

    public init() {}

    static let errorPrefix = "localsgd: error: "

    public mutating func observe(_ line: String) {
        let text = line.trimmingCharacters(in: .whitespaces)
        if text.contains("longer than the collective timeout") { timeoutReported = true }
        if let r = text.range(of: Self.errorPrefix) {
            errors.append(String(text[r.upperBound...]))
        } else if text.hasPrefix("mpirun noticed that process rank "), let dead = Self.parseNotice(text) {
            deadRank = deadRank ?? dead
        } else if text.hasPrefix("MPI_ABORT was invoked on rank ") {
            abortRank = abortRank ?? Int(text.dropFirst("MPI_ABORT was invoked on rank ".count).prefix { $0.isNumber })
        } else if text.hasPrefix("ORTE was unable to reliably start one or more daemons") {
            daemonsFailed = true
        } else if text.hasPrefix("Process name:"), let comma = text.lastIndex(of: ","), text.hasSuffix("]") {
            pendingProcessName = Int(text[text.index(after: comma)...].dropLast())
        } else if text.hasPrefix("Exit code:"), let rank = pendingProcessName, let code = Int32(text.dropFirst("Exit code:".count).trimmingCharacters(in: .whitespaces)) {
            firstNonZero = firstNonZero ?? (rank, code)
        }
    }

    /// "mpirun noticed that process rank 1 with PID 0 on node vm exited on signal 9 (Killed)."
    static func parseNotice(_ text: String) -> (rank: Int, node: String, signal: Int32)? {
        let words = text.split(separator: " ")
        guard let r = words.firstIndex(of: "rank"), r + 1 < words.count, let rank = Int(words[r + 1]),
              let n = words.firstIndex(of: "node"), n + 1 < words.count,
              let s = words.firstIndex(of: "signal"), s + 1 < words.count, let signal = Int32(words[s + 1]) else { return nil }
        return (rank, String(words[n + 1]), signal)
    }

    /// How the job ended, given mpirun's exit (`signal` when mpirun itself was killed by one).
    public func end(exitCode: Int32, signal: Int32?, stoppedBy: Int32? = nil) -> JobEnd {
        if let stoppedBy { return .stopped(signal: stoppedBy) }
        if exitCode == 0 && signal == nil { return .succeeded }
        if let dead = deadRank { return .rankDied(rank: dead.rank, node: dead.node, signal: dead.signal, exitCode: exitCode) }
        if exitCode == 124 || timeoutReported {
            return .collectiveTimeout(rank: abortRank)
        }
        // A failed MPI call is the network's or another rank's failure, not the run's.
        let runErrors = errors.filter { !($0.hasPrefix("MPI_") && $0.contains(" failed")) }
        if let message = runErrors.first { return .runError(rank: firstNonZero?.rank, message: message) }
        if daemonsFailed {
            return .failed(exitCode: exitCode, signal: signal, message: "mpirun could not start its daemon on every host")
        }
        if let signal { return .failed(exitCode: exitCode, signal: signal, message: nil) }
        if let first = firstNonZero { return .rankDied(rank: first.rank, node: nil, signal: nil, exitCode: first.code) }
        return .failed(exitCode: exitCode, signal: nil, message: errors.first)
    }
}

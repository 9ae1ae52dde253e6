import Foundation

/// One line of `OUT/events.jsonl`: what happened to a launched run and when. Fields that do not
/// apply to a kind are left out of the line.
public struct LaunchEvent: Codable, Equatable, Sendable {
    public enum Kind: String, Codable, Sendable {
        /// A job started: the first (`restart` events start the later ones).
        case start
        /// A job ended without finishing the run.
        case failure
        /// One host answered the health probe or did not.
        case probe
        /// A job started again after a failure.
        case restart
        /// A restarted job finished its first step: the checkpoint it resumed from, the steps it
        /// computes again and how long the run stood still.
        case resumed
        case finished
        /// Launch stopped restarting; `message` says why.
        case gaveUp = "gave-up"
        /// Ctrl-C or SIGTERM stopped launch and the job.
        case interrupted
    }

    public var kind: Kind
    /// ISO 8601, UTC, milliseconds.
    public var time: String
    /// Seconds since launch started.
    public var elapsed: Double
    public var ranks: Int?
    public var workersPerRank: Int?
    /// The hosts and slots the job ran on (`a:2,b:2`), or "localhost:N".
    public var hosts: String?
    /// Whether the job continued from a checkpoint (`--resume`) or started from step 0.
    public var resume: Bool?
    public var exitCode: Int32?
    public var signal: Int32?
    public var rank: Int?
    public var host: String?
    public var cause: String?
    /// failure: the last step the failed job finished; finished, gave-up, interrupted: the furthest step of the run.
    public var lastStep: Int?
    /// restart: the newest checkpoint every rank of the last job holds; resumed: the step resumed from.
    public var checkpointStep: Int?
    public var stepsRedone: Int?
    /// resumed: from the failure's detection to the first step after the restart.
    public var secondsToTraining: Double?
    public var usable: Bool?
    public var seconds: Double?
    public var restarts: Int?
    public var secondsLost: Double?
    public var message: String?

    public init(kind: Kind, time: Date, elapsed: Double) {
        self.kind = kind
        self.time = LaunchEvent.format(time)
        self.elapsed = elapsed
    }

    enum CodingKeys: String, CodingKey {
        case kind, time, elapsed, ranks, workersPerRank = "workers_per_rank", hosts, resume, exitCode = "exit_code", signal
        case rank, host, cause, lastStep = "last_step", checkpointStep = "checkpoint_step", stepsRedone = "steps_redone"
        case secondsToTraining = "seconds_to_training", usable, seconds, restarts, secondsLost = "seconds_lost", message
    }

    static func format(_ date: Date) -> String {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return f.string(from: date)
    }

    /// One JSON object on one line, keys sorted, without a newline.
    public var jsonLine: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var copy = self
        copy.elapsed = (elapsed * 1000).rounded() / 1000
        for keyPath in [\LaunchEvent.secondsToTraining, \.seconds, \.secondsLost] {
            copy[keyPath: keyPath] = copy[keyPath: keyPath].map { ($0 * 1000).rounded() / 1000 }
        }
        return (try? encoder.encode(copy)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }
}

/// `OUT/events.jsonl`, appended one whole line at a time (a launch continued later appends).
public struct EventLog: Sendable {
    public let path: String

    public init(directory: String) { path = directory + "/events.jsonl" }

    /// Appends `event`; an error names the file.
    public func append(_ event: LaunchEvent) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw LaunchError("cannot write \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        let bytes = Array((event.jsonLine + "\n").utf8)
        let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        guard written == bytes.count else { throw LaunchError("cannot write \(path): \(String(cString: strerror(errno)))") }
    }

    /// Every event in the file, in order (for tests and reports); unreadable lines are skipped.
    public func read() -> [LaunchEvent] {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return [] }
        return text.split(separator: "\n").compactMap { try? JSONDecoder().decode(LaunchEvent.self, from: Data($0.utf8)) }
    }
}

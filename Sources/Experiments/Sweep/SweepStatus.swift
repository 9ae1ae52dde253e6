import Foundation
import Training

/// `sweep.json`: where every run of a sweep stands, rewritten whole after every change.
public struct SweepStatus: Codable, Sendable {
    public enum State: String, Codable, Sendable { case pending, running, finished, failed }

    public struct Run: Codable, Sendable {
        public var name: String
        public var state: State
        /// The varied fields of this run, as in its name.
        public var fields: [String: String]
        /// Wall-clock seconds of the run (this invocation or the one that finished it).
        public var seconds: Double?
        /// Finished by an earlier invocation and not run again.
        public var reused: Bool?
        public var error: String?
    }

    /// The sweep file.
    public var source: String
    public var jobs: Int
    public var total: Int
    public var finished: Int
    public var failed: Int
    public var updated: String
    public var runs: [Run]

    mutating func recount() {
        total = runs.count
        finished = runs.filter { $0.state == .finished }.count
        failed = runs.filter { $0.state == .failed }.count
        updated = ISO8601DateFormatter().string(from: Date())
    }
}

/// Counts for a progress line.
public struct SweepProgress: Sendable {
    public var total: Int
    public var finished: Int
    public var failed: Int
    public var running: Int
    /// Finished before this invocation and skipped.
    public var reused: Int
    public var elapsedSeconds: Double
    /// What the running runs have left at their own pace, plus the pending runs at the mean
    /// duration of this invocation's finished runs, over the jobs; nil until there is a pace.
    public var etaSeconds: Double?

    public var done: Int { finished + failed }
}

/// What a running sweep reports (the CLI prints it; the library does not).
public enum SweepEvent: Sendable {
    case runStarted(name: String, progress: SweepProgress)
    /// A running run's training says where it is (every two seconds and at every epoch's end).
    case runProgress(name: String, training: TrainingProgress, progress: SweepProgress)
    case runEnded(name: String, outcome: RunOutcome, seconds: Double, progress: SweepProgress)
}

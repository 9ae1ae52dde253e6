import Foundation
import Training

/// One job of a launch: how many ranks on which hosts, and whether it continues from the run's
/// newest checkpoint (`train --resume`) or starts it (`train --out`).
public struct Job: Equatable, Sendable {
    public var ranks: Int
    public var hosts: [HostSlots]
    public var resume: Bool

    public init(ranks: Int, hosts: [HostSlots], resume: Bool) {
        self.ranks = ranks
        self.hosts = hosts
        self.resume = resume
    }
}

/// Starts jobs and probes hosts: mpirun for real (`MPIJobRunner`), a script in tests.
public protocol JobRunner: AnyObject {
    /// Runs `job` to its end, calling `progress` with every step it reports (from any thread,
    /// one call at a time).
    func run(_ job: Job, progress: @escaping (TrainingProgress) -> Void) -> JobEnd
    /// Stops the running job, if any (called from another thread); its `run` returns `.stopped`.
    func stop(signal: Int32)
    /// Whether each host starts a process within the probe timeout, and how long it took.
    func probe(_ hosts: [HostSlots]) -> [(host: HostSlots, usable: Bool, seconds: Double)]
}

extension JobEnd {
    var stopSignal: Int32? {
        if case .stopped(let signal) = self { return signal }
        return nil
    }
}

/// What the supervisor reads of the run directory.
public struct RunFolder {
    public var path: String
    /// Whether the run finished (`summary.json`).
    public var isFinished: () -> Bool
    /// The steps of the checkpoints a restart can continue from, on any rank count that
    /// divides K (complete ones: every file written and the manifest last).
    public var checkpoints: () -> [Int]
    /// Removes every checkpoint file, complete or not; returns how many it removed.
    public var discardCheckpoints: () -> Int

    public init(path: String, isFinished: @escaping () -> Bool, checkpoints: @escaping () -> [Int],
                discardCheckpoints: @escaping () -> Int) {
        self.path = path
        self.isFinished = isFinished
        self.checkpoints = checkpoints
        self.discardCheckpoints = discardCheckpoints
    }
}

/// Runs a job, and after every failure that a restart can mend, probes the hosts and restarts
/// from the newest checkpoint on as many ranks as `RestartPolicy` allows, until the run
/// finishes, the policy gives up, or launch is interrupted. Every step is a `LaunchEvent`.
public final class Supervisor: @unchecked Sendable {
    public enum Outcome: Equatable, Sendable {
        case finished
        case gaveUp(String)
        case interrupted(signal: Int32)
    }

    public struct Report: Sendable {
        public var outcome: Outcome
        public var restarts: Int
        public var seconds: Double
        public var secondsLost: Double
        public var stepsRedone: Int
    }

    let placement: Placement
    let policy: RestartPolicy
    let runner: JobRunner
    let folder: RunFolder
    let startResumed: Bool
    let clock: () -> Date
    let record: (LaunchEvent) -> Void
    /// Every step the jobs report (the CLI prints some).
    public var onProgress: ((TrainingProgress) -> Void)?

    private let lock = NSLock()
    private var interruption: Int32?
    private var ledger = RecoveryLedger()
    private var started = Date()

    public init(placement: Placement, policy: RestartPolicy, runner: JobRunner, folder: RunFolder, startResumed: Bool,
                clock: @escaping () -> Date = Date.init, record: @escaping (LaunchEvent) -> Void) {
        self.placement = placement
        self.policy = policy
        self.runner = runner
        self.folder = folder
        self.startResumed = startResumed
        self.clock = clock
        self.record = record
    }

    /// Stops the job and the launch (Ctrl-C, SIGTERM); safe from any thread.
    public func interrupt(signal: Int32) {
        lock.withLock { interruption = interruption ?? signal }
        runner.stop(signal: signal)
    }

    private var interrupted: Int32? { lock.withLock { interruption } }

    public func run() -> Report {
        started = clock()
        var job = Job(ranks: policy.ranks, hosts: placement.hosts, resume: startResumed)
        var restarts = 0
        emit(.start, job: job)
        while true {
            let (ended, _) = runJob(job)
            if let signal = interrupted ?? ended.stopSignal {
                return finish(.interrupted(signal: signal), restarts: restarts) { $0.cause = ended.cause; $0.signal = signal }
            }
            if folder.isFinished() { return finish(.finished, restarts: restarts) { _ in } }
            let end = ended == .succeeded ? .failed(exitCode: 0, signal: nil, message: "mpirun exited 0 but the run wrote no summary.json") : ended
            let now = clock()
            lock.withLock { ledger.jobFailed(at: now.timeIntervalSince(started)) }
            emitFailure(end, job: job)
            let (decision, usable) = decide(after: end, restarts: restarts)
            switch decision {
            case .restart(let ranks):
                restarts += 1
                job = restartJob(ranks: ranks, on: usable)
            case .giveUp(let reason):
                return finish(.gaveUp(reason), restarts: restarts) { _ in }
            case .stop(let signal):
                return finish(.interrupted(signal: signal), restarts: restarts) { $0.signal = signal }
            case .finish, .probe:
                preconditionFailure("a failed job's decision after probing is a restart, a stop or giving up")
            }
        }
    }

    /// The policy's decision after a failed job, probing the hosts first when a restart may
    /// follow; with the usable hosts.
    private func decide(after end: JobEnd, restarts: Int) -> (RestartPolicy.Decision, [HostSlots]) {
        let decision = policy.decide(after: end, restarts: restarts, usable: nil)
        guard decision == .probe else { return (decision, placement.hosts) }
        let usable = probe()
        if let signal = interrupted { return (.stop(signal: signal), usable) }
        return (policy.decide(after: end, restarts: restarts, usable: placement.capacity(of: usable, requested: policy.ranks)), usable)
    }

    /// The job that continues the run on `ranks` ranks of `hosts`: from the newest checkpoint,
    /// or from step 0 when there is none.
    private func restartJob(ranks: Int, on hosts: [HostSlots]) -> Job {
        let newest = newestCheckpoint()
        // A checkpoint the ranks never finished (a rank died writing the first one) cannot be
        // resumed; it goes, and the run starts again.
        let discarded = startResumed || newest != nil ? 0 : folder.discardCheckpoints()
        let job = Job(ranks: ranks, hosts: hosts, resume: startResumed || newest != nil)
        emit(.restart, job: job) {
            $0.checkpointStep = newest
            if discarded > 0 {
                $0.message = "removed \(discarded) checkpoint\(discarded == 1 ? "" : "s") the ranks never finished; starting from step 0"
            }
        }
        return job
    }

    /// Runs `job`, feeding its steps to the ledger; whether it trained at least one step.
    private func runJob(_ job: Job) -> (JobEnd, Bool) {
        lock.withLock { ledger.jobStarted() }
        var trained = false
        let end = runner.run(job) { [self] p in
            let step = (p.epoch - 1) * p.stepsPerEpoch + p.step
            let elapsed = clock().timeIntervalSince(started)
            let resumption = lock.withLock { ledger.progress(step: step, at: elapsed) }
            trained = true
            if let r = resumption {
                emit(.resumed, job: job) {
                    $0.checkpointStep = r.resumedFrom
                    $0.stepsRedone = r.stepsRedone
                    $0.secondsToTraining = r.secondsSinceFailure
                }
            }
            onProgress?(p)
        }
        return (end, trained)
    }

    /// Probes every host of the placement; the usable ones, in order.
    private func probe() -> [HostSlots] {
        var usable: [HostSlots] = []
        for result in runner.probe(placement.hosts) {
            emit(.probe, job: nil) {
                $0.host = result.host.name
                $0.usable = result.usable
                $0.seconds = result.seconds
            }
            if result.usable { usable.append(result.host) }
        }
        return usable
    }

    /// The newest checkpoint a restart continues from.
    private func newestCheckpoint() -> Int? { folder.checkpoints().max() }

    private func emitFailure(_ end: JobEnd, job: Job) {
        emit(.failure, job: job) {
            $0.cause = end.cause
            $0.lastStep = self.lock.withLock { self.ledger.jobLastStep }
            switch end {
            case .rankDied(let rank, let node, let signal, let code):
                $0.rank = rank
                $0.host = self.placement.isLocal ? node : rank.flatMap { Placement.host(ofRank: $0, on: job.hosts) } ?? node
                $0.signal = signal
                $0.exitCode = code
            case .collectiveTimeout(let rank):
                $0.rank = rank
                $0.exitCode = 124
            case .runError(let rank, let message):
                $0.rank = rank
                $0.message = message
            case .failed(let code, let signal, let message):
                $0.exitCode = code
                $0.signal = signal
                $0.message = message
            case .succeeded, .stopped:
                break
            }
        }
    }

    private func finish(_ outcome: Outcome, restarts: Int, _ fill: (inout LaunchEvent) -> Void) -> Report {
        let now = clock(), seconds = now.timeIntervalSince(started)
        let (lost, redone, furthest) = lock.withLock { () -> (Double, Int, Int?) in
            ledger.close(at: seconds)
            return (ledger.secondsLost, ledger.stepsRedone, ledger.furthest?.step)
        }
        let kind: LaunchEvent.Kind
        switch outcome {
        case .finished: kind = .finished
        case .gaveUp: kind = .gaveUp
        case .interrupted: kind = .interrupted
        }
        emit(kind, job: nil) {
            $0.restarts = restarts
            $0.seconds = seconds
            $0.secondsLost = lost
            $0.stepsRedone = redone
            $0.lastStep = furthest
            if case .gaveUp(let reason) = outcome { $0.message = reason }
            fill(&$0)
        }
        return Report(outcome: outcome, restarts: restarts, seconds: seconds, secondsLost: lost, stepsRedone: redone)
    }

    private func emit(_ kind: LaunchEvent.Kind, job: Job?, _ fill: (inout LaunchEvent) -> Void = { _ in }) {
        let now = clock()
        var event = LaunchEvent(kind: kind, time: now, elapsed: now.timeIntervalSince(started))
        if let job {
            event.ranks = job.ranks
            event.workersPerRank = policy.workers / job.ranks
            event.hosts = placement.isLocal ? "localhost:\(job.ranks)" : job.hosts.map(\.spec).joined(separator: ",")
            if kind == .start || kind == .restart { event.resume = job.resume }
        }
        fill(&event)
        record(event)
    }
}

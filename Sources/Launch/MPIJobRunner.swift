import Foundation
import Training

/// Runs jobs as `mpirun [ARGS] -np N [--host ...] EXECUTABLE train ...` and probes hosts with
/// `mpirun [ARGS] -np 1 --host H true`. Progress lines (`train --progress-json`) go to the
/// supervisor; every other line of mpirun's output to `output`, as it comes.
public final class MPIJobRunner: JobRunner, @unchecked Sendable {
    public let mpirun: String
    /// `--mpirun-args`, before the placement.
    public let mpirunArguments: [String]
    public let placement: Placement
    /// What follows mpirun's placement for a job: the executable and its arguments.
    public let command: (Job) -> [String]
    public let environment: [String: String]
    public let probeTimeout: Double
    /// Seconds between SIGTERM and SIGKILL when stopping a job.
    public var grace = 5.0
    public var output: (ChildProcess.Stream, String) -> Void

    private let lock = NSLock()
    private var current: ChildProcess?
    private var stopSignal: Int32?

    public init(mpirun: String, mpirunArguments: [String], placement: Placement, environment: [String: String],
                probeTimeout: Double, command: @escaping (Job) -> [String],
                output: @escaping (ChildProcess.Stream, String) -> Void) {
        self.mpirun = mpirun
        self.mpirunArguments = mpirunArguments
        self.placement = placement
        self.environment = environment
        self.probeTimeout = probeTimeout
        self.command = command
        self.output = output
    }

    /// The environment of mpirun: ours, allowed to run as root when we are root (as the scripts do).
    public static func environment(root: Bool) -> [String: String] {
        var env = ProcessInfo.processInfo.environment
        if root {
            env["OMPI_ALLOW_RUN_AS_ROOT"] = "1"
            env["OMPI_ALLOW_RUN_AS_ROOT_CONFIRM"] = "1"
        }
        return env
    }

    public func arguments(_ job: Job) -> [String] {
        mpirunArguments + placement.mpirunArguments(ranks: job.ranks, on: job.hosts) + command(job)
    }

    public func run(_ job: Job, progress: @escaping (TrainingProgress) -> Void) -> JobEnd {
        let watch = Locked(JobOutputWatch())
        let output = self.output
        let child: ChildProcess
        do {
            child = try ChildProcess(mpirun, arguments(job), environment: environment) { stream, line in
                if stream == .stderr, let p = TrainingProgress(jsonLine: line) {
                    progress(p)
                    return
                }
                watch.update { $0.observe(line) }
                output(stream, line)
            }
        } catch {
            return .failed(exitCode: 127, signal: nil, message: "\(error)")
        }
        let stopped = lock.withLock { () -> Int32? in
            current = child
            return stopSignal
        }
        if stopped != nil { child.terminate(grace: grace) }
        let exit = child.wait()
        // A rank mpirun could not end (stopped, or hung in the kernel) must not outlive its job.
        child.killLeftovers()
        child.finishReading(timeout: 5)
        let stoppedBy = lock.withLock { () -> Int32? in
            current = nil
            return stopSignal
        }
        return watch.value.end(exitCode: exit.code, signal: exit.signal, stoppedBy: stoppedBy)
    }

    public func stop(signal: Int32) {
        let child = lock.withLock { () -> ChildProcess? in
            stopSignal = stopSignal ?? signal
            return current
        }
        guard let child else { return }
        let grace = self.grace
        DispatchQueue.global().async { child.terminate(grace: grace) }
    }

    /// All hosts at once, each bounded by the probe timeout.
    public func probe(_ hosts: [HostSlots]) -> [(host: HostSlots, usable: Bool, seconds: Double)] {
        var results = [(host: HostSlots, usable: Bool, seconds: Double)?](repeating: nil, count: hosts.count)
        let resultsLock = NSLock()
        DispatchQueue.concurrentPerform(iterations: hosts.count) { i in
            let start = Date()
            var usable = false
            if let child = try? ChildProcess(mpirun, mpirunArguments + placement.probeArguments(hosts[i]) + ["true"],
                                             environment: environment, onLine: { _, _ in }) {
                usable = child.wait(timeout: probeTimeout) == (0, nil)
                child.killLeftovers()
                child.finishReading(timeout: 1)
            }
            let seconds = Date().timeIntervalSince(start)
            resultsLock.withLock { results[i] = (hosts[i], usable, seconds) }
        }
        return results.map { $0! }
    }
}

/// A value behind a lock.
public final class Locked<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: Value
    public init(_ value: Value) { stored = value }
    public var value: Value { lock.withLock { stored } }
    public func update(_ body: (inout Value) -> Void) { lock.withLock { body(&stored) } }
}

import Comm
import Config

/// Where a run's workers live: the communicators of one backend (`--backend`). Training knows
/// only this protocol and the in-process backend; the MPI one is chosen by the executable, so
/// that the training loop links no MPI.
public protocol Backend {
    /// The communicator of a lockstep run: all K workers (`config.workers`), of which this
    /// process holds `localWorkers`.
    func makeCommunicator(_ config: RunConfig) throws -> Communicator
    /// The communicators of an asynchronous run: averaging (one worker per node) and, across
    /// processes, a second one for evaluation, so that its blocking collectives never interleave
    /// with the averaging loop's (nil in one process).
    func makeAsyncCommunicators(_ config: RunConfig) throws -> (averaging: Communicator, evaluation: Communicator?)
    /// Workers sharing this machine's memory: the default group of hierarchical local SGD.
    func nodeGroupSize(_ communicator: Communicator) -> Int
    /// Ends the session of a communicator this backend made (MPI_Finalize); called once, last.
    func finish(_ communicator: Communicator)
}

/// K workers simulated exactly in this process (`--backend inprocess`), on `config.threads` threads.
public struct InProcessBackend: Backend {
    public init() {}

    public func makeCommunicator(_ config: RunConfig) throws -> Communicator {
        InProcessCommunicator(workers: config.algorithm.workers, threads: config.execution.threads)
    }

    public func makeAsyncCommunicators(_ config: RunConfig) throws -> (averaging: Communicator, evaluation: Communicator?) {
        (InProcessCommunicator(workers: config.async.nodes, threads: config.execution.threads), nil)
    }

    public func nodeGroupSize(_ communicator: Communicator) -> Int { communicator.workers }

    public func finish(_ communicator: Communicator) {}
}

import Comm
import Config
import Experiments
import Foundation
import Training
#if canImport(CommMPI)
import CommMPI

/// `--backend mpi`: one process per rank under `mpirun`, each holding `workers / ranks` workers.
struct MPIBackend: Backend {
    func makeCommunicator(_ config: RunConfig) throws -> Communicator {
        let ranks = MPICommunicator.launchedRanks ?? 1
        let k = config.algorithm.workers
        guard k % ranks == 0 else {
            let divisors = (1...k).filter { k % $0 == 0 }.map(String.init)
            let list = divisors.count == 1 ? divisors[0] : divisors.dropLast().joined(separator: ", ") + " or " + divisors.last!
            throw TrainingError("--workers \(k) must be a multiple of the \(ranks) MPI ranks, which each hold as many workers; "
                + "start \(list) ranks (a checkpoint of the run resumes under any of them)")
        }
        return try MPICommunicator(
            workersPerRank: config.algorithm.workers / ranks, reduction: config.execution.reduction,
            collectiveTimeout: config.execution.collectiveTimeout > 0 ? config.execution.collectiveTimeout : nil,
            onTimeout: { message in FileHandle.standardError.write(Foundation.Data("error: \(message)\n".utf8)) })
    }

    /// One node per rank; the evaluation communicator needs MPI_THREAD_MULTIPLE, since the
    /// averaging loop and evaluation call MPI from two threads.
    func makeAsyncCommunicators(_ config: RunConfig) throws -> (averaging: Communicator, evaluation: Communicator?) {
        let ranks = MPICommunicator.launchedRanks ?? 1
        guard ranks == config.async.nodes else {
            throw TrainingError("--nodes is \(config.async.nodes) but mpirun started \(ranks) ranks; async runs one node per rank")
        }
        let averaging = try MPICommunicator(workersPerRank: 1, reduction: config.execution.reduction)
        guard averaging.progress == .helperThread else {
            throw TrainingError("async over MPI needs MPI_THREAD_MULTIPLE (the averaging loop and evaluation call MPI from two threads), but this MPI granted level \(averaging.threadSupport)")
        }
        return (averaging, try MPICommunicator(workersPerRank: 1, reduction: config.execution.reduction))
    }

    func nodeGroupSize(_ communicator: Communicator) -> Int {
        (communicator as? MPICommunicator)?.nodeLocalGroupSize ?? communicator.workers
    }

    /// MPI_Finalize (through the averaging communicator it also releases an evaluation one).
    func finish(_ communicator: Communicator) {
        try? (communicator as? MPICommunicator)?.finalize()
    }
}
#endif

extension BackendKind {
    /// The backend this kind names, or an error where this build has none.
    func make() throws -> Backend {
        switch self {
        case .inprocess:
            return InProcessBackend()
        case .mpi:
            #if canImport(CommMPI)
            return MPIBackend()
            #else
            throw TrainingError("this build has no MPI support: install Open MPI (apt-get install libopenmpi-dev openmpi-bin) and rebuild, or use --backend inprocess")
            #endif
        }
    }
}

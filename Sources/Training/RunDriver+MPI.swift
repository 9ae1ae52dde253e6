import Comm
import Foundation
#if canImport(CommMPI)
import CommMPI
#endif

extension RunDriver {
    /// An MPI communicator with `workers / ranks` workers per rank.
    static func makeMPICommunicator(_ config: RunConfig) throws -> Communicator {
        #if canImport(CommMPI)
        let ranks = MPICommunicator.launchedRanks ?? 1
        guard config.workers % ranks == 0 else {
            throw TrainingError("--workers \(config.workers) must be a multiple of the \(ranks) MPI ranks")
        }
        return try MPICommunicator(
            workersPerRank: config.workers / ranks, reduction: config.reduction,
            collectiveTimeout: config.collectiveTimeout > 0 ? config.collectiveTimeout : nil,
            onTimeout: { message in FileHandle.standardError.write(Foundation.Data("error: \(message)\n".utf8)) })
        #else
        throw TrainingError("this build has no MPI support: install Open MPI (apt-get install libopenmpi-dev openmpi-bin) and rebuild, or use --backend inprocess")
        #endif
    }
}

extension RunDriver {
    /// Ends the MPI session of a communicator this driver made (nothing for other backends).
    static func finish(_ comm: Communicator) {
        #if canImport(CommMPI)
        try? (comm as? MPICommunicator)?.finalize()
        #endif
    }
}

extension RunDriver {
    /// Workers on this machine (MPI ranks sharing memory × workers per rank); all of them in process.
    static func nodeGroupSize(_ comm: Communicator) -> Int {
        #if canImport(CommMPI)
        if let mpi = comm as? MPICommunicator { return mpi.nodeLocalGroupSize }
        #endif
        return comm.workers
    }
}

import CMPI
import Comm
import Foundation

/// Process-wide MPI start-up and shut-down: `MPI_Init_thread` and `MPI_Finalize` may each run
/// once per process, whichever communicator (or other code) asks first.
enum MPIEnvironment {
    private static let lock = NSLock()

    /// Initializes MPI asking for `MPI_THREAD_MULTIPLE` unless someone already did, and returns
    /// the thread support level actually in force.
    static func initialize() throws -> Int32 {
        lock.lock()
        defer { lock.unlock() }
        var flag: Int32 = 0
        try mpiCheck(MPI_Finalized(&flag), "MPI_Finalized")
        if flag != 0 {
            throw CommError("MPI was already finalized in this process; MPI cannot be started twice, so make every MPICommunicator before calling finalize().")
        }
        try mpiCheck(MPI_Initialized(&flag), "MPI_Initialized")
        var provided: Int32 = 0
        if flag != 0 {
            try mpiCheck(MPI_Query_thread(&provided), "MPI_Query_thread")
        } else {
            // argc/argv may be null since MPI-2; mpirun passes everything through the environment.
            try mpiCheck(MPI_Init_thread(nil, nil, cmpi_thread_multiple(), &provided),
                         "MPI_Init_thread")
        }
        return provided
    }

    /// Calls `MPI_Finalize` unless MPI is already finalized (or was never started).
    static func finalize() throws {
        lock.lock()
        defer { lock.unlock() }
        var initialized: Int32 = 0, finalized: Int32 = 0
        try mpiCheck(MPI_Initialized(&initialized), "MPI_Initialized")
        try mpiCheck(MPI_Finalized(&finalized), "MPI_Finalized")
        if initialized != 0 && finalized == 0 {
            try mpiCheck(MPI_Finalize(), "MPI_Finalize")
        }
    }

    /// True when mpirun/mpiexec (Open MPI's ORTE, or any PMI/PMIx launcher) started this process.
    static var isLaunchedByMPIRun: Bool {
        let environment = ProcessInfo.processInfo.environment
        return ["OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK"].contains { environment[$0] != nil }
    }

    /// This process's rank as the launcher set it (`OMPI_COMM_WORLD_RANK`, `PMIX_RANK`,
    /// `PMI_RANK`), known before MPI starts; nil when not started by one that says.
    static var launchedRank: Int? {
        let environment = ProcessInfo.processInfo.environment
        return ["OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK"].lazy.compactMap { environment[$0].flatMap(Int.init) }.first { $0 >= 0 }
    }

    /// The number of ranks the launcher started, from `OMPI_COMM_WORLD_SIZE` (Open MPI) or
    /// `PMI_SIZE`; nil when not started by one that says.
    static var launchedRanks: Int? {
        let environment = ProcessInfo.processInfo.environment
        return ["OMPI_COMM_WORLD_SIZE", "PMI_SIZE"].lazy.compactMap { environment[$0].flatMap(Int.init) }.first { $0 >= 1 }
    }
}

import CMPI
import CommMPI
import Foundation

// localsgd-mpi-check: run under mpirun; see CheckOptions.usage. Exit status 0 only when every
// check passed on every rank.

/// Prints `message` to standard error and ends the whole MPI job (one rank's error would
/// otherwise leave the others waiting in a collective).
func abortJob(_ message: String) -> Never {
    FileHandle.standardError.write(Data("localsgd-mpi-check: \(message)\n".utf8))
    var initialized: Int32 = 0
    _ = MPI_Initialized(&initialized)
    if initialized != 0 { _ = MPI_Abort(cmpi_comm_world(), 2) }
    exit(2)
}

let options: CheckOptions
do {
    options = try CheckOptions(Array(CommandLine.arguments.dropFirst()))
} catch {
    FileHandle.standardError.write(Data("localsgd-mpi-check: \(error)\n".utf8))
    exit(2)
}

do {
    let comm = try MPICommunicator(workersPerRank: options.workersPerRank, reduction: options.reduction,
                                   collectiveTimeout: options.timeout) { message in
        FileHandle.standardError.write(Data((message + "\n").utf8))
    }
    if let failRank = options.failRank {
        try FailureDrill.run(comm: comm, failRank: failRank, mode: options.failMode, count: options.count)
    } else if let bytes = options.benchBytes {
        try Bench.run(comm: comm, bytes: bytes, repeats: options.repeats)
        try comm.finalize()
    } else {
        if comm.processRank == 0 {
            print("info ranks=\(comm.processCount) workersPerRank=\(comm.workersPerRank) workers=\(comm.workers) reduction=\(comm.reduction) count=\(options.count) threadSupport=\(comm.threadSupport) progress=\(comm.progress) nodeLocalGroupSize=\(comm.nodeLocalGroupSize) launchedByMPIRun=\(MPICommunicator.isLaunchedByMPIRun)")
        }
        let runner = CheckRunner(comm: comm, count: options.count)
        try runner.runAll()
        try comm.finalize()
        exit(runner.failures == 0 ? 0 : 1)
    }
} catch {
    abortJob("\(error)")
}

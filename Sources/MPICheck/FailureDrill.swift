import CommMPI
import Foundation
import Tensor

/// Makes rank `failRank` die (SIGKILL or exit(1)) or hang after a few collectives while the
/// other ranks go on calling `allReduceMean`, to see how the job ends. The surviving ranks
/// never finish on their own: mpirun (for a death) or the collective watchdog (for a hang,
/// with `--timeout`) must end them.
enum FailureDrill {
    static func run(comm: MPICommunicator, failRank: Int, mode: CheckOptions.FailMode, count: Int) throws {
        guard (0..<comm.processCount).contains(failRank) else {
            throw CheckError("--fail-rank \(failRank) is not a rank; expected 0 ..< \(comm.processCount).")
        }
        let buffers = comm.localWorkers.map { _ in FloatBuffer(count: count) }
        var step = 0
        while true {
            if step == 5 && comm.processRank == failRank {
                switch mode {
                case .kill: raise(SIGKILL)
                case .exit: exit(1)
                case .hang: while true { sleep(60) }
                }
            }
            try comm.allReduceMean(buffers.map(\.pointer), count: count)
            step += 1
        }
    }
}

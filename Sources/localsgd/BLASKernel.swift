import Foundation
import Tensor

/// Restarts the process with `OPENBLAS_CORETYPE` set when OpenBLAS fell back to its slow
/// generic kernels on a CPU it does not recognise (see `BLAS.betterCoreType`). OpenBLAS picks
/// its kernels when the library loads, before `main`, so the choice can only be changed by
/// starting again. A user's own `OPENBLAS_CORETYPE` is always respected.
func restartWithBetterBLASKernelIfNeeded() {
    let env = ProcessInfo.processInfo.environment
    guard env["OPENBLAS_CORETYPE"] == nil, env["LOCALSGD_BLAS_RESTARTED"] == nil,
          let core = BLAS.betterCoreType(current: BLAS.coreName, cpuFlags: BLAS.cpuFlags) else { return }
    setenv("OPENBLAS_CORETYPE", core, 1)
    setenv("LOCALSGD_BLAS_RESTARTED", "1", 1)
    let args = CommandLine.arguments.map { strdup($0) } + [nil]
    execv("/proc/self/exe", args)
    // execv returned: keep going with the slower kernels.
}

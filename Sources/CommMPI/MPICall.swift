import CMPI
import Comm

/// The one place where MPI return codes are checked: every MPI call in CommMPI goes through
/// `mpiCheck`, so a failing call becomes a thrown `CommError` naming the call and MPI's reason.
/// Communicators made here use `MPI_ERRORS_RETURN`, so failures come back as codes instead of
/// aborting the job.
@inline(__always)
func mpiCheck(_ code: Int32, _ call: @autoclosure () -> String) throws {
    if code != MPI_SUCCESS { throw mpiError(code, call: call()) }
}

/// The sentence for a failed MPI call: what was called, MPI's own words, and the error class.
func mpiError(_ code: Int32, call: String) -> CommError {
    var text = [CChar](repeating: 0, count: Int(cmpi_max_error_string()) + 1)
    var length: Int32 = 0
    let described = MPI_Error_string(code, &text, &length) == MPI_SUCCESS
    let reason = described ? String(cString: text) : "unknown error code \(code)"
    var errorClass: Int32 = -1
    _ = MPI_Error_class(code, &errorClass)  // only decorates the message; -1 if unknown
    return CommError("\(call) failed: \(reason) (MPI error code \(code), class \(errorClass)).")
}

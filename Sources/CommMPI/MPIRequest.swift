import CMPI
import Comm
import Foundation

/// A mean all-reduce in flight on the MPI backend: one `MPI_Iallreduce` on the first local
/// buffer (which already holds the local sum), then, on completion, the division and the copy
/// into the other local buffers (`finish`).
///
/// Progress (Open MPI makes none on its own). Every access to the MPI request goes
/// through `lock`, so whichever thread gets there drives it:
/// - `test()` calls `MPI_Test`; `wait()` calls `MPI_Wait`.
/// - With `MPI_THREAD_MULTIPLE` the communicator also hands the request to its progress queue,
///   which calls `MPI_Test` with a sleep that grows from 20 µs to 1 ms between calls (no core is
///   burnt spinning, unlike a thread parked in `MPI_Wait`, which busy-polls in Open MPI 4.1).
///   The caller then need not poll at all.
final class MPIRequest: CommRequest, @unchecked Sendable {
    private let lock = NSLock()
    /// nil once the collective has completed and `finish` has run.
    private var handle: MPI_Request?
    private var failure: CommError?
    private let finish: () -> Void
    private let watchdog: CollectiveWatchdog?

    /// A request for an `MPI_Iallreduce` already started as `handle`.
    init(handle: MPI_Request, watchdog: CollectiveWatchdog?, finish: @escaping () -> Void) {
        self.handle = handle
        self.watchdog = watchdog
        self.finish = finish
    }

    /// A request that completed when it was made (a run of one process).
    init(completed finish: () -> Void) {
        finish()
        self.handle = nil
        self.watchdog = nil
        self.finish = {}
    }

    func test() throws -> Bool {
        lock.lock()
        defer { lock.unlock() }
        if let failure { throw failure }
        guard handle != nil else { return true }
        var request = handle, flag: Int32 = 0
        try record { try mpiCheck(MPI_Test(&request, &flag, cmpi_status_ignore()), "MPI_Test (non-blocking mean all-reduce)") }
        if flag == 0 { return false }
        complete()
        return true
    }

    func wait() throws {
        lock.lock()
        defer { lock.unlock() }
        if let failure { throw failure }
        guard handle != nil else { return }
        var request = handle
        let call = "MPI_Wait (non-blocking mean all-reduce)"
        try record {
            try watchdog.guarding(call) { try mpiCheck(MPI_Wait(&request, cmpi_status_ignore()), call) }
        }
        complete()
    }

    /// Polls until the request completes or fails (run on the communicator's progress queue;
    /// a failure is kept and thrown to the caller by its next `test()` or `wait()`).
    func progressUntilDone() {
        var pause: UInt32 = 20
        while true {
            guard let done = try? test(), !done else { return }
            usleep(pause)
            pause = min(pause * 2, 1000)
        }
    }

    /// Called with `lock` held after MPI reported completion.
    private func complete() {
        handle = nil
        finish()
    }

    /// Keeps the first failure, so every later call reports it too.
    private func record(_ body: () throws -> Void) throws {
        do { try body() } catch let error as CommError {
            failure = error
            throw error
        }
    }
}

extension Optional where Wrapped == CollectiveWatchdog {
    /// Runs `body` under the watchdog when there is one (`name` is only built then).
    func guarding<T>(_ name: @autoclosure () -> String, _ body: () throws -> T) rethrows -> T {
        switch self {
        case .some(let watchdog): return try watchdog.guarding(name(), body)
        case .none: return try body()
        }
    }
}

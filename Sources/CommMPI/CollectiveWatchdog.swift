import CMPI
import Dispatch
import Foundation

/// Aborts the whole MPI job when one blocking call of this process has waited longer than
/// `timeout` seconds.
///
/// Why: when a rank *dies*, Open MPI 4.1.4's mpirun notices the exit and kills the job within
/// about 1.5 s (measured; see MPICommunicator). When a rank is alive but stops taking part
/// (a deadlock, a stopped process, a lost host that TCP has not yet noticed), the others wait
/// in the collective forever. The watchdog turns that hang into `MPI_Abort`, which makes mpirun
/// end every rank and exit non-zero.
///
/// A timer on a private queue checks once per `interval`; the calling thread only records when
/// it enters and leaves a blocking call (a lock and a clock read, negligible next to any
/// collective). `MPI_Abort` from the timer thread is legal under `MPI_THREAD_MULTIPLE`.
final class CollectiveWatchdog: @unchecked Sendable {
    /// Exit code passed to `MPI_Abort` (mpirun reports it), as `timeout(1)` uses.
    static let abortCode: Int32 = 124

    let timeout: Double
    private let rank: Int
    private let report: (@Sendable (String) -> Void)?
    private let timer: DispatchSourceTimer
    /// Guards `since` and `call`, written by the calling thread and read by the timer.
    private let lock = NSLock()
    private var since: DispatchTime?
    private var call = ""
    /// False until `MPI_Init_thread` has returned: before that `MPI_Abort` is not available, so
    /// a timeout ends this process (exit code `abortCode`) and mpirun ends the others.
    private var mpiStarted = false

    /// `report` receives the sentence just before the abort (the library itself never prints).
    init(timeout: Double, rank: Int, report: (@Sendable (String) -> Void)?) {
        self.timeout = timeout
        self.rank = rank
        self.report = report
        timer = DispatchSource.makeTimerSource(queue: DispatchQueue(label: "CommMPI.CollectiveWatchdog"))
        let interval = min(1.0, max(0.05, timeout / 4))
        timer.schedule(deadline: .now() + interval, repeating: interval)
        timer.setEventHandler { [weak self] in self?.check() }
        timer.resume()
    }

    deinit { timer.cancel() }

    /// Runs `body`, a blocking MPI call named `name`, under the watchdog.
    func guarding<T>(_ name: String, _ body: () throws -> T) rethrows -> T {
        lock.lock()
        since = .now()
        call = name
        lock.unlock()
        defer {
            lock.lock()
            since = nil
            lock.unlock()
        }
        return try body()
    }

    /// From now on a timeout calls `MPI_Abort`.
    func markStarted() {
        lock.lock()
        mpiStarted = true
        lock.unlock()
    }

    private func check() {
        lock.lock()
        let started = since, name = call, canAbort = mpiStarted
        lock.unlock()
        guard let started else { return }
        let waited = Double(DispatchTime.now().uptimeNanoseconds - started.uptimeNanoseconds) / 1e9
        guard waited > timeout else { return }
        let seconds = String(format: "%.1f", waited)
        report?("localsgd: rank \(rank) waited \(seconds) s in \(name), longer than the collective timeout of \(timeout) s; another rank has probably hung or lost its connection. Aborting the MPI job.")
        guard canAbort else { exit(Self.abortCode) }  // mpirun ends the job when a rank exits during start-up
        _ = MPI_Abort(cmpi_comm_world(), Self.abortCode)  // does not return
    }
}

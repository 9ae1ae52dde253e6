import Comm
import Dispatch
import Foundation

/// An ordered non-blocking mean (`ReductionMode.ordered`) in flight: `work` (the chain of
/// `OrderedReduction`, which makes its own progress by polling) runs on the communicator's
/// serial progress queue, so requests complete in the order they were started on every rank.
/// `test()` never blocks; `wait()` blocks under the collective watchdog; a failure of the work
/// is thrown by every later `test()` or `wait()`.
final class OrderedRequest: CommRequest, @unchecked Sendable {
    private let done = DispatchGroup()
    /// Guards `failure`, written by the queue and read by the caller.
    private let lock = NSLock()
    private var failure: Error?
    private let watchdog: CollectiveWatchdog?
    private let name: String

    init(queue: DispatchQueue, watchdog: CollectiveWatchdog?, name: String, work: @escaping @Sendable () throws -> Void) {
        self.watchdog = watchdog
        self.name = name
        done.enter()
        queue.async { [self] in
            do { try work() } catch {
                lock.lock()
                failure = error
                lock.unlock()
            }
            done.leave()
        }
    }

    func test() throws -> Bool {
        guard done.wait(timeout: .now()) == .success else { return false }
        try rethrowFailure()
        return true
    }

    func wait() throws {
        watchdog.guarding("waiting for the \(name)") { done.wait() }
        try rethrowFailure()
    }

    private func rethrowFailure() throws {
        lock.lock()
        defer { lock.unlock() }
        if let failure { throw failure }
    }
}

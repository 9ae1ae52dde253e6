import Foundation
import Synchronization
import Training

/// The bookkeeping the worker threads, the averaging loop and the main thread of a concurrent
/// async run share (the weights are not here: they are shared without locks).
///
/// Workers never take a lock: they count their node's steps in an atomic and signal `wakeup`
/// when their node reaches its next snapshot (once every H steps). A lock shared with the
/// averaging loop was measured to hold the threads up 10–25 % of the time with 4 workers on 2
/// loaded cores: when the loop is descheduled while holding it, a worker that needs it sleeps
/// until the loop gets a core back. Nobody spins: the averaging loop sleeps on `wakeup`, the
/// main thread on `condition`. Fields below `condition` are guarded by it.
final class AsyncBoard: @unchecked Sendable {
    /// A node's counters, shared by its workers and the averaging loop.
    final class NodeCounters: Sendable {
        /// Updates applied to the node's replica so far.
        let steps = Atomic<Int>(0)
        /// The step count at which the node's next snapshot is due (`Int.max`: time-based rounds).
        let nextSnapshot: Atomic<Int>
        /// Averaging rounds applied to the node's replica so far.
        let roundsApplied = Atomic<Int>(0)
        init(firstSnapshot: Int) { nextSnapshot = Atomic(firstSnapshot) }
    }

    let counters: [NodeCounters]
    /// Set once any thread has failed; workers check it every step.
    let failed = Atomic<Bool>(false)
    /// Signalled whenever the averaging loop may have something to do (a node's snapshot fell
    /// due, or the main thread changed a flag); the loop re-checks everything when it wakes.
    let wakeup = DispatchSemaphore(value: 0)

    /// Where the averaging loop is, for the main thread's end-of-training agreement.
    enum Phase: Equatable {
        /// Snapshotting or waiting for nodes to reach their threshold.
        case collecting
        /// A round's all-reduce has been started and not yet applied.
        case inFlight
        /// Training is over and nothing is in flight; waiting for `forceRound` or `finished`.
        case idle
        /// The loop has returned.
        case exited
    }

    let condition = NSCondition()
    /// The first failure (a worker's non-finite loss, the averaging loop's error).
    var failure: String?
    var stats = AsyncStats()
    var phase = Phase.collecting
    /// Rounds the averaging loop has started (its collectives), for the agreement across processes.
    var roundsStarted = 0
    /// Set by the main thread when the workers are done: no round starts on a threshold any more.
    var stopping = false
    /// Set by the main thread when another process started a round this one has not: start it.
    var forceRound = false
    /// Set by the main thread after the agreement: return once idle.
    var finished = false
    var loopError: Error?

    init(nodes: Int, firstSnapshot: Int) {
        counters = (0..<nodes).map { _ in NodeCounters(firstSnapshot: firstSnapshot) }
    }

    /// Records the first failure and stops every thread.
    func fail(_ message: String) {
        locked {
            if failure == nil { failure = message }
            failed.store(true, ordering: .sequentiallyConsistent)
            condition.broadcast()
        }
        wakeup.signal()
    }

    /// Changes flags the averaging loop acts on, then wakes it.
    func tellLoop(_ change: () -> Void) {
        locked {
            change()
            condition.broadcast()
        }
        wakeup.signal()
    }

    /// Runs `body` with the lock held.
    @inline(__always)
    func locked<T>(_ body: () throws -> T) rethrows -> T {
        condition.lock()
        defer { condition.unlock() }
        return try body()
    }

    /// Sleeps until `predicate` holds (checked with the lock held).
    func wait(until predicate: () -> Bool) {
        condition.lock()
        while !predicate() { condition.wait() }
        condition.unlock()
    }
}

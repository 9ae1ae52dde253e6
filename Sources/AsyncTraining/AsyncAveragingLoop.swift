import Algorithms
import Comm
import Foundation
import Training

/// The background averaging loop of a concurrent async run (paper 002, technique (b)), on its
/// own thread for the whole run, driving the rounds of `AsyncAveraging` for the nodes of this
/// process (all N in-process, over `InProcessCommunicator(workers: N)`; one per MPI rank):
///
/// 1. sleep until a node has applied H more updates since its last snapshot (or, with
///    `averageSeconds`, until that much time has passed since the last round started), and
///    snapshot it — the workers keep going;
/// 2. once every local node has its snapshot, start the non-blocking all-reduce and wait for it
///    (the collective itself waits for the other processes' nodes);
/// 3. apply x ← x̄ + (x − snapshot) to each node under `applyLock`, so an evaluation that copies
///    the weights at an epoch end never sees half an application.
///
/// At the end of training (`AsyncBoard.stopping`) no round starts on a threshold any more; a
/// round some nodes have snapshotted is completed by snapshotting the others now (forced), and
/// the main thread may force one more round when another process has started one (see
/// `AsyncTrainer.stopAveraging`).
final class AsyncAveragingLoop: @unchecked Sendable {
    let board: AsyncBoard
    let averaging: AsyncAveraging
    let communicator: Communicator
    let averageSeconds: Double?
    /// Held while averages are applied to the live weights and while evaluation copies them.
    let applyLock = NSLock()
    private let done = DispatchSemaphore(value: 0)
    // Touched only by the loop's thread.
    /// The round policy both execution modes consult; the counters' `nextSnapshot` mirror it for the workers.
    private var schedule: AsyncRoundSchedule
    private var lastRoundStart = 0.0

    init(board: AsyncBoard, averaging: AsyncAveraging, communicator: Communicator, averageEvery: Int,
         averageSeconds: Double?) {
        self.board = board
        self.averaging = averaging
        self.communicator = communicator
        self.averageSeconds = averageSeconds
        schedule = AsyncRoundSchedule(nodes: averaging.nodes.count, averageEvery: averageSeconds == nil ? averageEvery : nil)
    }

    func start() {
        lastRoundStart = now()
        let thread = Thread { [self] in
            Self.yieldToWorkersOnWakeUp()
            do { try loop() } catch {
                board.locked { board.loopError = error }
                board.fail("averaging failed: \(error)")
            }
            board.locked { board.phase = .exited; board.condition.broadcast() }
            done.signal()
        }
        thread.name = "async-averaging"
        thread.stackSize = 1 << 20
        thread.start()
    }

    /// Puts the calling thread in Linux's `SCHED_BATCH` class (same priority, but waking it up
    /// does not preempt the running thread). Without it, a worker that signals `wakeup` tends to
    /// hand its core to the loop on the spot and wait for a time slice to get it back: one thread
    /// signalling another that then computes for ~1 ms, on the loaded 2-core box, measured a
    /// 90th percentile of 4.4 ms for `signal()`, against 3 µs with the waiter in `SCHED_BATCH`.
    /// Nothing happens where the call fails.
    private static func yieldToWorkersOnWakeUp() {
        var parameters = sched_param()
        parameters.sched_priority = 0
        let schedBatch: Int32 = 3  // SCHED_BATCH in <sched.h>, hidden behind _GNU_SOURCE
        _ = pthread_setschedparam(pthread_self(), schedBatch, &parameters)
    }

    /// Every local node's update count now.
    private func nodeSteps() -> [Int] {
        board.counters.map { $0.steps.load(ordering: .sequentiallyConsistent) }
    }

    /// Blocks until the loop's thread has returned.
    func join() { done.wait() }

    private func loop() throws {
        while let due = nextSnapshots() {
            let t0 = now()
            let steps = due.map { board.counters[$0].steps.load(ordering: .sequentiallyConsistent) }
            for n in due { averaging.snapshot(node: n) }  // races with the workers' updates by design
            for (n, s) in zip(due, steps) {
                schedule.snapshotTaken(node: n, atStep: s)
                if averageSeconds == nil {
                    board.counters[n].nextSnapshot.store(schedule.nextSnapshot[n], ordering: .sequentiallyConsistent)
                }
            }
            board.locked { board.stats.snapshotSeconds += now() - t0 }
            if schedule.readyToStart { try runRound() }
        }
    }

    private enum Decision { case exit, sleep, check, snapshot([Int]) }

    /// The nodes to snapshot now, after sleeping until there are any; nil when the loop should end.
    private func nextSnapshots() -> [Int]? {
        while true {
            let missing = schedule.missing
            switch decide(missing: missing) {
            case .exit:
                return nil
            case .snapshot(let nodes):
                return nodes
            case .sleep:
                board.wakeup.wait()
            case .check:
                if let period = averageSeconds {
                    let left = lastRoundStart + period - now()
                    if left <= 0 { return missing }
                    _ = board.wakeup.wait(timeout: .now() + left)
                    continue
                }
                let due = schedule.due(steps: nodeSteps())
                if !due.isEmpty { return due }
                board.wakeup.wait()
            }
        }
    }

    /// What the main thread's flags say to do (see the type's comment on the end of training).
    private func decide(missing: [Int]) -> Decision {
        board.locked {
            if board.failure != nil { return .exit }
            guard board.stopping else { return .check }
            let partial = missing.count < schedule.snapshotted.count
            if partial || board.forceRound {
                board.forceRound = false
                board.stats.forcedRounds += 1
                board.phase = .collecting
                return .snapshot(missing)
            }
            if board.finished { return .exit }
            if board.phase != .idle {
                board.phase = .idle
                board.condition.broadcast()
            }
            return .sleep
        }
    }

    /// Starts the all-reduce of every local snapshot, waits for it and applies it.
    private func runRound() throws {
        let t0 = now()
        lastRoundStart = t0
        try averaging.start(communicator)
        schedule.started()
        board.locked {
            board.roundsStarted += 1
            board.phase = .inFlight
            board.condition.broadcast()
        }
        try waitForCompletion()
        let t1 = now()
        applyLock.lock()
        for n in averaging.nodes.indices { averaging.apply(node: n) }  // races with the workers by design
        applyLock.unlock()
        averaging.finishRound()
        for counter in board.counters { counter.roundsApplied.add(1, ordering: .sequentiallyConsistent) }
        let t2 = now()
        board.locked {
            board.stats.updatesDuringRounds += schedule.completed(steps: nodeSteps())
            board.stats.rounds += 1
            board.stats.allReduceSeconds += t1 - t0
            board.stats.applySeconds += t2 - t1
            board.phase = .collecting
        }
    }

    /// In one process the request's `wait()` sleeps on a semaphore. Across MPI processes it
    /// would call `MPI_Wait`, which busy-polls a core in Open MPI 4.1; the communicator's helper
    /// thread already drives progress, so check now and then, sleeping 50 µs growing to 2 ms.
    private func waitForCompletion() throws {
        if communicator.processCount == 1 {
            try averaging.wait()
            return
        }
        var pause: UInt32 = 50
        while try !averaging.isComplete() {
            usleep(pause)
            pause = min(pause * 2, 2000)
        }
    }
}

import Foundation
import Synchronization

/// Runs work items on a fixed set of threads that live as long as the pool, without allocating
/// per call (`ThreadPool` goes through Dispatch, whose Swift overlay allocates closure boxes on
/// every `concurrentPerform`, and the training step must not allocate). A thread waiting for
/// work, and the caller waiting for the threads, first polls for a few tens of microseconds,
/// yielding the core at every poll (`State.spinYields`), then blocks on a condition variable: a
/// training step hands its layers' parts to the threads a few hundred times, and waking a
/// blocked thread costs about as much as a small part; yielding, not busy spinning, keeps the
/// threads from starving another process that holds a core. As in `ThreadPool`, item `i` runs on
/// lane `i % lanes`; lane 0 is the calling thread. One caller at a time.
public final class WorkerPool: @unchecked Sendable {
    public let lanes: Int
    private let state: State

    /// A pool of `threads` lanes, or fewer if the system refuses to start a thread (results never
    /// depend on the lane count, only the speed). Returns once every thread waits for work.
    public init(threads: Int) {
        precondition(threads >= 1, "WorkerPool needs at least one thread")
        state = State()
        var started = 1
        while started < threads, state.startThread(lane: started) { started += 1 }
        lanes = started
        state.waitUntilServing(started - 1)
    }

    deinit { state.stop() }

    /// Calls `body(item, lane)` for every item in 0..<count and returns when all are done.
    /// With more than one lane this allocates once per call (Swift boxes a non-escaping closure
    /// it lends to other threads); the training step uses `run(_:job:)` instead.
    public func run(_ count: Int, _ body: (_ item: Int, _ lane: Int) -> Void) {
        if min(lanes, count) <= 1 {
            for i in 0..<count { body(i, 0) }
            return
        }
        withoutActuallyEscaping(body) { run(count, job: $0) }
    }

    /// `run(_:_:)` for a closure made once and kept (capturing its owner `unowned`, reading the
    /// call's arguments from it): handing it to the threads does not allocate.
    public func run(_ count: Int, job: @escaping (_ item: Int, _ lane: Int) -> Void) {
        let active = min(lanes, count)
        if active <= 1 {
            for i in 0..<count { job(i, 0) }
            return
        }
        state.publish(job, count: count, active: active)
        for i in stride(from: 0, to: count, by: active) { job(i, 0) }
        state.waitAndRetract()
    }
}

extension WorkerPool {
    /// What the threads share. Every stored property is read and written with `mutex` held,
    /// except `job`, `count` and `active`, which are written only while no worker runs a job.
    final class State: @unchecked Sendable {
        private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
        private let wake = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
        private let finished = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
        private var generation = 0, remaining = 0, running = 0, stopping = false
        /// `generation` and `remaining` as last written (under `mutex`), for polling without it.
        private let publishedGeneration = Atomic<Int>(0), publishedRemaining = Atomic<Int>(0)
        /// Polls (each with a `sched_yield`, about 0.5 µs here when no other thread waits for the
        /// core) before a waiting thread blocks: up to about 130 µs.
        static let spinYields = 256
        private var job: ((Int, Int) -> Void)?
        private var count = 0, active = 0

        init() {
            pthread_mutex_init(mutex, nil)
            pthread_cond_init(wake, nil)
            pthread_cond_init(finished, nil)
        }

        deinit {
            pthread_cond_destroy(finished)
            pthread_cond_destroy(wake)
            pthread_mutex_destroy(mutex)
            finished.deallocate()
            wake.deallocate()
            mutex.deallocate()
        }

        /// Starts the thread of `lane` (a plain pthread: Foundation's `Thread.start` ignores a
        /// failure to create one, which left a pool waiting forever for lanes that never ran).
        func startThread(lane: Int) -> Bool {
            let context = Unmanaged.passRetained(ThreadContext(state: self, lane: lane)).toOpaque()
            var thread = pthread_t()
            let status = pthread_create(&thread, nil, { raw in
                let context = Unmanaged<ThreadContext>.fromOpaque(raw!).takeRetainedValue()
                context.state.serve(lane: context.lane)
                return nil
            }, context)
            guard status == 0 else {
                Unmanaged<ThreadContext>.fromOpaque(context).release()
                return false
            }
            pthread_detach(thread)
            return true
        }

        /// Waits until `threads` threads are in their loop.
        func waitUntilServing(_ threads: Int) {
            pthread_mutex_lock(mutex)
            while running < threads { pthread_cond_wait(finished, mutex) }
            pthread_mutex_unlock(mutex)
        }

        /// Hands `job` to lanes 1..<active (the caller is lane 0).
        func publish(_ job: @escaping (Int, Int) -> Void, count: Int, active: Int) {
            pthread_mutex_lock(mutex)
            self.job = job
            self.count = count
            self.active = active
            remaining = active - 1
            publishedRemaining.store(remaining, ordering: .releasing)
            generation += 1
            publishedGeneration.store(generation, ordering: .releasing)
            pthread_cond_broadcast(wake)
            pthread_mutex_unlock(mutex)
        }

        /// Waits for the workers, then drops the job so the caller's closure has not escaped.
        func waitAndRetract() {
            poll { self.publishedRemaining.load(ordering: .acquiring) == 0 }
            pthread_mutex_lock(mutex)
            while remaining > 0 { pthread_cond_wait(finished, mutex) }
            job = nil
            pthread_mutex_unlock(mutex)
        }

        func stop() {
            pthread_mutex_lock(mutex)
            stopping = true
            pthread_cond_broadcast(wake)
            while running > 0 { pthread_cond_wait(finished, mutex) }
            pthread_mutex_unlock(mutex)
        }

        /// A worker thread's loop: wait for a new generation, run its items, report.
        func serve(lane: Int) {
            pthread_mutex_lock(mutex)
            running += 1
            pthread_cond_broadcast(finished)
            var seen = generation
            while true {
                if generation == seen && !stopping {
                    pthread_mutex_unlock(mutex)
                    poll { self.publishedGeneration.load(ordering: .acquiring) != seen }
                    pthread_mutex_lock(mutex)
                }
                while generation == seen && !stopping { pthread_cond_wait(wake, mutex) }
                if stopping { break }
                seen = generation
                let participates = lane < active
                pthread_mutex_unlock(mutex)
                if participates { runItems(lane: lane) }
                pthread_mutex_lock(mutex)
                if participates {
                    remaining -= 1
                    publishedRemaining.store(remaining, ordering: .releasing)
                    if remaining == 0 { pthread_cond_signal(finished) }
                }
            }
            running -= 1
            pthread_cond_broadcast(finished)
            pthread_mutex_unlock(mutex)
        }

        /// Returns once `done()` holds or after `spinYields` polls; the caller then checks under
        /// `mutex` (the condition variable decides; polling only saves a wake-up).
        private func poll(_ done: () -> Bool) {
            for _ in 0..<State.spinYields {
                if done() { return }
                sched_yield()
            }
        }

        /// Not inlined, so this thread's reference to the job is gone when it returns.
        @inline(never)
        private func runItems(lane: Int) {
            guard let job else { return }
            for i in stride(from: lane, to: count, by: active) { job(i, lane) }
        }
    }
}

/// What a pool thread starts with.
private final class ThreadContext {
    let state: WorkerPool.State
    let lane: Int
    init(state: WorkerPool.State, lane: Int) { self.state = state; self.lane = lane }
}

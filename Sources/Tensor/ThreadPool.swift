import Dispatch

/// Runs independent work items on a fixed number of threads (no spinning: threads block in
/// Dispatch when idle, as spinning threads collapse when another process holds a core). Item `i` always runs on lane `i % lanes`, so a
/// caller can keep per-lane scratch (activations, im2col) indexed by the lane.
public struct ThreadPool: Sendable {
    public let lanes: Int

    public init(threads: Int) {
        precondition(threads >= 1, "ThreadPool needs at least one thread")
        lanes = threads
    }

    /// Calls `body(item, lane)` for every item in 0..<count and returns when all are done.
    public func run(_ count: Int, _ body: (_ item: Int, _ lane: Int) -> Void) {
        if lanes == 1 || count <= 1 {
            for i in 0..<count { body(i, 0) }
            return
        }
        let active = min(lanes, count)
        withoutActuallyEscaping(body) { body in
            let box = UncheckedSendable(body)
            DispatchQueue.concurrentPerform(iterations: active) { lane in
                var i = lane
                while i < count {
                    box.value(i, lane)
                    i += active
                }
            }
        }
    }

    /// Splits 0..<count into at most `lanes` contiguous chunks and runs them in parallel.
    public func runChunks(_ count: Int, minimumChunk: Int = 4096, _ body: (_ range: Range<Int>) -> Void) {
        let chunks = max(1, min(lanes, count / max(1, minimumChunk)))
        if chunks == 1 { body(0..<count); return }
        let size = (count + chunks - 1) / chunks
        run(chunks) { c, _ in
            let lo = c * size
            let hi = min(count, lo + size)
            if lo < hi { body(lo..<hi) }
        }
    }
}

/// Wraps a value whose thread-safety the caller guarantees by other means (documented at use).
public struct UncheckedSendable<T>: @unchecked Sendable {
    public let value: T
    public init(_ value: T) { self.value = value }
}

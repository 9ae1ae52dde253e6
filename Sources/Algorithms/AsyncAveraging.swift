import Comm
import Tensor

/// Non-blocking in-place model averaging, technique (b) of asynchronous local SGD (paper 002,
/// "Local SGD Meets Asynchrony"): the weights of every node are averaged while the node's
/// workers go on updating them, and the updates made meanwhile are kept.
///
/// One round, for each node n this process holds (x_n its live weights):
/// 1. `snapshot(node:)`: s_n ← x_n, and r_n ← s_n (the buffer the collective works on);
/// 2. `start(_:)`: a non-blocking mean all-reduce of the r's across all nodes of the run;
/// 3. once it has completed, `apply(node:)`: x_n ← r̄ + (x_n − s_n).
///
/// The third step equals x_n + (r̄ − s_n), but in this form it is exact when the node did not
/// move during the round (x_n − s_n = 0, so x_n becomes r̄ bitwise): with immediate completion
/// and one worker per node the result is local SGD's average (Algorithm 2).
///
/// A node's weights are one or more flat buffers (`segments`: parameters, then BatchNorm
/// statistics if they are synchronized); a snapshot lays them end to end, so a round is one
/// collective of `count` floats. With `broadcastCount` > 0 the last that many floats are not
/// averaged but take the first node's snapshot (`--bn-sync first`): a blocking broadcast from
/// node 0 once the mean has arrived.
///
/// Threads: one thread drives a round (snapshot, start, wait, apply); nothing here locks.
/// `snapshot` and `apply` read and write the live weights without locks while workers update
/// them (Hogwild, by design: a worker update racing with `apply` on the same element may be
/// lost, as may one of two racing worker updates); the snapshot and reduction buffers are
/// touched only by the driving thread and, while a round is in flight, by the communicator.
public final class AsyncAveraging: @unchecked Sendable {
    /// One flat buffer of a node's weights.
    public struct Segment: @unchecked Sendable {
        public var pointer: UnsafeMutablePointer<Float>
        public var count: Int
        public init(_ pointer: UnsafeMutablePointer<Float>, count: Int) {
            self.pointer = pointer
            self.count = count
        }
    }

    /// Each local node's segments, in node order; every node has the same segment sizes.
    public let nodes: [[Segment]]
    /// Floats in one snapshot: the sum of a node's segment sizes.
    public let count: Int
    /// Trailing floats of a snapshot that take node 0's values instead of the mean.
    public let broadcastCount: Int
    private let snapshots: [FloatBuffer]
    private let reduced: [FloatBuffer]
    private var request: CommRequest?
    /// The communicator of the round in flight (for the broadcast part).
    private var communicator: Communicator?
    /// Rounds started and rounds whose result has been applied to every node.
    public private(set) var started = 0
    public private(set) var completed = 0

    public init(nodes: [[Segment]], broadcastCount: Int = 0) {
        precondition(!nodes.isEmpty, "AsyncAveraging needs at least one node")
        let sizes = nodes[0].map(\.count)
        precondition(nodes.allSatisfy { $0.map(\.count) == sizes }, "AsyncAveraging: nodes differ in segment sizes")
        self.nodes = nodes
        count = sizes.reduce(0, +)
        precondition(broadcastCount >= 0 && broadcastCount <= count, "AsyncAveraging: broadcastCount out of range")
        self.broadcastCount = broadcastCount
        snapshots = nodes.map { _ in FloatBuffer(count: sizes.reduce(0, +)) }
        reduced = nodes.map { _ in FloatBuffer(count: sizes.reduce(0, +)) }
    }

    /// True between `start` and the completion noticed by `isComplete()` or `wait()`.
    public var inFlight: Bool { request != nil }

    /// s_n ← x_n, r_n ← s_n. Must not be called for a node while a round is in flight.
    public func snapshot(node n: Int) {
        precondition(request == nil, "AsyncAveraging.snapshot: a round is in flight")
        var offset = 0
        let s = snapshots[n].pointer
        for segment in nodes[n] {
            (s + offset).update(from: segment.pointer, count: segment.count)
            offset += segment.count
        }
        reduced[n].pointer.update(from: s, count: count)
    }

    /// Starts the mean all-reduce of every local node's snapshot; `communicator` has one worker
    /// per node and this process's local workers are `nodes`.
    public func start(_ communicator: Communicator) throws {
        precondition(request == nil, "AsyncAveraging.start: a round is already in flight")
        request = try communicator.startAllReduceMean(reduced.map(\.pointer), count: count - broadcastCount)
        self.communicator = communicator
        started += 1
    }

    /// After the mean has arrived: the broadcast part takes node 0's snapshot (blocking).
    private func broadcastTail() throws {
        guard broadcastCount > 0, let communicator else { return }
        let offset = count - broadcastCount
        try communicator.broadcast(reduced.map { $0.pointer + offset }, count: broadcastCount, root: 0)
    }

    /// True once the round's mean is in the reduction buffers; never blocks.
    public func isComplete() throws -> Bool {
        guard let request else { return true }
        if try request.test() {
            self.request = nil
            try broadcastTail()
            return true
        }
        return false
    }

    /// Blocks until the round's mean is in the reduction buffers.
    public func wait() throws {
        guard let request else { return }
        try request.wait()
        self.request = nil
        try broadcastTail()
    }

    /// x_n ← r̄ + (x_n − s_n) on every segment of node n, after the round completed.
    public func apply(node n: Int) {
        precondition(request == nil, "AsyncAveraging.apply: the round has not completed")
        var offset = 0
        for segment in nodes[n] {
            let x = segment.pointer, s = UnsafePointer(snapshots[n].pointer + offset)
            let r = UnsafePointer(reduced[n].pointer + offset)
            for i in 0..<segment.count { x[i] = r[i] + (x[i] - s[i]) }
            offset += segment.count
        }
    }

    /// Counts a round as finished once `apply` has run for every local node.
    public func finishRound() { completed += 1 }

    /// Node n's snapshot and reduction buffer, for a checkpoint between rounds or while a round
    /// is in flight (after `wait()`, so the reduction buffer holds the mean).
    public func roundBuffers(node n: Int) -> (snapshot: [Float], reduced: [Float]) {
        (snapshots[n].array, reduced[n].array)
    }

    /// Restores what `roundBuffers` returned (no round may be in flight here).
    public func restoreRoundBuffers(node n: Int, snapshot: [Float], reduced: [Float]) {
        precondition(request == nil, "AsyncAveraging.restoreRoundBuffers: a round is in flight")
        snapshots[n].load(snapshot)
        self.reduced[n].load(reduced)
    }

    /// Node n's snapshot (for tests and diagnostics).
    public func snapshotValues(node n: Int) -> [Float] { snapshots[n].array }
    /// The mean of the last completed round (equal on every node).
    public func averageValues(node n: Int = 0) -> [Float] { reduced[n].array }
}

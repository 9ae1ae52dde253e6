/// When the averaging rounds of asynchronous local SGD (paper 002, technique (b)) snapshot,
/// start and complete, as a pure function of the nodes' update counts: the one policy that both
/// execution modes consult (the sequentialised mode after every node step, the concurrent
/// averaging loop when a node's counter wakes it). Threads, locks and timing stay with them.
///
/// For the N nodes this process holds, with H = `averageEvery`:
/// - a node is due for its snapshot once it has applied H updates since its previous one (the
///   first at H), unless a round is in flight (then once that round has completed);
/// - a round starts once every node has its snapshot;
/// - the sequentialised mode completes it once every node has made at least `delay` updates
///   since its own snapshot (`mayComplete`); the concurrent mode when the collective is done.
///
/// Time-based rounds (`averageEvery` nil, `--average-seconds`) leave the due decision to the
/// caller's clock and use the rest. A value of this type is the whole schedule state, so a
/// checkpoint of the sequentialised mode stores it as it is.
public struct AsyncRoundSchedule: Codable, Equatable, Sendable {
    /// H: node updates between a node's snapshots; nil when rounds are started by time.
    public let averageEvery: Int?
    /// Whether each node has its snapshot in the round being collected or in flight.
    public private(set) var snapshotted: [Bool]
    /// Each node's update count at its latest snapshot.
    public private(set) var snapshotSteps: [Int]
    /// Each node's update count at which its next snapshot falls due (`Int.max` by time).
    public private(set) var nextSnapshot: [Int]
    /// True between `started()` and `completed(steps:)`.
    public private(set) var inFlight = false

    /// `nodes`: the nodes this process holds (≥ 1); `averageEvery` ≥ 1, or nil for time-based rounds.
    public init(nodes: Int, averageEvery: Int?) {
        precondition(nodes >= 1 && (averageEvery ?? 1) >= 1, "AsyncRoundSchedule needs nodes ≥ 1 and H ≥ 1")
        self.averageEvery = averageEvery
        snapshotted = [Bool](repeating: false, count: nodes)
        snapshotSteps = [Int](repeating: 0, count: nodes)
        nextSnapshot = [Int](repeating: averageEvery ?? Int.max, count: nodes)
    }

    /// Nodes without a snapshot, in node order.
    public var missing: [Int] { snapshotted.indices.filter { !snapshotted[$0] } }

    /// Whether node `n`'s snapshot is due after it has made `step` updates (never while a round
    /// is in flight or once it has its snapshot).
    public func isDue(node n: Int, step: Int) -> Bool {
        !inFlight && !snapshotted[n] && step >= nextSnapshot[n]
    }

    /// Nodes whose snapshot is due, given every node's update count `steps`.
    public func due(steps: [Int]) -> [Int] {
        steps.indices.filter { isDue(node: $0, step: steps[$0]) }
    }

    /// Records node `n`'s snapshot, taken when it had made `step` updates.
    public mutating func snapshotTaken(node n: Int, atStep step: Int) {
        precondition(!inFlight && !snapshotted[n], "AsyncRoundSchedule: node \(n) cannot snapshot now")
        snapshotted[n] = true
        snapshotSteps[n] = step
        if let h = averageEvery { nextSnapshot[n] = step + h }
    }

    /// True when every node has its snapshot and no round is in flight: start the all-reduce.
    public var readyToStart: Bool { !inFlight && !snapshotted.contains(false) }

    public mutating func started() {
        precondition(readyToStart, "AsyncRoundSchedule: a round starts only once every node has its snapshot")
        inFlight = true
    }

    /// The sequentialised mode's completion rule: every node has made `delay` updates since its snapshot.
    public func mayComplete(steps: [Int], delay: Int) -> Bool {
        inFlight && steps.indices.allSatisfy { steps[$0] - snapshotSteps[$0] >= delay }
    }

    /// Records the completion of the round in flight (its mean applied to every node) and
    /// returns the updates the nodes made during it (staleness, summed over the nodes).
    public mutating func completed(steps: [Int]) -> Int {
        precondition(inFlight, "AsyncRoundSchedule: no round is in flight")
        inFlight = false
        for n in snapshotted.indices { snapshotted[n] = false }
        return steps.indices.reduce(0) { $0 + steps[$1] - snapshotSteps[$1] }
    }
}

extension AlgorithmKind {
    /// Asynchronous local SGD (*Local SGD Meets Asynchrony*): lock-free updates by several
    /// threads per node and non-blocking in-place averaging across nodes. An execution mode of
    /// its own (AsyncTrainer) whose rounds this schedule times, not a strategy of the lockstep trainer.
    public static let async = AlgorithmKind(named: "async")
}

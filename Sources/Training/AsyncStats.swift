/// What an async run measured beyond the common metrics, written to `async.json`: how the
/// averaging loop overlapped with computing and how stale its results were.
public struct AsyncStats: Codable, Equatable, Sendable {
    public var nodes: Int = 1
    public var threadsPerNode: Int = 1
    /// H in node steps (nil when rounds are started by time).
    public var averageEvery: Int?
    public var averageSeconds: Double?
    public var deterministic = false
    /// Averaging rounds applied to the nodes (the run's `syncs`).
    public var rounds = 0
    /// Rounds completed at the end of training for nodes that had not reached their threshold.
    public var forcedRounds = 0
    /// Node steps made between a node's snapshot and the application of the round's average,
    /// summed over rounds and local nodes (divide by rounds × local nodes for the mean).
    public var updatesDuringRounds = 0
    /// Seconds from starting a round's all-reduce to its completion, summed: communication
    /// that overlapped with the workers' computing.
    public var allReduceSeconds: Double = 0
    /// Seconds the averaging loop spent copying snapshots and applying averages.
    public var snapshotSeconds: Double = 0
    public var applySeconds: Double = 0
    /// Seconds the worker threads were held up by averaging, summed over threads: their
    /// bookkeeping with the averaging loop and the wait for the last round at the end.
    public var workerWaitSeconds: Double = 0
    /// Nodes held by the process that wrote these numbers (N in-process, 1 per MPI rank).
    public var localNodes = 1
    /// With `--network`: one round's all-reduce on that network, in seconds, and in the node
    /// updates made meanwhile at the measured step time (P per thread step): the staleness the
    /// network implies, and so the `--async-delay` that simulates it.
    public var modelledRoundSeconds: Double?
    public var modelledRoundNodeSteps: Double?

    public init() {}

    /// Mean node steps between snapshot and application per round and node.
    public var meanUpdatesDuringRound: Double {
        rounds == 0 ? 0 : Double(updatesDuringRounds) / Double(rounds * max(1, localNodes))
    }

    enum CodingKeys: String, CodingKey {
        case nodes, threadsPerNode = "threads_per_node", averageEvery = "average_every"
        case averageSeconds = "average_seconds", deterministic, rounds, forcedRounds = "forced_rounds"
        case updatesDuringRounds = "updates_during_rounds", allReduceSeconds = "all_reduce_seconds"
        case snapshotSeconds = "snapshot_seconds", applySeconds = "apply_seconds"
        case workerWaitSeconds = "worker_wait_seconds", localNodes = "local_nodes"
        case modelledRoundSeconds = "modelled_round_seconds", modelledRoundNodeSteps = "modelled_round_node_steps"
    }
}

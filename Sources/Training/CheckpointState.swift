import Algorithms
import Config
import Foundation

/// Everything needed to continue a run bitwise identically, as one value: the position, the
/// metrics so far, every local worker's optimizer state, the strategy's counters, the
/// asynchronous run's round schedule, and the flat buffers (weights, BatchNorm statistics,
/// momentum, strategy buffers) by name. Data order and augmentation are pure functions of
/// (seed, epoch, worker, step), so they need no saved generator state.
///
/// In the file (`Checkpoint`), `buffers` become safetensors tensors and everything else the
/// JSON of the metadata key `localsgd.checkpoint`.
public struct CheckpointState: Codable {
    var version = 1
    /// Iterations done per worker.
    var step: Int
    /// K (N·P worker threads for async).
    var workers: Int
    /// The workers this process holds (the nodes, for async).
    var localWorkers: [Int]
    var parameterCount: Int
    var stateCount: Int
    /// Each local worker's (thread's) learning rate of its last step, for momentum correction.
    var previousLearningRates: [Float?]
    var strategy = StrategyState()
    var history: [EpochMetrics]
    var epochState = EpochAccumulator()
    var totalTime: TimeBreakdown
    /// Payload bytes of training collectives so far (per worker).
    var trainingBytes: Int
    var config: RunConfig
    /// An asynchronous run's own state; nil for lockstep runs.
    var async: AsyncCheckpoint?
    /// Flat buffers by name: "worker.3.parameters", "node.0.state", "strategy.slowmo.u".
    var buffers: [String: [Float]] = [:]

    enum CodingKeys: String, CodingKey {
        case version, step, workers, localWorkers, parameterCount, stateCount, previousLearningRates, strategy
        case history, epochState, totalTime, trainingBytes, config, async
    }

    /// The buffer `name`, which must hold `count` values.
    func buffer(_ name: String, count: Int, path: String) throws -> [Float] {
        guard let values = buffers[name], values.count == count else {
            throw TrainingError("\(path) lacks tensor '\(name)' of \(count) values")
        }
        return values
    }
}

/// The part of an asynchronous run's checkpoint beyond the common one (sequentialised mode).
struct AsyncCheckpoint: Codable {
    /// Updates applied to each local node so far.
    var nodeSteps: [Int]
    /// The averaging rounds' schedule (nil with one node: nothing is averaged).
    var schedule: AsyncRoundSchedule?
    var stats: AsyncStats
    /// Rounds and training bytes when the current epoch started.
    var epochStartSyncs: Int
    var epochStartBytes: Int
}

import Algorithms
import Config
import Foundation
import Optim

/// Everything needed to continue a run bitwise identically, as one process holds it: the
/// position, the metrics so far, every local worker's optimizer state and epoch sums, the
/// strategy's counters, the asynchronous run's round schedule, and the flat buffers (weights,
/// BatchNorm statistics, momentum and Adam's second moment, strategy buffers) by name. Data order
/// and augmentation are pure functions of (seed, epoch, worker, step), so they need no saved
/// generator state.
///
/// Buffers are named by global worker ("worker.3.parameters"), never by process, and the
/// per-worker fields are lists over `localWorkers`, so that `CheckpointLayout` can split the
/// value into one file per worker plus one shared file and assemble it again for any layout.
/// In a file, `buffers` become safetensors tensors and everything else JSON in the metadata.
public struct CheckpointState: Codable {
    /// 2: step directories (`CheckpointLayout`); 1: one file per process (legacy).
    package var version = 2
    /// Iterations done per worker.
    package var step: Int
    /// K (N·P worker threads for async).
    package var workers: Int
    /// The workers whose state this value holds, in the order of the per-worker lists
    /// (`previousLearningRates`, `optimizerSteps`, `workerEpochSums`): this process's workers
    /// (its nodes' threads for async; its nodes in version 1).
    package var localWorkers: [Int]
    package var parameterCount: Int
    package var stateCount: Int
    /// Each local worker's (thread's) learning rate of its last step, for momentum correction.
    package var previousLearningRates: [Float?]
    /// Each local worker's (thread's) Adam step count t (`OptimizerState.stepCount`); nil for
    /// SGD and LARS, and in checkpoints older than Adam. Adam's second moments are the buffers
    /// "worker.<k>.secondMoment", its first moments "worker.<k>.momentum" as SGD's momentum.
    package var optimizerSteps: [Int]?
    package var strategy = StrategyState()
    package var history: [EpochMetrics]
    package var epochState = EpochAccumulator()
    /// Lockstep: each local worker's sums of the epoch so far (not in the JSON: each worker's
    /// file holds its own); nil for async.
    package var workerEpochSums: [WorkerEpochSums]?
    package var totalTime: TimeBreakdown
    /// Payload bytes of training collectives so far (per worker).
    package var trainingBytes: Int
    package var config: RunConfig
    /// The text corpus's fingerprint (`DataSplit.textFingerprint`); nil for images and in older checkpoints.
    package var dataFingerprint: String?
    /// The record of synchronizations' counters (its anchors are buffers "syncs.…"); nil without one.
    package var syncRecorder: SyncRecorder.State?
    /// An asynchronous run's own state; nil for lockstep runs.
    package var async: AsyncCheckpoint?
    /// Lockstep: the most bytes one iteration sent so far; nil in older checkpoints.
    package var peakStepBytes: Int?
    /// Lockstep with overlapping collectives: the modelled clock and what is in flight.
    package var timeline: ModelledTimeline?
    /// Lockstep with `--worker-speeds` or `--faults` and a network: each worker's modelled clock.
    /// Who is present is a function of the step and `--faults`, so it needs no field.
    package var clocks: WorkerClocks?
    /// Flat buffers by name: "worker.3.parameters", "node.0.state", "strategy.slowmo.u".
    package var buffers: [String: [Float]] = [:]

    package init(step: Int, workers: Int, localWorkers: [Int], parameterCount: Int, stateCount: Int,
                 previousLearningRates: [Float?], strategy: StrategyState = StrategyState(), history: [EpochMetrics],
                 epochState: EpochAccumulator = EpochAccumulator(), totalTime: TimeBreakdown, trainingBytes: Int,
                 config: RunConfig) {
        self.step = step
        self.workers = workers
        self.localWorkers = localWorkers
        self.parameterCount = parameterCount
        self.stateCount = stateCount
        self.previousLearningRates = previousLearningRates
        self.strategy = strategy
        self.history = history
        self.epochState = epochState
        self.totalTime = totalTime
        self.trainingBytes = trainingBytes
        self.config = config
    }

    enum CodingKeys: String, CodingKey {
        case version, step, workers, localWorkers, parameterCount, stateCount, previousLearningRates, optimizerSteps, strategy
        case history, epochState, totalTime, trainingBytes, config, async, dataFingerprint, peakStepBytes, timeline, syncRecorder, clocks
    }

    /// The buffer `name`, which must hold `count` values.
    package func buffer(_ name: String, count: Int, path: String) throws -> [Float] {
        guard let values = buffers[name], values.count == count else {
            throw TrainingError("\(path) lacks tensor '\(name)' of \(count) values")
        }
        return values
    }
}

extension CheckpointState {
    /// The optimizer states of `workers` (global worker or thread indices, in `states`' order):
    /// momentum, Adam's second moment and step count. Their previous learning rates are
    /// `previousLearningRates`, given at `init`. SGD and LARS checkpoints stay as before Adam.
    package mutating func saveOptimizer(_ states: [OptimizerState], workers: [Int]) {
        for (state, w) in zip(states, workers) {
            buffers["worker.\(w).momentum"] = state.momentum.array
            if let v = state.secondMoment { buffers["worker.\(w).secondMoment"] = v.array }
        }
        optimizerSteps = states.contains { $0.secondMoment != nil } ? states.map(\.stepCount) : nil
    }

    /// Loads what `saveOptimizer` saved, and the previous learning rates, into `states`.
    package func restoreOptimizer(_ states: [OptimizerState], workers: [Int], path: String) throws {
        for (k, (state, w)) in zip(states, workers).enumerated() {
            state.momentum.load(try buffer("worker.\(w).momentum", count: state.momentum.count, path: path))
            state.previousLearningRate = previousLearningRates[k]
            state.stepCount = 0
            if let v = state.secondMoment {
                v.load(try buffer("worker.\(w).secondMoment", count: v.count, path: path))
                guard let steps = optimizerSteps, steps.count == states.count else {
                    throw TrainingError("\(path) lacks the Adam step counts of its \(states.count) workers")
                }
                state.stepCount = steps[k]
            }
        }
    }
}

/// The part of an asynchronous run's checkpoint beyond the common one (sequentialised mode).
package struct AsyncCheckpoint: Codable {
    /// Updates applied to each local node so far.
    package var nodeSteps: [Int]
    /// The averaging rounds' schedule (nil with one node: nothing is averaged).
    package var schedule: AsyncRoundSchedule?
    package var stats: AsyncStats
    /// Rounds and training bytes when the current epoch started.
    package var epochStartSyncs: Int
    package var epochStartBytes: Int
    /// Rounds applied to each local node, and the node's rounds each thread has seen
    /// (`--momentum-sync reset`); nil in older checkpoints.
    package var roundsApplied: [Int]?
    package var roundsSeen: [Int]?

    package init(nodeSteps: [Int], schedule: AsyncRoundSchedule?, stats: AsyncStats, epochStartSyncs: Int,
                 epochStartBytes: Int, roundsApplied: [Int], roundsSeen: [Int]) {
        self.nodeSteps = nodeSteps
        self.schedule = schedule
        self.stats = stats
        self.epochStartSyncs = epochStartSyncs
        self.epochStartBytes = epochStartBytes
        self.roundsApplied = roundsApplied
        self.roundsSeen = roundsSeen
    }
}

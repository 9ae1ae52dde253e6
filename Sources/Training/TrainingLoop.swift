import Algorithms
import Comm
import Config
import Data
import Foundation
import NN
import Optim
import RunFiles

/// A trainer as `RunDriver` drives it, whatever its execution mode: lockstep (`Trainer`: every
/// worker steps, then the synchronization strategy acts, Algorithm 2) or asynchronous
/// (`AsyncTrainer`: N nodes updated by P threads each, averaged in the background, paper 002).
/// Both share `RunSetup`, the evaluation of the averaged model, the epoch records and the
/// checkpoint format (`CheckpointState`).
public protocol TrainingLoop: AnyObject {
    var setup: RunSetup { get }
    /// The communicator of the training collectives (one worker per node for async).
    var communicator: Communicator { get }
    /// A network of the run's model (its layout names the buffers of every replica).
    var network: Network { get }
    /// The epochs recorded so far.
    var history: [EpochMetrics] { get }
    var onEvent: ((TrainingEvent) -> Void)? { get set }
    /// Seconds between `.progress` events; 0 reports every iteration (`localsgd launch` counts steps so).
    var progressInterval: Double { get set }
    /// Called at every point where the run may stop and be continued: after every iteration
    /// (lockstep) or every epoch (async); `RunDriver` writes metrics and checkpoints there.
    var afterProgress: (() throws -> Void)? { get set }
    /// Iterations done per worker (t of Algorithm 2; each thread's own count for async).
    var globalStep: Int { get }
    /// Iterations per worker at which a checkpoint can be taken: every one (lockstep) or epoch ends (async).
    var checkpointGranularity: Int { get }
    /// The record of synchronizations (`syncs.jsonl`), if this run keeps one (lockstep runs).
    var syncRecorder: SyncRecorder? { get }
    /// BatchNorm's `num_batches_tracked` of the final model: the updates one replica received.
    var batchesTracked: Int { get }

    /// Overwrites every replica's weights and BatchNorm statistics with `source`'s (`--init`).
    func setInitialWeights(from source: Replica)
    /// Trains to the end (or from a restored position to the end) and returns the summary.
    func run() throws -> RunSummary
    /// The average of all workers' (nodes') weights and BatchNorm statistics; a collective.
    func averagedModel() throws -> Replica
    /// Files the run writes besides the common ones, by name (async.json).
    func extraFiles() throws -> [String: Foundation.Data]
    /// The workers whose state this process checkpoints, one file each (global indices): its
    /// workers, or its nodes' threads for async.
    var checkpointWorkers: [Int] { get }
    /// Everything needed to continue the run bitwise (this process's part; its per-worker lists
    /// follow `checkpointWorkers`).
    func checkpointState() throws -> CheckpointState
    /// Continues from `state` (read from `path`, named in errors).
    func restore(_ state: CheckpointState, path: String) throws
    /// The first NaN or infinity in this process's model buffers, if any.
    func firstNonFiniteValue() -> FiniteCheck.Finding?
}

extension TrainingLoop {
    public var config: RunConfig { setup.config }
    public var data: DataSplit { setup.data }
    public var spec: ModelSpec { setup.spec }
    public var stepsPerEpoch: Int { setup.stepsPerEpoch }
    public var schedule: LearningRateSchedule { setup.schedule }
    public var totalSteps: Int { setup.totalSteps }

    /// The iteration just done as the progress line counts it: epoch and step within it, from 1.
    package var position: String {
        "by epoch \(max(0, globalStep - 1) / stepsPerEpoch + 1), step \(max(0, globalStep - 1) % stepsPerEpoch + 1)"
    }

    /// Refuses a non-finite test loss at the end of `epoch` (0-based) before it enters the
    /// metrics, a checkpoint's history or summary.json.
    package func checkTestLoss(_ loss: Double, epoch: Int) throws {
        guard loss.isFinite else {
            throw TrainingError("the test loss of the averaged model became \(loss) at the end of epoch \(epoch + 1); \(divergenceAdvice)")
        }
    }

    /// The average of all workers that `final.safetensors` holds; an error if it is not finite.
    /// Averaging is a collective: every process takes part (and so every one stops alike).
    public func finalModel() throws -> Replica {
        let final = try averagedModel()
        if let finding = FiniteCheck.check(final, network: network, owner: "the averaged model's ") {
            throw divergenceError(finding, place: position, file: "final.safetensors")
        }
        return final
    }
}

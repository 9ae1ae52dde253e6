import Algorithms
import Comm
import Data
import NN
import Optim

/// Where a run's workers live.
public enum BackendKind: String, Codable, CaseIterable, Sendable {
    /// K workers simulated exactly in this process (the default).
    case inprocess
    /// One process per rank under `mpirun`, each holding `workers / ranks` workers.
    case mpi
}

/// Everything that defines a run: the resolved form of CLI flags and config files, written to
/// `config.json`. Field names in files are the flag names in snake_case (`batch_size`);
/// kebab-case (`batch-size`) is accepted too.
public struct RunConfig: Codable, Equatable, Sendable {
    // Data
    public var dataset: DatasetKind = .fashionMNIST
    public var dataDir: String? = nil
    public var shuffle: Bool = true
    public var augmentCrop: Int = 0
    public var augmentFlip: Bool = false
    public var syntheticTrain: Int = 2048
    public var syntheticTest: Int = 512
    // Model
    public var model: ModelKind = .cnn
    public var shortcut: ShortcutKind = .a
    // Recipe (§3 of the study, scaled to small data)
    public var epochs: Int = 10
    public var batchSize: Int = 32
    public var lr: Float = 0.1
    public var scaleLr: Bool = true
    public var lrSchedule: ScheduleKind = .cosine
    /// nil: the study's decays at 30, 60 and 80 of 90 epochs, scaled to `epochs`.
    public var decayEpochs: [Int]? = nil
    public var decayFactor: Float = 0.1
    /// `auto`: warm-up when the linear scaling rule raises the rate (`resolvedWarmupEpochs`).
    public var warmupEpochs: WarmupSetting = .auto
    /// `auto`: the model's stable rate caps the scaled one (`resolvedMaxLearningRate`).
    public var maxLr: RateLimitSetting = .auto
    public var optimizer: OptimizerKind = .sgd
    public var momentum: Float = 0.9
    public var nesterov: Bool = true
    public var weightDecay: Float = 5e-4
    public var momentumCorrection: Bool = true
    // Distribution
    public var algorithm: AlgorithmKind = .minibatch
    public var workers: Int = 1
    public var localSteps: Int = 1
    public var switchEpoch: Int? = nil
    public var switchStep: Int? = nil
    public var groupSize: [Int] = []
    public var globalEvery: [Int] = []
    public var slowmoLr: Float = 1
    public var slowmoMomentum: Float = 0.5
    public var slowmoNesterov: Bool = false
    public var bnSync: BatchNormSync = .average
    public var momentumSync: MomentumSync = .local
    public var backend: BackendKind = .inprocess
    /// MPI: `ordered` adds across ranks in worker order (bitwise the in-process run for any
    /// layout), `fast` lets MPI_Allreduce choose (equal to rounding). In-process always adds in order.
    public var reduction: ReductionMode = .fast
    public var network: String? = nil
    /// Seconds to wait before every collective (emulated latency for experiments on real links).
    public var injectLatency: Double = 0
    /// MPI: seconds a blocking collective may wait before the whole job is aborted (a rank that
    /// hangs instead of dying); 0 = wait forever.
    public var collectiveTimeout: Double = 0
    // Asynchronous local SGD (--algorithm async; AsyncTrainer)
    /// N, nodes; each holds one shared replica.
    public var nodes: Int = 1
    /// P, worker threads per node updating its replica without locks.
    public var threadsPerNode: Int = 1
    /// H of async: node steps (updates applied to a node's replica) between snapshots; nil: `localSteps`.
    public var averageEvery: Int? = nil
    /// Instead of `averageEvery`: start a round every this many seconds (concurrent mode only).
    public var averageSeconds: Double? = nil
    /// Sequentialised mode: threads step in a fixed round-robin order, averaging completes after `asyncDelay` node steps.
    public var asyncDeterministic: Bool = false
    public var asyncDelay: Int = 0
    // Execution
    public var threads: Int = 2
    public var seed: UInt64 = 1
    public var evalBatchSize: Int = 256
    public var initWeights: String? = nil
    public var checkpointEvery: String? = nil

    public init() {}

    enum CodingKeys: String, CodingKey, CaseIterable {
        case dataset, dataDir = "data_dir", shuffle, augmentCrop = "augment_crop", augmentFlip = "augment_flip"
        case syntheticTrain = "synthetic_train", syntheticTest = "synthetic_test"
        case model, shortcut, epochs, batchSize = "batch_size", lr, scaleLr = "scale_lr", lrSchedule = "lr_schedule"
        case decayEpochs = "decay_epochs", decayFactor = "decay_factor", warmupEpochs = "warmup_epochs", maxLr = "max_lr"
        case optimizer, momentum, nesterov, weightDecay = "weight_decay", momentumCorrection = "momentum_correction"
        case algorithm, workers, localSteps = "local_steps", switchEpoch = "switch_epoch", switchStep = "switch_step"
        case groupSize = "group_size", globalEvery = "global_every", slowmoLr = "slowmo_lr"
        case slowmoMomentum = "slowmo_momentum", slowmoNesterov = "slowmo_nesterov", bnSync = "bn_sync"
        case momentumSync = "momentum_sync", backend, reduction, network, threads, seed, evalBatchSize = "eval_batch_size"
        case injectLatency = "inject_latency", collectiveTimeout = "collective_timeout"
        case nodes, threadsPerNode = "threads_per_node", averageEvery = "average_every", averageSeconds = "average_seconds"
        case asyncDeterministic = "async_deterministic", asyncDelay = "async_delay"
        case initWeights = "init", checkpointEvery = "checkpoint_every"
    }

    /// Every field name a config file may use.
    public static var fieldNames: [String] { CodingKeys.allCases.map(\.rawValue) }

    /// The allowed values of enumerated fields, for error messages.
    static let choices: [String: [String]] = [
        "dataset": DatasetKind.allCases.map(\.rawValue), "model": ModelKind.allCases.map(\.rawValue),
        "shortcut": ShortcutKind.allCases.map(\.rawValue), "lr_schedule": ScheduleKind.allCases.map(\.rawValue),
        "optimizer": OptimizerKind.allCases.map(\.rawValue), "algorithm": AlgorithmKind.allCases.map(\.rawValue),
        "bn_sync": BatchNormSync.allCases.map(\.rawValue), "momentum_sync": MomentumSync.allCases.map(\.rawValue),
        "backend": BackendKind.allCases.map(\.rawValue), "reduction": ReductionMode.allCases.map(\.rawValue),
        "warmup_epochs": ["auto", "a whole number of epochs"], "max_lr": ["auto", "none", "a rate > 0"],
    ]
}

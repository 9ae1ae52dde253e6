import Algorithms
import Comm
import Data
import NN
import Optim

// The sections of a `RunConfig`. Each struct holds the only copy of its fields' defaults: the
// CLI's flags, config files (`batch_size` or `schedule.batch_size`), `--help` and config.json all
// reach these fields through the one table `RunConfig.fields` (RunConfig+Fields.swift), which
// also holds their ranges and help. The optimizer section is `Optim.OptimizerConfig` itself.

/// `[data]`: which samples, and how they are read and augmented.
public struct DataSection: Equatable, Sendable {
    public var dataset: DatasetKind = .fashionMNIST
    /// Directory of the dataset files; nil: the dataset's standard directory.
    public var dataDir: String? = nil
    /// Shuffle every epoch; false reads in file order, worker k taking the k-th contiguous block.
    public var shuffle: Bool = true
    /// Random-crop padding in pixels, 0 to 64 (0: no cropping).
    public var augmentCrop: Int = 0
    public var augmentFlip: Bool = false
    /// Samples of the synthetic dataset's training split, 1 to 100000.
    public var syntheticTrain: Int = 2048
    /// Samples of the synthetic dataset's test split, 1 to 100000.
    public var syntheticTest: Int = 512
    /// T, tokens per sample of the text dataset, 2 to 1024.
    public var contextLength: Int = 64

    public init() {}
}

/// `[model]`: the network.
public struct ModelSection: Equatable, Sendable {
    public var kind: ModelKind = .cnn
    /// Shortcut of the CIFAR ResNets where the shape changes (zero-pad: option A).
    public var shortcut: ShortcutKind = .a

    public init() {}
}

/// `[schedule]`: the recipe (§3 of the study, scaled to small data): length, batch and rates.
public struct ScheduleSection: Equatable, Sendable {
    /// Epochs to train, 1 to 10000.
    public var epochs: Int = 10
    /// B, the per-worker batch size, 1 to 4096.
    public var batchSize: Int = 32
    /// The base rate of η = K·B·lr/256 (linear scaling rule), greater than 0, at most 1e30.
    public var lr: Float = 0.1
    public var scaleLr: Bool = true
    public var lrSchedule: ScheduleKind = .cosine
    /// Epochs (1-based) after which the step schedule decays; nil: the study's decays at 30, 60
    /// and 80 of 90 epochs, scaled to `epochs` (`RunConfig.resolvedDecayEpochs`).
    public var decayEpochs: [Int]? = nil
    /// Factor of each step decay, greater than 0, at most 1.
    public var decayFactor: Float = 0.1
    /// `auto`: warm-up when the linear scaling rule raises the rate (`resolvedWarmupEpochs`).
    public var warmupEpochs: WarmupSetting = .auto
    /// `auto`: the model's stable rate caps the scaled one (`resolvedMaxLearningRate`).
    public var maxLr: RateLimitSetting = .auto

    public init() {}
}

/// `[async]`: asynchronous local SGD (`algorithm = async`; AsyncTrainer).
public struct AsyncSection: Equatable, Sendable {
    /// N, nodes, 1 to 1024; each holds one shared replica.
    public var nodes: Int = 1
    /// P, worker threads per node updating its replica without locks, 1 to 256.
    public var threadsPerNode: Int = 1
    /// H of async: node steps between snapshots, 1 to 10^6; nil: `localSteps`.
    public var averageEvery: Int? = nil
    /// Instead of `averageEvery`: seconds between rounds (concurrent mode only), at most 3600.
    public var averageSeconds: Double? = nil
    /// Sequentialised mode: threads step in a fixed round-robin order.
    public var asyncDeterministic: Bool = false
    /// Sequentialised mode: node steps, 0 to 10^6, after which averaging completes.
    public var asyncDelay: Int = 0

    public init() {}
}

/// `[execution]`: where and how the run executes; none of it changes the model but `seed` and
/// `init` (and, by rounding, `reduction` under MPI and `conv_backend`).
public struct ExecutionSection: Equatable, Sendable {
    public var backend: BackendKind = .inprocess
    /// MPI: `ordered` adds across ranks in worker order (bitwise the in-process run for any
    /// layout), `fast` lets MPI_Allreduce choose (equal to rounding). In-process always adds in order.
    public var reduction: ReductionMode = .fast
    /// Network model for modelled wall-clock (`NetworkModel(parsing:)`), at most 256 bytes.
    public var network: String? = nil
    /// Seconds, 0 to 10, to wait before every collective (emulated latency on real links).
    public var injectLatency: Double = 0
    /// MPI: seconds, 0 to 86400, a blocking collective may wait before the whole job is
    /// aborted (a rank that hangs instead of dying); 0 = wait forever.
    public var collectiveTimeout: Double = 0
    /// Threads of the process, 1 to 256.
    public var threads: Int = 2
    /// Kernels of the convolutions (`ConvBackend`): oneDNN where it takes the shape, or ours.
    public var convBackend: ConvBackend = .default
    public var seed: UInt64 = 1
    /// Batch size of evaluation, 1 to 4096.
    public var evalBatchSize: Int = 256
    /// Weights (.safetensors) every worker starts from; nil: the seed's initialisation.
    public var initWeights: String? = nil
    /// `CheckpointPeriod` text: N steps or Ne epochs; nil: no checkpoints.
    public var checkpointEvery: String? = nil
    /// Lockstep runs: `on` writes `syncs.jsonl`, one line per synchronization (`SyncRecord`).
    public var syncRecord: SyncRecordSetting = .on
    /// `FaultSchedule` text: workers that leave and rejoin (in-process only); nil: none.
    public var faults: String? = nil
    /// `WorkerSpeeds` text: relative speeds for the modelled wall-clock; nil: all equal.
    public var workerSpeeds: String? = nil
    /// Modelled seconds, greater than 0 and at most 3600, of one worker's compute per iteration
    /// at speed 1, instead of the measured ones; nil: measured.
    public var modelledCompute: Double? = nil

    public init() {}
}

import Algorithms
import ArgumentParser
import Comm
import Config
import Data
import NN
import Optim
import RunFiles
import Training

extension DatasetKind: ExpressibleByArgument {}
extension ModelKind: ExpressibleByArgument {}
extension ShortcutKind: ExpressibleByArgument {}
extension ScheduleKind: ExpressibleByArgument {}
extension OptimizerKind: ExpressibleByArgument {}
extension AlgorithmKind: ExpressibleByArgument {}
extension BatchNormSync: ExpressibleByArgument {}
extension MomentumSync: ExpressibleByArgument {}
extension BackendKind: ExpressibleByArgument {}
extension ReductionMode: ExpressibleByArgument {}

extension WarmupSetting: ExpressibleByArgument {
    public init?(argument: String) {
        if argument == "auto" { self = .auto } else if let n = Int(argument) { self = .epochs(n) } else { return nil }
    }
    /// As a config file writes it.
    var configValue: Any {
        switch self {
        case .auto: return "auto"
        case .epochs(let n): return n
        }
    }
}

extension RateLimitSetting: ExpressibleByArgument {
    public init?(argument: String) {
        switch argument {
        case "auto": self = .auto
        case "none": self = .none
        default:
            guard let rate = Float(argument) else { return nil }
            self = .rate(rate)
        }
    }
    /// As a config file writes it.
    var configValue: Any {
        switch self {
        case .auto: return "auto"
        case .none: return "none"
        case .rate(let r): return Double(r)
        }
    }
}

/// A comma-separated list of positive integers, e.g. `30,60,80`.
struct IntList: ExpressibleByArgument {
    var values: [Int]
    init?(argument: String) {
        let parts = argument.split(separator: ",", omittingEmptySubsequences: false).map {
            Int($0.trimmingCharacters(in: .whitespaces))
        }
        guard !parts.isEmpty, parts.allSatisfy({ $0 != nil }) else { return nil }
        values = parts.map { $0! }
    }
}

/// The flags that set fields of a run config. Each is optional: a flag given on the command
/// line wins over `--config FILE`, which wins over the defaults.
struct RunOptions: ParsableArguments {
    @Option(help: "Dataset: \(DatasetKind.allCases.map(\.rawValue).joined(separator: ", ")). Default fashion-mnist.")
    var dataset: DatasetKind?
    @Option(help: "Directory with the dataset files (default for fashion-mnist: /usr/share/datasets/fashion-mnist).")
    var dataDir: String?
    @Flag(help: "Read data in file order; worker k takes the k-th contiguous block (debugging, comparisons).")
    var noShuffle = false
    @Option(parsing: .unconditional, help: "Random-crop padding in pixels, \(RunConfig.range("augment_crop")) (0: no cropping).")
    var augmentCrop: Int?
    @Flag(help: "Random horizontal flips.")
    var augmentFlip = false
    @Option(parsing: .unconditional, help: "Training samples of the synthetic dataset, \(RunConfig.range("synthetic_train")) (default 2048).")
    var syntheticTrain: Int?
    @Option(parsing: .unconditional, help: "Test samples of the synthetic dataset, \(RunConfig.range("synthetic_test")) (default 512).")
    var syntheticTest: Int?

    @Option(help: "Model: \(ModelKind.allCases.map(\.rawValue).joined(separator: ", ")). Default cnn.")
    var model: ModelKind?
    @Option(help: "Shortcut of CIFAR ResNets when the shape changes: zero-pad (option A, default) or projection.")
    var shortcut: ShortcutKind?
    @Option(parsing: .unconditional, help: "Epochs to train, \(RunConfig.range("epochs")) (default 10).")
    var epochs: Int?
    @Option(parsing: .unconditional, help: "Per-worker batch size B, \(RunConfig.range("batch_size")) (default 32, the study's).")
    var batchSize: Int?
    @Option(parsing: .unconditional, help: "Base learning rate before linear scaling: η = K·B·lr/256, at most --max-lr, \(RunConfig.range("lr")) (default 0.1).")
    var lr: Float?
    @Flag(inversion: .prefixedNo, help: "Scale the learning rate linearly with K·B/256 (default on).")
    var scaleLr: Bool?
    @Option(help: "Learning-rate schedule after warm-up: step, cosine (half-cosine per epoch over the epochs left) or constant. Default cosine.")
    var lrSchedule: ScheduleKind?
    @Option(help: "Epochs after which the step schedule multiplies the rate by --decay-factor, increasing, after warm-up and below --epochs, at most 100 (default: 30,60,80 of 90 scaled to the epochs after warm-up).")
    var decayEpochs: IntList?
    @Option(parsing: .unconditional, help: "Factor of each step decay, \(RunConfig.range("decay_factor")) (default 0.1).")
    var decayFactor: Float?
    @Option(parsing: .unconditional, help: """
        Epochs of per-iteration linear warm-up from --lr to the scaled rate, 0 to --epochs, or auto (default): when the \
        rate climbs above --lr (K·B > 256), Goyal et al.'s 5 epochs, at most half of --epochs; else none.
        """)
    var warmupEpochs: WarmupSetting?
    @Option(parsing: .unconditional, help: """
        Most the linear scaling rule may raise the rate to: auto (default; the model's stable rate: 0.1 for \
        logreg, mlp and cnn; for the ResNets 0.1 without warm-up, no limit after one), none, or a rate. \
        A higher --lr is kept.
        """)
    var maxLr: RateLimitSetting?
    @Option(help: "Optimizer: sgd or lars (trust coefficient 0.02, clipping). Default sgd.")
    var optimizer: OptimizerKind?
    @Option(parsing: .unconditional, help: "Momentum, \(RunConfig.range("momentum")) (default 0.9).")
    var momentum: Float?
    @Flag(inversion: .prefixedNo, help: "Nesterov momentum (default on).")
    var nesterov: Bool?
    @Option(parsing: .unconditional, help: "L2 weight decay on all parameters, \(RunConfig.range("weight_decay")) (default 5e-4).")
    var weightDecay: Float?
    @Flag(inversion: .prefixedNo, help: "Momentum correction when the learning rate changes (default on).")
    var momentumCorrection: Bool?

    @Option(help: "Algorithm: \(AlgorithmKind.allCases.map(\.rawValue).joined(separator: ", ")). Default minibatch.")
    var algorithm: AlgorithmKind?
    @Option(parsing: .unconditional, help: "Number of workers K, \(RunConfig.range("workers")) (default 1).")
    var workers: Int?
    @Option(parsing: .unconditional, help: "Local steps H between weight averages, \(RunConfig.range("local_steps")) (default 1).")
    var localSteps: Int?
    @Option(parsing: .unconditional, help: "Post-local SGD: epoch at which to switch from minibatch to local SGD, 0 to --epochs.")
    var switchEpoch: Int?
    @Option(parsing: .unconditional, help: "Post-local SGD: iteration at which to switch (instead of --switch-epoch), \(RunConfig.range("switch_step")).")
    var switchStep: Int?
    @Option(help: "Hierarchical: workers per group G, each a divisor of K (comma list of at most 8 levels, innermost first).")
    var groupSize: IntList?
    @Option(help: "Hierarchical: average across all workers every H·H_b steps; H_b per level, \(RunConfig.range("global_every")) (comma list; H·H_b… at most 10^9).")
    var globalEvery: IntList?
    @Option(parsing: .unconditional, help: "SlowMo slow learning rate α, \(RunConfig.range("slowmo_lr")) (default 1).")
    var slowmoLr: Float?
    @Option(parsing: .unconditional, help: "SlowMo slow momentum β, \(RunConfig.range("slowmo_momentum")) (default 0.5).")
    var slowmoMomentum: Float?
    @Flag(help: "SlowMo with an outer Nesterov step (DiLoCo-style).")
    var slowmoNesterov = false
    @Option(help: "BatchNorm statistics at averaging: average (default), local, first.")
    var bnSync: BatchNormSync?
    @Option(help: "Base-optimizer momentum at averaging: local (default), reset, average.")
    var momentumSync: MomentumSync?
    @Option(help: "Backend: inprocess (default; simulates K workers exactly) or mpi (under mpirun).")
    var backend: BackendKind?
    @Option(help: """
        MPI: how sums across ranks are ordered. ordered: in worker order, exactly as the in-process backend, so \
        a run is bitwise the in-process run whatever the ranks, workers per rank and threads (slower; async's \
        concurrent mode stays timing-dependent). fast (default): MPI_Allreduce's own order, equal to rounding.
        """)
    var reduction: ReductionMode?
    @Option(help: "Network model for modelled wall-clock, e.g. 10gbit:50us or 1gbit:100us,nodes-of=8,intra=100gbit:2us (at most 256 characters).")
    var network: String?
    @Option(parsing: .unconditional, help: "Seconds to wait before every collective, to emulate network latency, \(RunConfig.range("inject_latency")) (default 0).")
    var injectLatency: Double?
    @Option(parsing: .unconditional, help: """
        MPI: abort the whole job (non-zero exit, a message naming the call) when a collective waits longer \
        than this many seconds (\(RunConfig.range("collective_timeout"))), e.g. on a rank that hangs rather than dies (default 0: wait forever).
        """)
    var collectiveTimeout: Double?
    @Option(parsing: .unconditional, help: "Async: nodes N, each one replica shared by its threads, \(RunConfig.range("nodes")) (default 1; under MPI one per rank).")
    var nodes: Int?
    @Option(parsing: .unconditional, help: "Async: worker threads P per node, updating its replica without locks, \(RunConfig.range("threads_per_node")) (default 1).")
    var threadsPerNode: Int?
    @Option(parsing: .unconditional, help: "Async: node steps H between snapshots for averaging, \(RunConfig.range("average_every")) (default: --local-steps).")
    var averageEvery: Int?
    @Option(parsing: .unconditional, help: "Async: start an averaging round every S seconds instead of every H steps, \(RunConfig.range("average_seconds")).")
    var averageSeconds: Double?
    @Flag(help: "Async: sequentialised, deterministic mode (threads step in a fixed round-robin order).")
    var asyncDeterministic = false
    @Option(parsing: .unconditional, help: "Async sequentialised mode: averaging completes after D more node steps, \(RunConfig.range("async_delay")) (default 0).")
    var asyncDelay: Int?
    @Option(parsing: .unconditional, help: "Threads, \(RunConfig.range("threads")) (default 2).")
    var threads: Int?
    @Option(parsing: .unconditional, help: "Random seed (default 1).")
    var seed: UInt64?
    @Option(parsing: .unconditional, help: "Batch size for evaluation, \(RunConfig.range("eval_batch_size")) (default 256).")
    var evalBatchSize: Int?
    @Option(name: .customLong("init"), help: "Start every worker from these weights (.safetensors, names as in final.safetensors).")
    var initWeights: String?
    @Option(help: "Write a checkpoint every \(CheckpointPeriod.help) into OUT/checkpoints/.")
    var checkpointEvery: String?

    /// The given flags as config fields (snake_case names, JSON-compatible values).
    func overrides() -> [String: Any] {
        var o: [String: Any] = [:]
        func put(_ key: String, _ value: Any?) { if let value { o[key] = value } }
        put("dataset", dataset?.rawValue); put("data_dir", dataDir)
        if noShuffle { o["shuffle"] = false }
        put("augment_crop", augmentCrop)
        if augmentFlip { o["augment_flip"] = true }
        put("synthetic_train", syntheticTrain); put("synthetic_test", syntheticTest)
        put("model", model?.rawValue); put("shortcut", shortcut?.rawValue)
        put("epochs", epochs); put("batch_size", batchSize); put("lr", lr.map { Double($0) }); put("scale_lr", scaleLr)
        put("lr_schedule", lrSchedule?.rawValue); put("decay_epochs", decayEpochs?.values)
        put("decay_factor", decayFactor.map { Double($0) }); put("warmup_epochs", warmupEpochs?.configValue)
        put("max_lr", maxLr?.configValue)
        put("optimizer", optimizer?.rawValue); put("momentum", momentum.map { Double($0) }); put("nesterov", nesterov)
        put("weight_decay", weightDecay.map { Double($0) }); put("momentum_correction", momentumCorrection)
        put("algorithm", algorithm?.rawValue); put("workers", workers); put("local_steps", localSteps)
        put("switch_epoch", switchEpoch); put("switch_step", switchStep)
        put("group_size", groupSize?.values); put("global_every", globalEvery?.values)
        put("slowmo_lr", slowmoLr.map { Double($0) }); put("slowmo_momentum", slowmoMomentum.map { Double($0) })
        if slowmoNesterov { o["slowmo_nesterov"] = true }
        put("bn_sync", bnSync?.rawValue); put("momentum_sync", momentumSync?.rawValue)
        put("backend", backend?.rawValue); put("reduction", reduction?.rawValue); put("network", network); put("inject_latency", injectLatency); put("collective_timeout", collectiveTimeout); put("threads", threads); put("seed", seed)
        put("eval_batch_size", evalBatchSize); put("init", initWeights); put("checkpoint_every", checkpointEvery)
        put("nodes", nodes); put("threads_per_node", threadsPerNode); put("average_every", averageEvery)
        put("average_seconds", averageSeconds)
        if asyncDeterministic { o["async_deterministic"] = true }
        put("async_delay", asyncDelay)
        return o
    }
}

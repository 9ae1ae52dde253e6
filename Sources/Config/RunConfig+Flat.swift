import Algorithms
import Comm
import Data
import NN
import Optim

// PHASE 1 COMPATIBILITY — REMOVED IN PHASE 2.
// The flat field names RunConfig had before it was split into sections, forwarding to the
// section that now holds each field, so that code outside Config and localsgd keeps compiling
// while it is migrated (`config.batchSize` → `config.schedule.batchSize`). Config and localsgd
// do not use them. Phase 2 migrates the remaining users, deletes this file and renames
// `modelSection`, `optimizerSection` and `algorithmSection` to `model`, `optimizer` and `algorithm`.
extension RunConfig {
    public var dataset: DatasetKind { get { data.dataset } set { data.dataset = newValue } }
    public var dataDir: String? { get { data.dataDir } set { data.dataDir = newValue } }
    public var shuffle: Bool { get { data.shuffle } set { data.shuffle = newValue } }
    public var augmentCrop: Int { get { data.augmentCrop } set { data.augmentCrop = newValue } }
    public var augmentFlip: Bool { get { data.augmentFlip } set { data.augmentFlip = newValue } }
    public var syntheticTrain: Int { get { data.syntheticTrain } set { data.syntheticTrain = newValue } }
    public var syntheticTest: Int { get { data.syntheticTest } set { data.syntheticTest = newValue } }
    public var model: ModelKind { get { modelSection.kind } set { modelSection.kind = newValue } }
    public var shortcut: ShortcutKind { get { modelSection.shortcut } set { modelSection.shortcut = newValue } }
    public var epochs: Int { get { schedule.epochs } set { schedule.epochs = newValue } }
    public var batchSize: Int { get { schedule.batchSize } set { schedule.batchSize = newValue } }
    public var lr: Float { get { schedule.lr } set { schedule.lr = newValue } }
    public var scaleLr: Bool { get { schedule.scaleLr } set { schedule.scaleLr = newValue } }
    public var lrSchedule: ScheduleKind { get { schedule.lrSchedule } set { schedule.lrSchedule = newValue } }
    public var decayEpochs: [Int]? { get { schedule.decayEpochs } set { schedule.decayEpochs = newValue } }
    public var decayFactor: Float { get { schedule.decayFactor } set { schedule.decayFactor = newValue } }
    public var warmupEpochs: WarmupSetting { get { schedule.warmupEpochs } set { schedule.warmupEpochs = newValue } }
    public var maxLr: RateLimitSetting { get { schedule.maxLr } set { schedule.maxLr = newValue } }
    public var optimizer: OptimizerKind { get { optimizerSection.kind } set { optimizerSection.kind = newValue } }
    public var momentum: Float { get { optimizerSection.momentum } set { optimizerSection.momentum = newValue } }
    public var nesterov: Bool { get { optimizerSection.nesterov } set { optimizerSection.nesterov = newValue } }
    public var weightDecay: Float { get { optimizerSection.weightDecay } set { optimizerSection.weightDecay = newValue } }
    public var momentumCorrection: Bool { get { optimizerSection.momentumCorrection } set { optimizerSection.momentumCorrection = newValue } }
    public var algorithm: AlgorithmKind { get { algorithmSection.kind } set { algorithmSection.kind = newValue } }
    public var workers: Int { get { algorithmSection.workers } set { algorithmSection.workers = newValue } }
    public var localSteps: Int { get { algorithmSection.localSteps } set { algorithmSection.localSteps = newValue } }
    public var switchEpoch: Int? { get { algorithmSection.switchEpoch } set { algorithmSection.switchEpoch = newValue } }
    public var switchStep: Int? { get { algorithmSection.switchStep } set { algorithmSection.switchStep = newValue } }
    public var groupSize: [Int] { get { algorithmSection.groupSize } set { algorithmSection.groupSize = newValue } }
    public var globalEvery: [Int] { get { algorithmSection.globalEvery } set { algorithmSection.globalEvery = newValue } }
    public var slowmoLr: Float { get { algorithmSection.slowmoLr } set { algorithmSection.slowmoLr = newValue } }
    public var slowmoMomentum: Float { get { algorithmSection.slowmoMomentum } set { algorithmSection.slowmoMomentum = newValue } }
    public var slowmoNesterov: Bool { get { algorithmSection.slowmoNesterov } set { algorithmSection.slowmoNesterov = newValue } }
    public var bnSync: BatchNormSync { get { algorithmSection.bnSync } set { algorithmSection.bnSync = newValue } }
    public var momentumSync: MomentumSync { get { algorithmSection.momentumSync } set { algorithmSection.momentumSync = newValue } }
    public var backend: BackendKind { get { execution.backend } set { execution.backend = newValue } }
    public var reduction: ReductionMode { get { execution.reduction } set { execution.reduction = newValue } }
    public var network: String? { get { execution.network } set { execution.network = newValue } }
    public var injectLatency: Double { get { execution.injectLatency } set { execution.injectLatency = newValue } }
    public var collectiveTimeout: Double { get { execution.collectiveTimeout } set { execution.collectiveTimeout = newValue } }
    public var nodes: Int { get { async.nodes } set { async.nodes = newValue } }
    public var threadsPerNode: Int { get { async.threadsPerNode } set { async.threadsPerNode = newValue } }
    public var averageEvery: Int? { get { async.averageEvery } set { async.averageEvery = newValue } }
    public var averageSeconds: Double? { get { async.averageSeconds } set { async.averageSeconds = newValue } }
    public var asyncDeterministic: Bool { get { async.asyncDeterministic } set { async.asyncDeterministic = newValue } }
    public var asyncDelay: Int { get { async.asyncDelay } set { async.asyncDelay = newValue } }
    public var threads: Int { get { execution.threads } set { execution.threads = newValue } }
    public var seed: UInt64 { get { execution.seed } set { execution.seed = newValue } }
    public var evalBatchSize: Int { get { execution.evalBatchSize } set { execution.evalBatchSize = newValue } }
    public var initWeights: String? { get { execution.initWeights } set { execution.initWeights = newValue } }
    public var checkpointEvery: String? { get { execution.checkpointEvery } set { execution.checkpointEvery = newValue } }
}

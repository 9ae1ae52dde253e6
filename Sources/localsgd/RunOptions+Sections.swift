import Algorithms
import ArgumentParser
import Comm
import Config
import Data
import NN
import Optim

// The run flags, one group per section of `RunConfig` (`localsgd train --help` shows each under
// its title). Each flag is optional: a flag given wins over `--config FILE`, which wins over the
// defaults. Names, ranges, defaults and help come from `RunConfig.fields`; a flag is the
// kebab-case of its field's name, and `apply` sets the field through the table's key path.

struct DataOptions: SectionOptions {
    @Option(help: help(\RunConfig.data.dataset)) var dataset: DatasetKind?
    @Option(help: help(\RunConfig.data.dataDir)) var dataDir: String?
    @Flag(help: help(\RunConfig.data.shuffle)) var noShuffle = false
    @Option(parsing: .unconditional, help: help(\RunConfig.data.augmentCrop)) var augmentCrop: Int?
    @Flag(help: help(\RunConfig.data.augmentFlip)) var augmentFlip = false
    @Option(parsing: .unconditional, help: help(\RunConfig.data.syntheticTrain)) var syntheticTrain: Int?
    @Option(parsing: .unconditional, help: help(\RunConfig.data.syntheticTest)) var syntheticTest: Int?
    @Option(parsing: .unconditional, help: help(\RunConfig.data.contextLength)) var contextLength: Int?

    func apply(to s: inout FlagSettings) {
        s.set(\.data.dataset, dataset)
        s.setOptional(\.data.dataDir, dataDir)
        s.set(\.data.shuffle, noShuffle ? false : nil)
        s.set(\.data.augmentCrop, augmentCrop)
        s.set(\.data.augmentFlip, augmentFlip ? true : nil)
        s.set(\.data.syntheticTrain, syntheticTrain)
        s.set(\.data.syntheticTest, syntheticTest)
        s.set(\.data.contextLength, contextLength)
    }
}

struct ModelOptions: SectionOptions {
    @Option(help: help(\RunConfig.model.kind)) var model: ModelKind?
    @Option(help: help(\RunConfig.model.shortcut)) var shortcut: ShortcutKind?

    func apply(to s: inout FlagSettings) {
        s.set(\.model.kind, model)
        s.set(\.model.shortcut, shortcut)
    }
}

struct ScheduleOptions: SectionOptions {
    @Option(parsing: .unconditional, help: help(\RunConfig.schedule.epochs)) var epochs: Int?
    @Option(parsing: .unconditional, help: help(\RunConfig.schedule.batchSize)) var batchSize: Int?
    @Option(parsing: .unconditional, help: help(\RunConfig.schedule.lr)) var lr: Double?
    @Flag(inversion: .prefixedNo, help: help(\RunConfig.schedule.scaleLr)) var scaleLr: Bool?
    @Option(help: help(\RunConfig.schedule.lrSchedule)) var lrSchedule: ScheduleKind?
    @Option(help: help(\RunConfig.schedule.decayEpochs)) var decayEpochs: IntList?
    @Option(parsing: .unconditional, help: help(\RunConfig.schedule.decayFactor)) var decayFactor: Double?
    @Option(parsing: .unconditional, help: help(\RunConfig.schedule.warmupEpochs)) var warmupEpochs: WarmupSetting?
    @Option(parsing: .unconditional, help: help(\RunConfig.schedule.maxLr)) var maxLr: RateLimitSetting?

    func apply(to s: inout FlagSettings) {
        s.set(\.schedule.epochs, epochs)
        s.set(\.schedule.batchSize, batchSize)
        s.set(\.schedule.lr, lr)
        s.set(\.schedule.scaleLr, scaleLr)
        s.set(\.schedule.lrSchedule, lrSchedule)
        s.setOptional(\.schedule.decayEpochs, decayEpochs?.values)
        s.set(\.schedule.decayFactor, decayFactor)
        s.set(\.schedule.warmupEpochs, warmupEpochs)
        s.set(\.schedule.maxLr, maxLr)
    }
}

struct OptimizerOptions: SectionOptions {
    @Option(help: help(\RunConfig.optimizer.kind)) var optimizer: OptimizerKind?
    @Option(parsing: .unconditional, help: help(\RunConfig.optimizer.momentum)) var momentum: Double?
    @Flag(inversion: .prefixedNo, help: help(\RunConfig.optimizer.nesterov)) var nesterov: Bool?
    @Option(parsing: .unconditional, help: help(\RunConfig.optimizer.weightDecay)) var weightDecay: Double?
    @Flag(inversion: .prefixedNo, help: help(\RunConfig.optimizer.momentumCorrection)) var momentumCorrection: Bool?
    @Option(parsing: .unconditional, help: help(\RunConfig.optimizer.beta1)) var adamBeta1: Double?
    @Option(parsing: .unconditional, help: help(\RunConfig.optimizer.beta2)) var adamBeta2: Double?
    @Option(parsing: .unconditional, help: help(\RunConfig.optimizer.epsilon)) var adamEpsilon: Double?
    @Option(parsing: .unconditional, help: help(\RunConfig.optimizer.gradClip)) var gradClip: Double?

    func apply(to s: inout FlagSettings) {
        s.set(\.optimizer.kind, optimizer)
        s.set(\.optimizer.momentum, momentum)
        s.set(\.optimizer.nesterov, nesterov)
        s.set(\.optimizer.weightDecay, weightDecay)
        s.set(\.optimizer.momentumCorrection, momentumCorrection)
        s.set(\.optimizer.beta1, adamBeta1)
        s.set(\.optimizer.beta2, adamBeta2)
        s.set(\.optimizer.epsilon, adamEpsilon)
        s.setOptional(\.optimizer.gradClip, gradClip)
    }
}

struct AlgorithmOptions: SectionOptions {
    @Option(help: help(\RunConfig.algorithm.kind)) var algorithm: AlgorithmKind?
    @Option(parsing: .unconditional, help: help(\RunConfig.algorithm.workers)) var workers: Int?
    @Option(parsing: .unconditional, help: help(\RunConfig.algorithm.localStepsSetting), transform: LocalStepsSetting.argument)
    var localSteps: LocalStepsSetting?
    @Option(parsing: .unconditional, help: help(\RunConfig.algorithm.qsrAlpha)) var qsrAlpha: Double?
    @Flag(help: help(\RunConfig.algorithm.dynamicLocalSteps)) var dynamicLocalSteps = false
    @Option(parsing: .unconditional, help: help(\RunConfig.algorithm.switchEpoch)) var switchEpoch: Int?
    @Option(parsing: .unconditional, help: help(\RunConfig.algorithm.switchStep)) var switchStep: Int?
    @Option(help: help(\RunConfig.algorithm.groupSize)) var groupSize: IntList?
    @Option(help: help(\RunConfig.algorithm.globalEvery)) var globalEvery: IntList?
    @Option(parsing: .unconditional, help: help(\RunConfig.algorithm.slowmoLr)) var slowmoLr: Double?
    @Option(parsing: .unconditional, help: help(\RunConfig.algorithm.slowmoMomentum)) var slowmoMomentum: Double?
    @Flag(help: help(\RunConfig.algorithm.slowmoNesterov)) var slowmoNesterov = false
    @Option(help: help(\RunConfig.algorithm.outerOptimizer)) var outerOptimizer: OuterOptimizerKind?
    @Option(parsing: .unconditional, help: help(\RunConfig.algorithm.outerLr)) var outerLr: Double?
    @Option(parsing: .unconditional, help: help(\RunConfig.algorithm.outerMomentum)) var outerMomentum: Double?
    @Option(help: help(\RunConfig.algorithm.outerLrSchedule)) var outerLrSchedule: OuterLRSchedule?
    @Option(parsing: .unconditional, help: help(\RunConfig.algorithm.streamingFragments)) var streamingFragments: Int?
    @Option(parsing: .unconditional, help: help(\RunConfig.algorithm.streamingOverlap)) var streamingOverlap: Int?
    @Option(parsing: .unconditional, help: help(\RunConfig.algorithm.streamingMix)) var streamingMix: Float?
    @Option(help: help(\RunConfig.algorithm.bnSync)) var bnSync: BatchNormSync?
    @Option(help: help(\RunConfig.algorithm.momentumSync)) var momentumSync: MomentumSync?
    @Option(help: help(\RunConfig.algorithm.compress)) var compress: PayloadCodecKind?
    @Option(parsing: .unconditional, help: help(\RunConfig.algorithm.compressRatio)) var compressRatio: Double?
    @Flag(help: help(\RunConfig.algorithm.errorFeedback)) var errorFeedback = false

    func apply(to s: inout FlagSettings) {
        s.set(\.algorithm.kind, algorithm)
        s.set(\.algorithm.workers, workers)
        s.set(\.algorithm.localStepsSetting, localSteps)
        s.setOptional(\.algorithm.qsrAlpha, qsrAlpha)
        s.set(\.algorithm.dynamicLocalSteps, dynamicLocalSteps ? true : nil)
        s.setOptional(\.algorithm.switchEpoch, switchEpoch)
        s.setOptional(\.algorithm.switchStep, switchStep)
        s.set(\.algorithm.groupSize, groupSize?.values)
        s.set(\.algorithm.globalEvery, globalEvery?.values)
        s.set(\.algorithm.slowmoLr, slowmoLr)
        s.set(\.algorithm.slowmoMomentum, slowmoMomentum)
        s.set(\.algorithm.slowmoNesterov, slowmoNesterov ? true : nil)
        s.set(\.algorithm.outerOptimizer, outerOptimizer)
        s.setOptional(\.algorithm.outerLr, outerLr)
        s.setOptional(\.algorithm.outerMomentum, outerMomentum)
        s.set(\.algorithm.outerLrSchedule, outerLrSchedule)
        s.set(\.algorithm.streamingFragments, streamingFragments)
        s.set(\.algorithm.streamingOverlap, streamingOverlap)
        s.setOptional(\.algorithm.streamingMix, streamingMix)
        s.set(\.algorithm.bnSync, bnSync)
        s.set(\.algorithm.momentumSync, momentumSync)
        s.set(\.algorithm.compress, compress)
        s.set(\.algorithm.compressRatio, compressRatio)
        s.set(\.algorithm.errorFeedback, errorFeedback ? true : nil)
    }
}

struct AsyncOptions: SectionOptions {
    @Option(parsing: .unconditional, help: help(\RunConfig.async.nodes)) var nodes: Int?
    @Option(parsing: .unconditional, help: help(\RunConfig.async.threadsPerNode)) var threadsPerNode: Int?
    @Option(parsing: .unconditional, help: help(\RunConfig.async.averageEvery)) var averageEvery: Int?
    @Option(parsing: .unconditional, help: help(\RunConfig.async.averageSeconds)) var averageSeconds: Double?
    @Flag(help: help(\RunConfig.async.asyncDeterministic)) var asyncDeterministic = false
    @Option(parsing: .unconditional, help: help(\RunConfig.async.asyncDelay)) var asyncDelay: Int?

    func apply(to s: inout FlagSettings) {
        s.set(\.async.nodes, nodes)
        s.set(\.async.threadsPerNode, threadsPerNode)
        s.setOptional(\.async.averageEvery, averageEvery)
        s.setOptional(\.async.averageSeconds, averageSeconds)
        s.set(\.async.asyncDeterministic, asyncDeterministic ? true : nil)
        s.set(\.async.asyncDelay, asyncDelay)
    }
}

struct ExecutionOptions: SectionOptions {
    @Option(help: help(\RunConfig.execution.backend)) var backend: BackendKind?
    @Option(help: help(\RunConfig.execution.reduction)) var reduction: ReductionMode?
    @Option(help: help(\RunConfig.execution.network)) var network: String?
    @Option(parsing: .unconditional, help: help(\RunConfig.execution.injectLatency)) var injectLatency: Double?
    @Option(parsing: .unconditional, help: help(\RunConfig.execution.collectiveTimeout)) var collectiveTimeout: Double?
    @Option(parsing: .unconditional, help: help(\RunConfig.execution.threads)) var threads: Int?
    @Option(help: help(\RunConfig.execution.convBackend)) var convBackend: ConvBackend?
    @Option(parsing: .unconditional, help: help(\RunConfig.execution.seed)) var seed: UInt64?
    @Option(parsing: .unconditional, help: help(\RunConfig.execution.evalBatchSize)) var evalBatchSize: Int?
    @Option(name: .customLong("init"), help: help(\RunConfig.execution.initWeights)) var initWeights: String?
    @Option(help: help(\RunConfig.execution.checkpointEvery)) var checkpointEvery: String?
    @Option(help: help(\RunConfig.execution.syncRecord)) var syncRecord: SyncRecordSetting?
    @Option(help: help(\RunConfig.execution.faults)) var faults: String?
    @Option(help: help(\RunConfig.execution.workerSpeeds)) var workerSpeeds: String?
    @Option(parsing: .unconditional, help: help(\RunConfig.execution.modelledCompute)) var modelledCompute: Double?

    func apply(to s: inout FlagSettings) {
        s.set(\.execution.backend, backend)
        s.set(\.execution.reduction, reduction)
        s.setOptional(\.execution.network, network)
        s.set(\.execution.injectLatency, injectLatency)
        s.set(\.execution.collectiveTimeout, collectiveTimeout)
        s.set(\.execution.threads, threads)
        s.set(\.execution.convBackend, convBackend)
        s.set(\.execution.seed, seed)
        s.set(\.execution.evalBatchSize, evalBatchSize)
        s.setOptional(\.execution.initWeights, initWeights)
        s.setOptional(\.execution.checkpointEvery, checkpointEvery)
        s.set(\.execution.syncRecord, syncRecord)
        s.setOptional(\.execution.faults, faults)
        s.setOptional(\.execution.workerSpeeds, workerSpeeds)
        s.setOptional(\.execution.modelledCompute, modelledCompute)
    }
}

/// All the run flags, by section.
struct RunOptions: ParsableArguments {
    @OptionGroup(title: "Data") var data: DataOptions
    @OptionGroup(title: "Model") var model: ModelOptions
    @OptionGroup(title: "Schedule") var schedule: ScheduleOptions
    @OptionGroup(title: "Optimizer") var optimizer: OptimizerOptions
    @OptionGroup(title: "Algorithm") var algorithm: AlgorithmOptions
    @OptionGroup(title: "Asynchronous local SGD") var async: AsyncOptions
    @OptionGroup(title: "Execution") var execution: ExecutionOptions

    /// `config` with the flags given laid over it, each checked against its range.
    func apply(to config: RunConfig) throws -> RunConfig {
        var settings = FlagSettings(over: config)
        let groups: [any SectionOptions] = [data, model, schedule, optimizer, algorithm, async, execution]
        for group in groups { group.apply(to: &settings) }
        return try settings.checked()
    }
}

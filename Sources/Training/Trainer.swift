import Algorithms
import Comm
import Config
import Data
import Foundation
import NN
import Optim
import Tensor

/// The worker loop (Algorithm 2 of the study with a pluggable synchronization strategy): every
/// iteration, each worker this process holds draws its batch from its shard, computes its
/// gradient, the strategy may reduce gradients, each worker steps, and the strategy may
/// average weights. After every epoch the averaged model is evaluated outside training (§3).
public final class Trainer: TrainingLoop {
    public let setup: RunSetup
    public let communicator: Communicator
    public let replicas: [Replica]
    public let optimizerStates: [OptimizerState]
    public let strategy: SyncStrategy
    /// `--compress`: the codec, residuals and anchors of the strategy's payloads; nil sends
    /// Floats. Its `lastRelativeError` is the codec error of the last reduction.
    public let compressor: PayloadCompressor?
    /// The record of synchronizations (`syncs.jsonl`); nil with `--sync-record off` or one worker.
    public let syncRecorder: SyncRecorder?
    public var onEvent: ((TrainingEvent) -> Void)?
    /// Seconds between progress events (and one at every epoch end); 0 reports every iteration.
    public var progressInterval = 2.0
    /// Called after every iteration (and its epoch's evaluation, at epoch ends).
    public var afterProgress: (() throws -> Void)?

    /// Iterations done so far (t of Algorithm 2).
    public internal(set) var globalStep = 0
    public internal(set) var history: [EpochMetrics] = []
    var epochState = EpochAccumulator()
    /// Each local worker's losses, correct answers and samples of the epoch so far.
    var workerSums: [WorkerEpochSums]
    var totalTime = TimeBreakdown()
    var evaluationBytes = 0
    /// Training bytes of the run before a resume.
    var restoredBytes = 0
    /// The most payload bytes per worker any one iteration sent so far.
    var peakStepBytes = 0
    /// Modelled wall-clock of a strategy whose collectives overlap compute (`overlapSteps` > 0).
    var timeline = ModelledTimeline()
    /// This process's wall-clock from the end of one training collective to the start of the
    /// next, one entry per collective of the current epoch (not checkpointed: after a resume
    /// the epoch's sync wait covers the part after it).
    var secondsBetweenSyncs: [Double] = []
    /// When the last collective (or the last all-process synchronisation) ended.
    var lastSyncEnd: Double?
    /// With `--faults`: who is away when; nil: every worker always present.
    let absences: FaultSchedule.Absences?
    /// `--worker-speeds`, one per worker (all 1 without it).
    let speeds: [Double]
    /// Per-worker modelled clocks, with `--worker-speeds` or `--faults` (nil: the lockstep model
    /// of `EpochAccumulator.modelledSeconds`).
    var clocks: WorkerClocks?
    /// `--dynamic-local-steps`: which workers compute at each iteration of a period; nil: every
    /// present worker at every iteration.
    let dynamicLocalSteps: DynamicLocalSteps?
    /// With DyLU, the period of the current iteration (empty before the first).
    var currentPeriod = 0..<0
    /// With DyLU, the steps each local worker has taken: its data position (`dataPosition`).
    var localStepsTaken: [Int]
    /// With DyLU, the present workers that compute at the current iteration, increasing.
    var computing: [Int] = []
    /// The workers present at the current iteration, increasing (all of them without faults).
    var members: [Int]
    /// The present workers' buffers and a communicator of just them, which the strategy sees:
    /// the full set and `communicator` while all are present.
    var activeWorkers: WorkerSet
    var activeCommunicator: Communicator
    /// The communicators of smaller memberships met so far, by their members.
    var subsetCommunicators: [[Int]: Communicator] = [:]

    let pool: ThreadPool
    let networks: [Network]
    let optimizer: Optimizer
    let workerSet: WorkerSet
    let laneImages: [Tensor]
    let laneLabels: [UnsafeMutableBufferPointer<Int32>]
    let stepResults: UnsafeMutableBufferPointer<WorkerStep>
    let evaluationReplica: Replica
    /// The shuffles and splits of the epochs the workers read from now: the run's epoch, and
    /// with DyLU the earlier ones its slower workers are still in.
    var dataPlans: [EpochPlan] = []

    public init(config: RunConfig, data: DataSplit, communicator: Communicator) throws {
        try config.validate()
        let communicator = try Trainer.wrap(communicator, config: config)
        guard communicator.workers == config.algorithm.workers else {
            throw TrainingError("the communicator has \(communicator.workers) workers but --workers is \(config.algorithm.workers)")
        }
        setup = try RunSetup(config: config, data: data, workers: config.algorithm.workers)
        self.communicator = communicator
        let stepsPerEpoch = setup.stepsPerEpoch
        let local = communicator.localWorkers.count
        let lanes = max(1, min(config.execution.threads, local))
        // OpenBLAS is always called on one thread: the threads go to the lanes stepping workers,
        // and a lane's network splits its layers over the threads left to it (all of them with one
        // worker). Layer threads beat OpenBLAS's own on these small GEMMs (`localsgd bench
        // --parallelism`), and results do not depend on them.
        BLAS.setThreads(1)
        pool = ThreadPool(threads: lanes)
        let threadsPerNetwork = max(1, config.execution.threads / lanes)
        networks = try (0..<lanes).map { [setup] _ in
            let network = try setup.makeNetwork()
            network.threads = threadsPerNetwork
            return network
        }
        let net = networks[0]
        replicas = (0..<local).map { _ in Replica(for: net) }
        optimizerStates = (0..<local).map { _ in OptimizerState(count: net.layout.count, kind: config.optimizer.kind) }
        evaluationReplica = Replica(for: net)
        optimizer = Optimizer(layout: net.layout, config: config.optimizerConfig)
        do {
            strategy = try config.algorithm.makeStrategy(workers: config.algorithm.workers, parameterCount: net.layout.count,
                                                         stepsPerEpoch: stepsPerEpoch,
                                                         totalSteps: config.schedule.epochs * stepsPerEpoch,
                                                         learningRate: { [schedule = setup.schedule] in schedule.learningRate(atStep: $0) },
                                                         warmupSteps: setup.schedule.warmupSteps,
                                                         layers: net.layout.layerRanges)
            strategy.prepare(localWorkers: local)
        } catch let e as StrategyError {
            throw TrainingError(e.description)
        }
        compressor = try Self.makeCompressor(config.algorithm, strategy: strategy, communicator: communicator,
                                             count: net.layout.count)
        if let s = config.algorithm.switchIteration(stepsPerEpoch: stepsPerEpoch), s > config.schedule.epochs * stepsPerEpoch {
            throw TrainingError("the switching point (iteration \(s)) is past the end of training (\(config.schedule.epochs * stepsPerEpoch) iterations)")
        }
        syncRecorder = config.execution.syncRecord == .on && config.algorithm.workers > 1
            ? SyncRecorder(workers: config.algorithm.workers, localWorkers: communicator.localWorkers, count: net.layout.count,
                           stepsPerEpoch: stepsPerEpoch, groupSizes: strategy.averagingGroupSizes,
                           mostRecords: (strategy as? StreamingDiLoCo)?.fragments.mostSynchronizations(inIterations: stepsPerEpoch + 1))
            : nil
        workerSet = WorkerSet(parameters: replicas.map(\.parameters.pointer), gradients: replicas.map(\.gradients.pointer),
                              state: replicas.map(\.state.pointer), momentum: optimizerStates.map(\.momentum.pointer),
                              parameterCount: net.layout.count, stateCount: net.stateLayout.count,
                              optimizerStates: optimizerStates)
        let workers = config.algorithm.workers
        absences = try config.faultSchedule?.resolve(workers: workers, stepsPerEpoch: stepsPerEpoch,
                                                     totalSteps: config.schedule.epochs * stepsPerEpoch)
        let given = try config.speeds
        speeds = given?.speeds ?? WorkerSpeeds(uniform: workers).speeds
        clocks = (absences != nil || given != nil) && config.execution.network != nil ? WorkerClocks(workers: workers) : nil
        dynamicLocalSteps = config.algorithm.dynamicLocalSteps
            ? DynamicLocalSteps(speeds: speeds, totalSteps: config.schedule.epochs * stepsPerEpoch, strategy: strategy) : nil
        localStepsTaken = [Int](repeating: 0, count: local)
        computing = Array(0..<local)  // room for all, so that no iteration allocates
        members = Array(0..<local)
        activeWorkers = workerSet
        activeCommunicator = communicator
        let batchShape = setup.batchShape
        laneImages = (0..<lanes).map { _ in Tensor(batchShape) }
        let labelCapacity = setup.labelCapacity
        laneLabels = (0..<lanes).map { _ in
            let b = UnsafeMutableBufferPointer<Int32>.allocate(capacity: labelCapacity)
            b.initialize(repeating: 0)
            return b
        }
        stepResults = .allocate(capacity: local)
        stepResults.initialize(repeating: WorkerStep())
        workerSums = Array(repeating: WorkerEpochSums(), count: local)
        reserveEpochSums()
        initializeWeights()
    }

    /// A compressor when `--compress` names a codec and there is more than one worker.
    private static func makeCompressor(_ a: AlgorithmConfig, strategy: SyncStrategy, communicator: Communicator,
                                       count: Int) throws -> PayloadCompressor? {
        guard a.compress != .none, communicator.workers > 1 else { return nil }
        do {
            return PayloadCompressor(codec: try PayloadCodec(kind: a.compress, ratio: a.compressRatio), errorFeedback: a.errorFeedback,
                                     count: count, workers: communicator.workers, localWorkers: communicator.localWorkers,
                                     streams: strategy.payloadStreams)
        } catch let e as CommError {
            throw TrainingError(e.description)
        }
    }

    deinit {
        for b in laneLabels { b.deallocate() }
        stepResults.deallocate()
    }

    public var network: Network { networks[0] }
    public var checkpointGranularity: Int { 1 }
    /// Every worker stepped every iteration.
    public var batchesTracked: Int { globalStep }
    public func extraFiles() throws -> [String: Foundation.Data] { [:] }

    /// Every worker starts from the same weights: initialised from the run seed (§3).
    private func initializeWeights() {
        network.initialize(replicas[0], seed: config.execution.seed)
        for r in replicas.dropFirst() { r.copyWeights(from: replicas[0]) }
    }

    /// Overwrites every worker's weights and BatchNorm statistics with `source`'s.
    public func setInitialWeights(from source: Replica) {
        for r in replicas { r.copyWeights(from: source) }
    }

    /// Trains to the end (or from a restored position to the end) and returns the summary.
    public func run() throws -> RunSummary {
        onEvent?(setup.startedEvent(parameters: network.layout.count))
        if communicator.processCount > 1 {
            // Ranks finish loading at different times; that is start-up, not communication.
            try communicator.barrier()
            lastSyncEnd = now()
        }
        // A resumed run's checkpoint was written after any join at its step: nobody joins here.
        try updateMembership(joining: false)
        var lastReport = now()
        while globalStep < totalSteps {
            let epoch = globalStep / stepsPerEpoch, m = globalStep % stepsPerEpoch
            updateComputing()
            try prepareDataPlans()
            if m == 0 && epochState.steps == 0 { epochState.start = now() }
            try iterate(epoch: epoch, step: m)
            globalStep += 1
            if now() - lastReport >= progressInterval || globalStep % stepsPerEpoch == 0 {
                lastReport = now()
                onEvent?(.progress(progress()))
            }
            if globalStep % stepsPerEpoch == 0 { try finishEpoch(epoch) }
            if globalStep < totalSteps { try updateMembership(joining: true) }
            try afterProgress?()
        }
        return summary()
    }

    /// Room for an epoch of losses per worker, so that no iteration allocates.
    func reserveEpochSums() {
        for k in workerSums.indices { workerSums[k].losses.reserveCapacity(stepsPerEpoch) }
    }

    /// This process's workers' progress (the epoch's metrics cover all K: `finishEpoch`).
    private func progress() -> TrainingProgress {
        let e = epochState
        let elapsed = max(1e-9, e.time.training)
        let rate = Double(workerSums.reduce(0) { $0 + $1.samples }) / elapsed
        return setup.progress(epoch: (globalStep - 1) / stepsPerEpoch, done: globalStep,
                              inEpoch: (globalStep - 1) % stepsPerEpoch + 1,
                              loss: WorkerEpochSums.lossSum(workerSums) / Double(max(1, e.workerSteps(replicas.count))),
                              samplesPerSecond: rate, secondsPerStep: elapsed / Double(max(1, e.steps)))
    }
}

/// What one worker measured in one iteration.
package struct WorkerStep {
    package var loss: Float = 0
    package var correct = 0
    package var data: Double = 0
    package var forward: Double = 0
    package var backward: Double = 0
    /// Only the asynchronous workers time their own optimizer step.
    package var optimizer: Double = 0

    package init(loss: Float = 0, correct: Int = 0, data: Double = 0, forward: Double = 0, backward: Double = 0,
                 optimizer: Double = 0) {
        self.loss = loss
        self.correct = correct
        self.data = data
        self.forward = forward
        self.backward = backward
        self.optimizer = optimizer
    }
}

/// Sums over the iterations of the current epoch that are the same for every worker or belong
/// to the process (its measured times); each worker's own are `WorkerEpochSums`.
package struct EpochAccumulator: Codable, Equatable {
    package init() {}
    var steps = 0
    var time = TimeBreakdown()
    var syncsAtStart = 0
    var bytesAtStart = 0
    var start: Double = 0
    /// Seconds the epoch's training would take with one worker per machine on the `--network`
    /// model: per iteration the slowest worker's compute and its optimizer step, plus the
    /// modelled collectives (and, over MPI, the wait for the slowest process at each one;
    /// `WorkerClocks` with speeds or faults).
    var modelledSeconds: Double = 0
    /// The modelled collectives of the epoch's training (nil without `--network`).
    var modelledCommunication: Double?
    /// Worker-iterations of absent (`--faults`) or idle (`--dynamic-local-steps`) workers; nil
    /// when every worker computed at every iteration.
    var absentWorkerSteps: Int?

    /// Worker-iterations that computed a loss, with `workers` per iteration when all are present.
    func workerSteps(_ workers: Int) -> Int { steps * workers - (absentWorkerSteps ?? 0) }
}

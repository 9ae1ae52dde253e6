import Algorithms
import Comm
import Config
import Data
import Foundation
import NN
import Optim
import Tensor

/// Asynchronous local SGD (paper 002, "Local SGD Meets Asynchrony"): N nodes, each one replica
/// (parameters and BatchNorm statistics) updated without locks by P worker threads with small
/// minibatches of their own (technique (a)), and a background loop per process that averages the
/// nodes with non-blocking all-reduces and applies the result in place, keeping the updates
/// made meanwhile (technique (b), `AsyncAveraging`, `AsyncAveragingLoop`).
///
/// Recipe as the other algorithms, with K = N·P: data split over the N·P threads as Algorithm 2,
/// learning rate scaled with N·P·B/256, each thread's schedule indexed by its own iteration; the
/// average of the N nodes is evaluated after every epoch, with the workers stopped (§3).
///
/// Two modes:
/// - concurrent (default): N·P real threads (Foundation `Thread`), plus the averaging loop;
///   nothing spins, every wait sleeps on a lock or semaphore.
/// - sequentialised (`asyncDeterministic`, in-process only): the same steps on the calling
///   thread in a fixed round-robin order (node 0 thread 0, node 0 thread 1, …, node 1 thread 0,
///   …), with a round completing once every node has made `asyncDelay` steps since its
///   snapshot, so the maths is reproducible bit for bit (`AsyncTrainer+Sequential.swift`).
public final class AsyncTrainer {
    public let config: RunConfig
    public let data: DataSplit
    /// One worker per node: the N nodes in-process, or this rank's node under MPI.
    public let communicator: Communicator
    /// Evaluation and metrics across processes (MPI only); kept apart from `communicator` so its
    /// blocking collectives never interleave with the averaging loop's.
    let evaluationCommunicator: Communicator?
    public let spec: ModelSpec
    public let stepsPerEpoch: Int
    public let schedule: LearningRateSchedule
    /// This process's nodes: the replicas the worker threads share.
    public let nodes: [Replica]
    let workers: [AsyncWorker]
    let averaging: AsyncAveraging?
    let board: AsyncBoard
    let context: AsyncRunContext
    let evaluationPool: ThreadPool
    let evaluationReplica: Replica
    public var onEvent: ((TrainingEvent) -> Void)?
    /// Called after every epoch's evaluation.
    public var afterEpoch: ((AsyncTrainer) throws -> Void)?

    public internal(set) var history: [EpochMetrics] = []
    var totalTime = TimeBreakdown()
    /// Rounds and training bytes when the current epoch started.
    var epochStart: (syncs: Int, bytes: Int) = (0, 0)
    /// Iterations done by every thread so far.
    public internal(set) var iterations = 0

    public init(config: RunConfig, data: DataSplit, communicator: Communicator,
                evaluationCommunicator: Communicator? = nil) throws {
        try config.validate()
        guard config.algorithm == .async else { throw TrainingError("AsyncTrainer runs --algorithm async only") }
        guard communicator.workers == config.nodes else {
            throw TrainingError("the communicator has \(communicator.workers) workers but --nodes is \(config.nodes); async uses one per node")
        }
        if communicator.processCount > 1 && evaluationCommunicator == nil {
            throw TrainingError("async across processes needs a second communicator for evaluation")
        }
        try data.requireSamples()
        self.config = config
        self.data = data
        // An injected latency delays each round's start on the averaging loop's thread, not the workers.
        self.communicator = config.injectLatency > 0 ? DelayedCommunicator(communicator, latency: config.injectLatency) : communicator
        self.evaluationCommunicator = evaluationCommunicator
        spec = ModelSpec(kind: config.model, shortcut: config.shortcut, channels: data.train.channels,
                         height: data.train.height, width: data.train.width, classes: data.train.classes)
        let k = config.asyncWorkers, p = config.threadsPerNode
        stepsPerEpoch = try EpochPlan(sampleCount: data.train.count, workers: k, batchSize: config.batchSize,
                                      epoch: 0, seed: config.seed, shuffle: config.shuffle).stepsPerEpoch
        schedule = LearningRateSchedule(config: config.scheduleConfig, workers: k, batchSize: config.batchSize,
                                        stepsPerEpoch: stepsPerEpoch)
        let localNodes = communicator.localWorkers
        let labelCapacity = max(config.batchSize, config.evalBatchSize)
        let modelSpec = spec
        workers = try localNodes.flatMap { node in
            try (0..<p).map { t in
                try AsyncWorker(index: node * p + t, node: node - localNodes.lowerBound, spec: modelSpec,
                                batchSize: config.batchSize, labelCapacity: labelCapacity)
            }
        }
        // OpenBLAS on one thread; a lone worker's network splits its layers over the threads.
        BLAS.setThreads(1)
        if workers.count == 1 { workers[0].network.threads = config.threads }
        let network = workers[0].network
        nodes = localNodes.map { _ in Replica(for: network) }
        evaluationReplica = Replica(for: network)
        evaluationPool = ThreadPool(threads: max(1, min(config.threads, workers.count)))
        context = AsyncRunContext(
            train: data.train, seed: config.seed,
            augmentation: Augmentation(cropPadding: config.augmentCrop, horizontalFlip: config.augmentFlip),
            schedule: schedule, optimizer: Optimizer(layout: network.layout, config: config.optimizerConfig),
            stepsPerEpoch: stepsPerEpoch)
        averaging = config.nodes == 1 ? nil : Self.averaging(of: nodes, statistics: config.bnSync == .average)
        board = Self.board(config, localNodes: nodes.count)
        network.initialize(nodes[0], seed: config.seed)
        for r in nodes.dropFirst() { r.copyWeights(from: nodes[0]) }
    }

    /// The in-place averaging of this process's nodes: parameters, and BatchNorm statistics
    /// unless each node keeps its own (`--bn-sync local`).
    private static func averaging(of nodes: [Replica], statistics: Bool) -> AsyncAveraging {
        AsyncAveraging(nodes: nodes.map { r in
            var segments = [AsyncAveraging.Segment(r.parameters.pointer, count: r.parameters.count)]
            if statistics && r.state.count > 0 { segments.append(.init(r.state.pointer, count: r.state.count)) }
            return segments
        })
    }

    private static func board(_ config: RunConfig, localNodes: Int) -> AsyncBoard {
        let bySteps = config.averageSeconds == nil
        let board = AsyncBoard(nodes: localNodes, firstSnapshot: bySteps ? config.resolvedAverageEvery : Int.max)
        board.stats.nodes = config.nodes
        board.stats.threadsPerNode = config.threadsPerNode
        board.stats.averageEvery = bySteps ? config.resolvedAverageEvery : nil
        board.stats.averageSeconds = config.averageSeconds
        board.stats.deterministic = config.asyncDeterministic
        board.stats.localNodes = localNodes
        return board
    }

    public var network: Network { workers[0].network }
    public var totalSteps: Int { config.epochs * stepsPerEpoch }
    /// Counters of the averaging loop (rounds, overlap, staleness, waiting).
    public var stats: AsyncStats { board.locked { board.stats } }
    /// Averaging rounds applied so far.
    public var syncs: Int { stats.rounds }

    /// Overwrites every node's weights and BatchNorm statistics with `source`'s.
    public func setInitialWeights(from source: Replica) {
        for r in nodes { r.copyWeights(from: source) }
    }

    /// Trains to the end and returns the summary.
    public func run() throws -> RunSummary {
        onEvent?(.started(parameters: network.layout.count, stepsPerEpoch: stepsPerEpoch,
                          peakLearningRate: schedule.peakLearningRate))
        if config.asyncDeterministic {
            try runSequential()
        } else {
            try runConcurrent()
        }
        return summary()
    }

    func plan(epoch: Int) throws -> EpochPlan {
        try EpochPlan(sampleCount: data.train.count, workers: config.asyncWorkers, batchSize: config.batchSize,
                      epoch: epoch, seed: config.seed, shuffle: config.shuffle)
    }

    func lossError(_ step: WorkerStep, worker: AsyncWorker, iteration: Int) -> String? {
        guard !step.loss.isFinite else { return nil }
        return "the training loss of worker \(worker.index) became \(step.loss) at epoch \(iteration / stepsPerEpoch + 1), step \(iteration % stepsPerEpoch + 1); lower --lr or check the data"
    }

    func progress(_ sums: AsyncEpochSums, elapsed: Double, epoch: Int) -> TrainingProgress {
        let perThread = sums.steps / max(1, workers.count)
        let done = epoch * stepsPerEpoch + perThread
        let secondsPerStep = elapsed / Double(max(1, perThread))
        return TrainingProgress(
            epoch: epoch + 1, epochs: config.epochs, step: max(1, perThread), stepsPerEpoch: stepsPerEpoch,
            loss: sums.lossSum / Double(max(1, sums.steps)), samplesPerSecond: Double(sums.samples) / max(1e-9, elapsed),
            etaSeconds: secondsPerStep * Double(totalSteps - done),
            learningRate: schedule.learningRate(atStep: max(0, done - 1)))
    }
}

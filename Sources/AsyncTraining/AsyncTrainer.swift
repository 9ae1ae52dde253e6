import Algorithms
import Comm
import Config
import Data
import Foundation
import NN
import Optim
import RunFiles
import Tensor
import Training

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
public final class AsyncTrainer: TrainingLoop {
    public let setup: RunSetup
    /// One worker per node: the N nodes in-process, or this rank's node under MPI.
    public let communicator: Communicator
    /// Evaluation and metrics across processes (MPI only); kept apart from `communicator` so its
    /// blocking collectives never interleave with the averaging loop's.
    let evaluationCommunicator: Communicator?
    /// This process's nodes: the replicas the worker threads share.
    public let nodes: [Replica]
    let workers: [AsyncWorker]
    let averaging: AsyncAveraging?
    let board: AsyncBoard
    /// The rounds of the sequentialised mode (nil in the concurrent mode or with one node).
    var sequential: SequentialAveraging?
    let context: AsyncRunContext
    let evaluationPool: ThreadPool
    let evaluationReplica: Replica
    public var onEvent: ((TrainingEvent) -> Void)?
    /// Seconds between progress events of the sequentialised mode (the concurrent one reports every 2 s).
    public var progressInterval = 2.0
    /// Called after every epoch's evaluation.
    public var afterProgress: (() throws -> Void)?

    public internal(set) var history: [EpochMetrics] = []
    var totalTime = TimeBreakdown()
    /// Rounds and training bytes when the current epoch started.
    var epochStart: (syncs: Int, bytes: Int) = (0, 0)
    /// Iterations done by every thread so far.
    public internal(set) var globalStep = 0
    /// Training bytes of the run before a resume.
    var restoredBytes = 0
    /// This process's threads' computing seconds and steps so far (for `--network`).
    var measuredCompute: (seconds: Double, steps: Int) = (0, 0)
    /// `--worker-speeds`, one per worker thread (global index; all 1 without it).
    let speeds: [Double]

    public init(config: RunConfig, data: DataSplit, communicator: Communicator,
                evaluationCommunicator: Communicator? = nil) throws {
        try config.validate()
        guard config.algorithm.kind == .async else { throw TrainingError("AsyncTrainer runs --algorithm async only") }
        guard communicator.workers == config.async.nodes else {
            throw TrainingError("the communicator has \(communicator.workers) workers but --nodes is \(config.async.nodes); async uses one per node")
        }
        if communicator.processCount > 1 && evaluationCommunicator == nil {
            throw TrainingError("async across processes needs a second communicator for evaluation")
        }
        setup = try RunSetup(config: config, data: data, workers: config.asyncWorkers)
        speeds = try config.speeds?.speeds ?? WorkerSpeeds(uniform: config.asyncWorkers).speeds
        // An injected latency delays each round's start on the averaging loop's thread, not the workers.
        var comm = config.execution.injectLatency > 0 ? DelayedCommunicator(communicator, latency: config.execution.injectLatency) : communicator
        if let text = config.execution.network {
            do {
                comm = ModelledCommunicator(comm, network: try NetworkModel(parsing: text))
            } catch let e as CommError {
                throw TrainingError("--network: \(e.description)")
            }
        }
        self.communicator = comm
        self.evaluationCommunicator = evaluationCommunicator
        let p = config.async.threadsPerNode
        let localNodes = communicator.localWorkers
        workers = try localNodes.flatMap { [setup] node in
            try (0..<p).map { t in
                try AsyncWorker(index: node * p + t, node: node - localNodes.lowerBound, setup: setup)
            }
        }
        // OpenBLAS on one thread; a lone worker's network splits its layers over the threads.
        BLAS.setThreads(1)
        if workers.count == 1 { workers[0].network.threads = config.execution.threads }
        let network = workers[0].network
        nodes = localNodes.map { _ in Replica(for: network) }
        evaluationReplica = Replica(for: network)
        evaluationPool = ThreadPool(threads: max(1, min(config.execution.threads, workers.count)))
        context = AsyncRunContext(setup: setup, optimizer: Optimizer(layout: network.layout, config: config.optimizerConfig),
                                  resetMomentum: config.algorithm.momentumSync == .reset)
        averaging = config.async.nodes == 1 ? nil : Self.averaging(of: nodes, statistics: config.algorithm.bnSync)
        board = Self.board(config, localNodes: nodes.count)
        if config.async.asyncDeterministic, let averaging {
            sequential = SequentialAveraging(averaging: averaging, averageEvery: config.resolvedAverageEvery,
                                             delay: config.async.asyncDelay)
            if config.algorithm.momentumSync == .average {
                let p = config.async.threadsPerNode, workers = workers
                // Adam's second moments are averaged as its first; each thread keeps its t.
                sequential?.momentumGroups = (0..<p).map { t in
                    (0..<nodes.count).map { n in workers[n * p + t].optimizerState.momentum.pointer }
                } + (0..<p).compactMap { t in
                    let v = (0..<nodes.count).compactMap { n in workers[n * p + t].optimizerState.secondMoment?.pointer }
                    return v.isEmpty ? nil : v
                }
                sequential?.momentumCount = network.layout.count
            }
        }
        network.initialize(nodes[0], seed: config.execution.seed)
        for r in nodes.dropFirst() { r.copyWeights(from: nodes[0]) }
    }

    /// The in-place averaging of this process's nodes: parameters, and BatchNorm statistics
    /// averaged (`--bn-sync average`), taken from node 0 (`first`) or kept per node (`local`).
    private static func averaging(of nodes: [Replica], statistics: BatchNormSync) -> AsyncAveraging {
        let withStatistics = statistics != .local && nodes[0].state.count > 0
        return AsyncAveraging(nodes: nodes.map { r in
            var segments = [AsyncAveraging.Segment(r.parameters.pointer, count: r.parameters.count)]
            if withStatistics { segments.append(.init(r.state.pointer, count: r.state.count)) }
            return segments
        }, broadcastCount: withStatistics && statistics == .first ? nodes[0].state.count : 0)
    }

    private static func board(_ config: RunConfig, localNodes: Int) -> AsyncBoard {
        let bySteps = config.async.averageSeconds == nil
        let board = AsyncBoard(nodes: localNodes, firstSnapshot: bySteps ? config.resolvedAverageEvery : Int.max)
        board.stats.nodes = config.async.nodes
        board.stats.threadsPerNode = config.async.threadsPerNode
        board.stats.averageEvery = bySteps ? config.resolvedAverageEvery : nil
        board.stats.averageSeconds = config.async.averageSeconds
        board.stats.deterministic = config.async.asyncDeterministic
        board.stats.localNodes = localNodes
        return board
    }

    public var network: Network { workers[0].network }
    /// Checkpoints at epoch ends, where every thread has stopped.
    public var checkpointGranularity: Int { stepsPerEpoch }
    /// Every thread of a node applied its updates to the node's replica.
    public var batchesTracked: Int { globalStep * config.async.threadsPerNode }
    /// Asynchronous rounds are not recorded: they overlap the workers' steps, so there is no
    /// moment at which every node's weights before the round and the mean after it both exist.
    public var syncRecorder: SyncRecorder? { nil }
    /// Payload bytes of the averaging rounds so far (per node).
    var trainingBytes: Int { restoredBytes + communicator.counters.bytes }

    /// `async.json`: the averaging loop's counters (`AsyncStats`).
    public func extraFiles() throws -> [String: Foundation.Data] {
        ["async.json": try RunDirectory.encoder().encode(stats)]
    }
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
        onEvent?(setup.startedEvent(parameters: network.layout.count))
        if config.async.asyncDeterministic {
            try runSequential()
        } else {
            try runConcurrent()
        }
        recordModelledRound()
        return summary()
    }

    func lossError(_ step: WorkerStep, worker: AsyncWorker, iteration: Int) -> String? {
        guard !step.loss.isFinite else { return nil }
        return "the training loss of worker \(worker.index) became \(step.loss) at epoch \(iteration / stepsPerEpoch + 1), step \(iteration % stepsPerEpoch + 1); lower --lr or check the data"
    }

    func progress(_ sums: AsyncEpochSums, elapsed: Double, epoch: Int) -> TrainingProgress {
        let perThread = sums.steps / max(1, workers.count)
        return setup.progress(epoch: epoch, done: epoch * stepsPerEpoch + perThread, inEpoch: perThread,
                              loss: sums.lossSum / Double(max(1, sums.steps)),
                              samplesPerSecond: Double(sums.samples) / max(1e-9, elapsed),
                              secondsPerStep: elapsed / Double(max(1, perThread)))
    }
}

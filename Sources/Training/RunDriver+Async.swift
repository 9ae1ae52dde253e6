import Comm
import Foundation
import NN
#if canImport(CommMPI)
import CommMPI
#endif

extension RunDriver {
    /// `RunDriver.run` for `--algorithm async`: the same files (config.json, metrics.jsonl,
    /// summary.json, final.safetensors) plus `async.json` (`AsyncStats`).
    static func runAsync(_ config: RunConfig, out: String?, resume: Bool, communicator: Communicator?,
                         events: ((TrainingEvent) -> Void)?) throws -> RunSummary {
        guard !resume else { throw TrainingError("--resume is not supported by async yet (it writes no checkpoints)") }
        let (comm, evaluation) = try communicator.map { ($0, nil) } ?? makeAsyncCommunicators(config)
        // MPI_Finalize (through the averaging communicator) also releases the evaluation one.
        defer { if communicator == nil { finish(comm) } }
        let writes = comm.processRank == 0
        let directory = try out.flatMap { writes ? try RunDirectory(path: $0) : nil }
        directory?.removeTemporaryFiles()
        let data = try loadData(config)
        let trainer = try AsyncTrainer(config: config, data: data, communicator: comm, evaluationCommunicator: evaluation)
        trainer.onEvent = writes ? events : nil
        if let path = config.initWeights {
            let source = Replica(for: trainer.network)
            try ModelFile.load(path, into: source, network: trainer.network)
            trainer.setInitialWeights(from: source)
        }
        if let directory {
            try directory.writeConfig(config, derived: DerivedConfig(
                normalization: data.normalization, stepsPerEpoch: trainer.stepsPerEpoch,
                peakLearningRate: trainer.schedule.peakLearningRate, warmupEpochs: config.resolvedWarmupEpochs,
                decayEpochs: config.resolvedDecayEpochs,
                parameters: trainer.network.layout.count, trainSamples: data.train.count, testSamples: data.test.count))
            trainer.afterEpoch = { t in try directory.writeMetrics(t.history) }
        }
        let summary = try trainer.run()
        let final = try trainer.averagedModel()  // a collective across processes: every one takes part
        if let finding = FiniteCheck.check(final, network: trainer.network, owner: "the averaged model's ") {
            throw divergenceError(finding, place: "by the end of epoch \(trainer.history.count)", file: "final.safetensors")
        }
        if let directory {
            try directory.writeMetrics(trainer.history)
            try ModelFile.write(final, network: trainer.network, batchesTracked: trainer.iterations * config.threadsPerNode,
                                to: directory.file("final.safetensors"),
                                metadata: ["model": config.model.rawValue, "format": "pt"])
            try directory.writeSummary(summary)
            try AtomicFile.write(RunDirectory.encoder().encode(trainer.stats), to: directory.file("async.json"))
        }
        if writes { events?(.finished(summary, directory: directory?.path)) }
        return summary
    }

    /// The averaging communicator (one worker per node) and, across processes, a second one for
    /// evaluation, so that its blocking collectives never interleave with the averaging loop's.
    static func makeAsyncCommunicators(_ config: RunConfig) throws -> (Communicator, Communicator?) {
        switch config.backend {
        case .inprocess:
            return (InProcessCommunicator(workers: config.nodes, threads: config.threads), nil)
        case .mpi:
            #if canImport(CommMPI)
            let ranks = MPICommunicator.launchedRanks ?? 1
            guard ranks == config.nodes else {
                throw TrainingError("--nodes is \(config.nodes) but mpirun started \(ranks) ranks; async runs one node per rank")
            }
            let averaging = try MPICommunicator(workersPerRank: 1, reduction: config.reduction)
            guard averaging.progress == .helperThread else {
                throw TrainingError("async over MPI needs MPI_THREAD_MULTIPLE (the averaging loop and evaluation call MPI from two threads), but this MPI granted level \(averaging.threadSupport)")
            }
            return (averaging, try MPICommunicator(workersPerRank: 1, reduction: config.reduction))
            #else
            throw TrainingError("this build has no MPI support: install Open MPI (apt-get install libopenmpi-dev openmpi-bin) and rebuild, or use --backend inprocess")
            #endif
        }
    }
}

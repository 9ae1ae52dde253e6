import Comm
import Config
import Foundation
import NN
import RunFiles

extension RunDriver {
    /// `RunDriver.run` for `--algorithm async`: the same files (config.json, metrics.jsonl,
    /// summary.json, final.safetensors) plus `async.json` (`AsyncStats`).
    static func runAsync(_ config: RunConfig, out: String?, resume: Bool, backend: Backend,
                         communicator: Communicator?, events: ((TrainingEvent) -> Void)?) throws -> RunSummary {
        guard !resume else { throw TrainingError("--resume is not supported by async yet (it writes no checkpoints)") }
        let (comm, evaluation) = try communicator.map { ($0, nil) } ?? backend.makeAsyncCommunicators(config)
        // MPI_Finalize (through the averaging communicator) also releases the evaluation one.
        defer { if communicator == nil { backend.finish(comm) } }
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
}

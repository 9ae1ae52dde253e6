import Algorithms
import AsyncTraining
import Comm
import Config
import Data
import Foundation
import NN
import RunFiles
import Tensor
import Training

/// Runs one training end to end: data, communicator, trainer, result files. Used by
/// `localsgd train` and by sweeps, so both produce the same run directories.
public enum RunDriver {
    /// Loads the dataset a config names.
    public static func loadData(_ config: RunConfig) throws -> DataSplit {
        var synthetic = SyntheticConfig()
        synthetic.trainCount = config.data.syntheticTrain
        synthetic.testCount = config.data.syntheticTest
        synthetic.seed = config.execution.seed
        return try loadDataset(config.data.dataset, directory: config.data.dataDir, synthetic: synthetic,
                               contextLength: config.data.contextLength)
    }

    /// The backend `config.backend` names when the caller gives none: only the in-process one
    /// lives here (the executable brings MPI's).
    static func defaultBackend(_ config: RunConfig) throws -> Backend {
        guard config.execution.backend == .inprocess else {
            throw TrainingError("--backend \(config.execution.backend.rawValue) is started by the localsgd executable under mpirun, not from here")
        }
        return InProcessBackend()
    }

    /// The trainer of the config's execution mode: lockstep, or asynchronous for `--algorithm async`.
    static func makeTrainer(_ config: RunConfig, data: DataSplit, communicators: (Communicator, Communicator?)) throws -> TrainingLoop {
        if config.algorithm.kind == .async {
            return try AsyncTrainer(config: config, data: data, communicator: communicators.0,
                                    evaluationCommunicator: communicators.1)
        }
        return try Trainer(config: config, data: data, communicator: communicators.0)
    }

    /// Trains `config`, writing into `out` (a new directory, or with `resume` the run there),
    /// and returns the summary. `backend` makes the communicators (default: in-process, the only
    /// one `config.backend` may name without it); `events` receives progress as it happens, every
    /// `progressInterval` seconds (0: after every iteration).
    /// The files: config.json, metrics.jsonl, syncs.jsonl (lockstep runs), summary.json, final.safetensors, checkpoints/,
    /// vocabulary.json for a text dataset, and what the execution mode adds (async.json).
    public static func run(_ config: RunConfig, out: String?, resume: Bool = false,
                           backend: Backend? = nil, communicator: Communicator? = nil,
                           events: ((TrainingEvent) -> Void)? = nil, progressInterval: Double = 2) throws -> RunSummary {
        try config.validate()
        let backend = try backend ?? defaultBackend(config)
        let async = config.algorithm.kind == .async
        let communicators = try communicator.map { ($0, nil) }
            ?? (async ? backend.makeAsyncCommunicators(config) : (backend.makeCommunicator(config), nil))
        let comm = communicators.0
        // MPI_Finalize (through the training communicator) also releases an evaluation one.
        defer { if communicator == nil { backend.finish(comm) } }
        var config = config
        if config.algorithm.kind == .hierarchical && config.algorithm.groupSize.isEmpty {
            // Over MPI the default group is a node: the workers of the ranks sharing its memory.
            config.algorithm.groupSize = [backend.nodeGroupSize(comm)]
        }
        let writes = comm.processRank == 0
        let directory = try out.map { path -> RunDirectory? in
            writes || resume ? try RunDirectory(path: path, resuming: resume) : nil
        } ?? nil
        if writes { directory?.removeTemporaryFiles() }
        if let out { CheckpointFiles.removeTemporaryFiles(in: out + "/checkpoints", rank: comm.processRank) }
        let data = try loadData(config)
        let trainer = try makeTrainer(config, data: data, communicators: communicators)
        trainer.onEvent = writes ? events : nil
        trainer.progressInterval = progressInterval
        if let path = config.execution.initWeights {
            let source = Replica(for: trainer.network)
            try ModelFile.load(path, into: source, network: trainer.network)
            trainer.setInitialWeights(from: source)
        }
        let checkpoints = try out.flatMap { try CheckpointPolicy(config: config, directory: $0, stepsPerEpoch: trainer.stepsPerEpoch) }
        if resume, let out {
            for warning in try Checkpoint.restoreLatest(into: trainer, directory: out) where writes { events?(.warning(warning)) }
        }
        try CheckpointAgreement.checkSameStart(trainer)
        let onednnISA = trainer.network.usesOneDNN ? ConvBackend.onednnInstructionSet : nil
        // Whether this run's convolutions take Winograd kernels at its batch sizes (training, and
        // evaluation's largest: test sets smaller than a batch are one), not only whether the
        // process has them: a run of small batches runs the direct ones.
        let evaluationBatch = min(config.execution.evalBatchSize, max(1, data.test.count))
        let onednnWinograd = onednnISA == nil ? nil
            : trainer.network.usesWinograd(batches: [config.schedule.batchSize, evaluationBatch])
        // Where no convolution of the run could take them on any machine, a recorded `true` is
        // the older meaning (the process had them): nothing to warn about, and the record is mended.
        let winogradPossible = [WinogradKernels.onednn, .ours].contains {
            trainer.network.usesWinograd(batches: [config.schedule.batchSize, evaluationBatch], kernels: $0)
        }
        // What decides this run's bits: ranks that differ only in Winograd kernels this run never
        // takes compute the same numbers.
        let kernels = "arithmetic version \(Arithmetic.version), OpenBLAS \(BLAS.coreName)" + (onednnISA == nil ? "" : ", " + ConvBackend.onednnKernels(winograd: onednnWinograd == true))
        if let warning = try CheckpointAgreement.kernelWarning(kernels, comm), writes { events?(.warning(warning)) }
        if let directory {
            if resume, writes {
                for warning in directory.kernelWarnings(onednnISA: onednnISA, winograd: winogradPossible ? onednnWinograd : nil) {
                    events?(.warning(warning))
                }
            }
            var derived = trainer.setup.derivedConfig(parameters: trainer.network.layout.count)
            derived.onednnISA = onednnISA
            derived.onednnWinograd = onednnWinograd
            if resume { derived = directory.keepingRecordedKernels(derived) }
            if !winogradPossible, derived.onednnWinograd != nil { derived.onednnWinograd = false }
            try directory.writeConfig(config, derived: derived)
            if let vocabulary = TextVocabulary(data.train) { try directory.writeVocabulary(vocabulary) }
        }
        if resume, let directory, writes, trainer.syncRecorder != nil {
            try directory.truncateSyncs(before: trainer.globalStep)
        }
        trainer.afterProgress = { [unowned trainer] in
            let step = trainer.globalStep
            let epochEnd = step % trainer.stepsPerEpoch == 0, checkpointDue = checkpoints?.isDue(step: step) ?? false
            // Before the checkpoint, so that a resume from it finds every earlier line.
            if let recorder = trainer.syncRecorder, epochEnd || checkpointDue {
                let records = try recorder.collect(trainer.communicator)
                if writes { try directory?.appendSyncs(records) }
            }
            if let directory, epochEnd { try directory.writeMetrics(trainer.history) }
            if let checkpoints, checkpointDue {
                try Checkpoint.write(trainer, directory: checkpoints.directory)
            }
        }
        let summary = try trainer.run()
        let final = try trainer.finalModel()
        if let directory {
            try directory.writeMetrics(trainer.history)
            try ModelFile.write(final, network: trainer.network, batchesTracked: trainer.batchesTracked,
                                to: directory.file("final.safetensors"),
                                metadata: ["model": config.model.kind.rawValue, "format": "pt"])
            try directory.writeSummary(summary)
            for (name, contents) in try trainer.extraFiles().sorted(by: { $0.key < $1.key }) {
                try AtomicFile.write(contents, to: directory.file(name))
            }
        }
        if writes { events?(.finished(summary, directory: directory?.path)) }
        return summary
    }
}

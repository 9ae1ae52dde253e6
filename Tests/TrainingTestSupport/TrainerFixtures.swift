import Comm
import Config
import Data
import Foundation
import NN
import Training

/// Tiny synthetic data (1×8×8, 3 classes) so whole trainings run in well under a second in debug.
public func tinyData(train: Int = 96, test: Int = 48, channels: Int = 1, size: Int = 8) throws -> DataSplit {
    var s = SyntheticConfig()
    s.trainCount = train
    s.testCount = test
    s.channels = channels
    s.height = size
    s.width = size
    s.classes = 3
    s.seed = 5
    return try loadDataset(.synthetic, directory: nil, synthetic: s)
}

public func tinyConfig(_ edit: (inout RunConfig) -> Void = { _ in }) -> RunConfig {
    var c = RunConfig()
    c.data.dataset = .synthetic
    c.model.kind = .mlp
    c.schedule.epochs = 2
    c.schedule.batchSize = 4
    c.schedule.lr = 0.5
    c.execution.threads = 1
    edit(&c)
    return c
}

/// Trains and returns the trainer (workers' buffers are then readable).
@discardableResult
public func train(_ config: RunConfig, data: DataSplit, hook: ((Trainer) throws -> Void)? = nil) throws -> Trainer {
    let t = try Trainer(config: config, data: data,
                        communicator: InProcessCommunicator(workers: config.algorithm.workers, threads: config.execution.threads))
    t.afterProgress = hook.map { hook in { [unowned t] in try hook(t) } }
    _ = try t.run()
    return t
}

public func parameters(_ t: Trainer, worker: Int = 0) -> [Float] { t.replicas[worker].parameters.array }

/// A run of `config` that writes its checkpoints (`checkpoint_every`) into `directory` and is
/// killed after iteration `crashAfter`, then a new trainer restored from the newest checkpoint
/// there, not yet run: the pattern of every bitwise-resume test.
public func trainerResumedAfterCrash(_ config: RunConfig, data: DataSplit, crashAfter: Int, directory: String) throws -> Trainer {
    struct Crash: Error {}
    do {
        try train(config, data: data) { t in
            guard let policy = try CheckpointPolicy(config: config, directory: directory, stepsPerEpoch: t.stepsPerEpoch) else {
                throw TrainingError("trainerResumedAfterCrash needs checkpoint_every in the config")
            }
            if policy.isDue(step: t.globalStep) { try Checkpoint.write(t, directory: policy.directory) }
            if t.globalStep == crashAfter { throw Crash() }
        }
        throw TrainingError("the run ended before iteration \(crashAfter)")
    } catch is Crash {}
    let resumed = try Trainer(config: config, data: data,
                              communicator: InProcessCommunicator(workers: config.algorithm.workers, threads: config.execution.threads))
    try Checkpoint.restoreLatest(into: resumed, directory: directory)
    return resumed
}

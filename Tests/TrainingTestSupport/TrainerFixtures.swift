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

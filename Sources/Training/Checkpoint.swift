import Algorithms
import Config
import Foundation
import RunFiles
import Tensor

/// Everything needed to continue a run bitwise identically: every worker's weights, BatchNorm statistics and momentum, the optimizer's last
/// learning rate, the strategy's counters and buffers, the position, and the metrics so far.
/// Data order and augmentation are pure functions of (seed, epoch, worker, step), so they need
/// no saved generator state. One file per process: `checkpoints/step-NNNNNNNN-rank-R.safetensors`.
public enum Checkpoint {
    struct Header: Codable {
        var version = 1
        var step: Int
        var workers: Int
        var localWorkers: [Int]
        var parameterCount: Int
        var stateCount: Int
        var previousLearningRates: [Float?]
        var strategy: StrategyState
        var history: [EpochMetrics]
        var epochState: EpochAccumulator
        var totalTime: TimeBreakdown
        var trainingBytes: Int
        var config: RunConfig
    }

    /// Writes this process's checkpoint atomically and confirms with the other processes that
    /// every one wrote its file of this step (`CheckpointAgreement.confirm`, a collective); only
    /// then removes its own older files but the newest of them, since only then does every rank
    /// hold a newer complete checkpoint. A model that is no longer finite is an error instead,
    /// on every rank alike, so the older, finite checkpoints stay.
    public static func write(_ t: Trainer, directory: String, writes: Bool) throws {
        let step = t.globalStep, rank = t.communicator.processRank
        var failure: Error?
        do {
            try writeOwnFile(t, directory: directory)
        } catch {
            failure = error
        }
        try CheckpointAgreement.confirm(failure, t.communicator, what: "writing the checkpoint of step \(step)")
        let older = try CheckpointFiles.files(in: directory, rank: rank).filter { $0.step < step }
        for old in older.dropLast() { try? FileManager.default.removeItem(atPath: directory + "/" + old.name) }
    }

    /// This process's checkpoint file of the current step, written atomically.
    static func writeOwnFile(_ t: Trainer, directory: String) throws {
        var strategy = t.strategy.saveState()
        let name = CheckpointFiles.fileName(step: t.globalStep, rank: t.communicator.processRank)
        if let finding = t.firstNonFiniteValue() ?? FiniteCheck.check(strategy.buffers, owner: "the strategy's ") {
            throw divergenceError(finding, place: t.position, file: "checkpoint " + name)
        }
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        var tensors: [SafetensorsTensor] = []
        for (name, values) in strategy.buffers.sorted(by: { $0.key < $1.key }) where values.count > 1 {
            tensors.append(SafetensorsTensor(name: "strategy." + name, dtype: "F32", shape: [values.count],
                                             data: values.withUnsafeBufferPointer { Safetensors.floats($0.baseAddress!, count: $0.count) }))
            strategy.buffers[name] = []
        }
        for (k, r) in t.replicas.enumerated() {
            let w = t.communicator.localWorkers.lowerBound + k
            tensors.append(floats("worker.\(w).parameters", r.parameters))
            tensors.append(floats("worker.\(w).state", r.state))
            tensors.append(floats("worker.\(w).momentum", t.optimizerStates[k].momentum))
        }
        let header = Header(step: t.globalStep, workers: t.config.workers, localWorkers: Array(t.communicator.localWorkers),
                            parameterCount: t.network.layout.count, stateCount: t.network.stateLayout.count,
                            previousLearningRates: t.optimizerStates.map(\.previousLearningRate), strategy: strategy,
                            history: t.history, epochState: t.epochState, totalTime: t.totalTime,
                            trainingBytes: t.trainingBytes, config: t.config)
        let json = String(decoding: try JSONEncoder().encode(header), as: UTF8.self)
        try Safetensors.write(tensors, metadata: ["localsgd.checkpoint": json], to: directory + "/" + name)
    }

    static func floats(_ name: String, _ b: FloatBuffer) -> SafetensorsTensor {
        SafetensorsTensor(name: name, dtype: "F32", shape: [b.count], data: Safetensors.floats(b.pointer, count: b.count))
    }

    /// Fields that change the numbers; a checkpoint made with other values cannot continue this run.
    static func checkCompatible(_ h: Header, _ t: Trainer, path: String) throws {
        var a = h.config, b = t.config
        for c in [\RunConfig.threads, \RunConfig.evalBatchSize] { a[keyPath: c] = 0; b[keyPath: c] = 0 }
        for c in [\RunConfig.checkpointEvery, \RunConfig.network, \RunConfig.dataDir, \RunConfig.initWeights] {
            a[keyPath: c] = nil
            b[keyPath: c] = nil
        }
        a.backend = .inprocess
        b.backend = .inprocess
        guard a == b else {
            let mine = try JSONSerialization.jsonObject(with: JSONEncoder().encode(b)) as? [String: Any] ?? [:]
            let theirs = try JSONSerialization.jsonObject(with: JSONEncoder().encode(a)) as? [String: Any] ?? [:]
            let differing = mine.keys.sorted().filter { "\(mine[$0] ?? "-")" != "\(theirs[$0] ?? "-")" }
            throw TrainingError("\(path) was made by a run with a different configuration (\(differing.joined(separator: ", "))); resume with the same settings")
        }
        guard h.parameterCount == t.network.layout.count, h.stateCount == t.network.stateLayout.count,
              h.localWorkers == Array(t.communicator.localWorkers), h.previousLearningRates.count == t.replicas.count,
              h.step <= t.totalSteps else {
            throw TrainingError("\(path) does not match this run's model or workers (\(h.localWorkers.count) workers of \(h.parameterCount) parameters)")
        }
    }
}

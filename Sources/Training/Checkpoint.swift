import Algorithms
import Foundation
import Tensor

/// When to write checkpoints: `--checkpoint-every N` (iterations) or `Ne` / `Nepoch(s)` (epochs).
public struct CheckpointPolicy {
    public let interval: Int
    public let directory: String

    /// nil when the config asks for no checkpoints.
    public init?(config: RunConfig, directory out: String, stepsPerEpoch: Int) throws {
        guard let text = config.checkpointEvery, !text.trimmingCharacters(in: .whitespaces).isEmpty else { return nil }
        guard let period = CheckpointPeriod(parsing: text) else {
            throw TrainingError("--checkpoint-every takes \(CheckpointPeriod.help), got '\(text)'")
        }
        interval = period.interval(stepsPerEpoch: stepsPerEpoch)
        directory = out + "/checkpoints"
    }

    public func isDue(step: Int) -> Bool { step > 0 && step % interval == 0 }
}

/// Everything needed to continue a run bitwise identically (DESIGN.md, issue "checkpoint and
/// resume"): every worker's weights, BatchNorm statistics and momentum, the optimizer's last
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

    static func fileName(step: Int, rank: Int) -> String {
        "step-" + String(format: "%08d", step) + "-rank-\(rank).safetensors"
    }

    /// Writes this process's checkpoint atomically, then removes all but the two newest. A model
    /// that is no longer finite is an error instead, so the older, finite checkpoints stay.
    public static func write(_ t: Trainer, directory: String, writes: Bool) throws {
        var strategy = t.strategy.saveState()
        let name = fileName(step: t.globalStep, rank: t.communicator.processRank)
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
        let rank = t.communicator.processRank
        try Safetensors.write(tensors, metadata: ["localsgd.checkpoint": json], to: directory + "/" + name)
        let mine = try files(in: directory, rank: rank)
        for old in mine.dropLast(2) { try? FileManager.default.removeItem(atPath: directory + "/" + old.name) }
    }

    static func floats(_ name: String, _ b: FloatBuffer) -> SafetensorsTensor {
        SafetensorsTensor(name: name, dtype: "F32", shape: [b.count], data: Safetensors.floats(b.pointer, count: b.count))
    }

    /// The step of a checkpoint file name of any rank ("step-00000012-rank-3.safetensors" → 12).
    static func step(ofFile name: String) -> Int? {
        let parts = name.split(separator: "-")
        guard parts.count == 4, parts[0] == "step", parts[2] == "rank", name.hasSuffix(".safetensors"),
              Int(parts[3].dropLast(".safetensors".count)) != nil else { return nil }
        return Int(parts[1])
    }

    /// Every rank's checkpoint files, oldest first.
    static func allFiles(in directory: String) -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return names.compactMap { name in step(ofFile: name).map { (name, $0) } }.sorted { $0.1 < $1.1 }.map(\.0)
    }

    /// Removes this rank's temporary checkpoint files left by a process killed while writing.
    public static func removeTemporaryFiles(in directory: String, rank: Int) {
        RunDirectory.removeTemporaryFiles(in: directory) { $0.hasSuffix("-rank-\(rank).safetensors") && step(ofFile: $0) != nil }
    }

    /// This rank's checkpoint files, oldest first.
    static func files(in directory: String, rank: Int) throws -> [(name: String, step: Int)] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        let suffix = "-rank-\(rank).safetensors"
        return names.compactMap { name -> (String, Int)? in
            guard name.hasPrefix("step-"), name.hasSuffix(suffix),
                  let step = Int(name.dropFirst(5).dropLast(suffix.count)) else { return nil }
            return (name, step)
        }.sorted { $0.1 < $1.1 }
    }

    /// Restores the newest checkpoint of `out/checkpoints` into `t`.
    public static func restoreLatest(into t: Trainer, directory out: String) throws {
        let dir = out + "/checkpoints"
        guard let latest = try files(in: dir, rank: t.communicator.processRank).last else {
            throw TrainingError(RunDirectory.resumeProblem(out, checkpointEvery: t.config.checkpointEvery)
                ?? "--resume \(out): \(dir) has no checkpoint of rank \(t.communicator.processRank); resume with as many ranks as the run had")
        }
        try restore(into: t, path: dir + "/" + latest.name)
    }

    public static func restore(into t: Trainer, path: String) throws {
        let file = try Safetensors.read(path: path)
        guard let json = file.metadata["localsgd.checkpoint"],
              var header = try? JSONDecoder().decode(Header.self, from: Data(json.utf8)) else {
            throw TrainingError("\(path) is not a LocalSGD checkpoint (its metadata has no readable run state)")
        }
        try checkCompatible(header, t, path: path)
        for (k, r) in t.replicas.enumerated() {
            let w = t.communicator.localWorkers.lowerBound + k
            try load(file.tensors, "worker.\(w).parameters", into: r.parameters, path: path)
            try load(file.tensors, "worker.\(w).state", into: r.state, path: path)
            try load(file.tensors, "worker.\(w).momentum", into: t.optimizerStates[k].momentum, path: path)
            t.optimizerStates[k].previousLearningRate = header.previousLearningRates[k]
        }
        for (name, tensor) in file.tensors where name.hasPrefix("strategy.") {
            header.strategy.buffers[String(name.dropFirst("strategy.".count))] = try Safetensors.floatArray(tensor)
        }
        if let finding = t.firstNonFiniteValue() ?? FiniteCheck.check(header.strategy.buffers, owner: "the strategy's ") {
            throw TrainingError("\(path) holds a diverged model (\(finding)), so the run cannot continue from it; delete it to resume from an older checkpoint, or start a new run (--out)")
        }
        header.strategy.buffers = header.strategy.buffers.filter { !$0.value.isEmpty }
        do {
            try t.strategy.restoreState(header.strategy)
        } catch let e as StrategyError {
            throw TrainingError("\(path): \(e.description)")
        }
        t.globalStep = header.step
        t.history = header.history
        t.epochState = header.epochState
        t.totalTime = header.totalTime
        t.restoredBytes = header.trainingBytes
    }

    private static func load(_ tensors: [String: SafetensorsTensor], _ name: String, into b: FloatBuffer, path: String) throws {
        guard let t = tensors[name], t.shape == [b.count] else {
            throw TrainingError("\(path) lacks tensor '\(name)' of \(b.count) values")
        }
        let values = try Safetensors.floatArray(t)
        values.withUnsafeBufferPointer { b.pointer.update(from: $0.baseAddress!, count: b.count) }
    }

    /// Fields that change the numbers; a checkpoint made with other values cannot continue this run.
    private static func checkCompatible(_ h: Header, _ t: Trainer, path: String) throws {
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

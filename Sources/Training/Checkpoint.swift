import Algorithms
import Config
import Foundation
import RunFiles
import Tensor

/// Checkpoint files: one per process and step (`CheckpointFiles`), holding the process's
/// `CheckpointState`, written and resumed in agreement with the other processes
/// (`CheckpointAgreement`), for either execution mode (`TrainingLoop`).
public enum Checkpoint {
    /// Writes this process's checkpoint atomically and confirms with the other processes that
    /// every one wrote its file of this step (`CheckpointAgreement.confirm`, a collective); only
    /// then removes its own older files but the newest of them, since only then does every rank
    /// hold a newer complete checkpoint. A model that is no longer finite is an error instead,
    /// on every rank alike, so the older, finite checkpoints stay.
    public static func write(_ t: TrainingLoop, directory: String, writes: Bool) throws {
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
    static func writeOwnFile(_ t: TrainingLoop, directory: String) throws {
        var state = try t.checkpointState()
        state.dataFingerprint = t.setup.dataFingerprint
        let name = CheckpointFiles.fileName(step: t.globalStep, rank: t.communicator.processRank)
        if let finding = t.firstNonFiniteValue() ?? FiniteCheck.check(state.strategy.buffers, owner: "the strategy's ") {
            throw divergenceError(finding, place: t.position, file: "checkpoint " + name)
        }
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        // Strategy buffers of more than one value are tensors too ("strategy." + name).
        for (key, values) in state.strategy.buffers where values.count > 1 {
            state.buffers["strategy." + key] = values
            state.strategy.buffers[key] = []
        }
        let tensors = state.buffers.sorted { $0.key < $1.key }.map { name, values in
            SafetensorsTensor(name: name, dtype: "F32", shape: [values.count],
                              data: values.withUnsafeBufferPointer { Safetensors.floats($0.baseAddress!, count: $0.count) })
        }
        let json = String(decoding: try JSONEncoder().encode(state), as: UTF8.self)
        try Safetensors.write(tensors, metadata: ["localsgd.checkpoint": json], to: directory + "/" + name)
    }

    /// Fields that change the numbers; a checkpoint made with other values cannot continue this run.
    static func checkCompatible(_ h: CheckpointState, _ t: TrainingLoop, path: String) throws {
        var a = h.config, b = t.config
        for c in [\RunConfig.execution.threads, \RunConfig.execution.evalBatchSize] { a[keyPath: c] = 0; b[keyPath: c] = 0 }
        for c in [\RunConfig.execution.checkpointEvery, \RunConfig.execution.network, \RunConfig.data.dataDir, \RunConfig.execution.initWeights] {
            a[keyPath: c] = nil
            b[keyPath: c] = nil
        }
        a.execution.backend = .inprocess
        b.execution.backend = .inprocess
        guard a == b else {
            let mine = try JSONSerialization.jsonObject(with: JSONEncoder().encode(b)) as? [String: Any] ?? [:]
            let theirs = try JSONSerialization.jsonObject(with: JSONEncoder().encode(a)) as? [String: Any] ?? [:]
            let differing = mine.keys.sorted().filter { "\(mine[$0] ?? "-")" != "\(theirs[$0] ?? "-")" }
            throw TrainingError("\(path) was made by a run with a different configuration (\(differing.joined(separator: ", "))); resume with the same settings")
        }
        if let saved = h.dataFingerprint, let now = t.setup.dataFingerprint, saved != now {
            throw TrainingError("\(path) was made on a different text corpus (\(saved), now \(now)): the files under --data-dir "
                + "changed since, so the run cannot continue bitwise; restore the corpus, or start a new run (--out)")
        }
        guard h.parameterCount == t.network.layout.count, h.stateCount == t.network.stateLayout.count,
              h.localWorkers == Array(t.communicator.localWorkers), h.step <= t.totalSteps else {
            throw TrainingError("\(path) does not match this run's model or workers (\(h.localWorkers.count) workers of \(h.parameterCount) parameters)")
        }
    }
}

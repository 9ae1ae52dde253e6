import Foundation
import RunFiles

/// How one process's `CheckpointState` becomes files of a step directory (`CheckpointFiles`) and
/// back, for any layout of the K workers over processes.
///
/// Why one file per worker plus one shared file: every piece of a checkpoint either belongs to
/// one worker (its weights, BatchNorm statistics, optimizer state, codec residuals and anchor,
/// epoch sums) or is the same on every process (the step, metrics so far, the strategy's
/// outer state, counters, the config). A worker's file is written by whichever process holds the
/// worker and read by whichever holds it on resume, so the number of processes may change
/// between the two; the shared file is written once, by rank 0. The alternative, one file per
/// process, ties a checkpoint to its layout, and one file in all would make every process send
/// its workers' buffers to one writer.
///
/// Which file a buffer goes to follows from its name (`owner(ofBuffer:)`): "worker.K.…" to
/// worker K's; a record-of-synchronizations anchor "syncs.G.g.anchor" (one per group of G
/// workers, equal on every member) to the file of the group's first worker g·G, which is always
/// held by a process that holds the group; everything else to the shared file.
package enum CheckpointLayout {
    /// Metadata keys of the shared file (the state's JSON) and of a worker file (`WorkerPart`).
    static let sharedKey = "localsgd.checkpoint", workerKey = "localsgd.worker"

    /// A worker's scalars in its file's metadata; its buffers are the file's tensors.
    struct WorkerPart: Codable, Equatable {
        var worker: Int
        var step: Int
        var previousLearningRate: Float?
        /// Adam's t (`OptimizerState.stepCount`); nil for SGD and LARS.
        var optimizerStep: Int?
        /// The epoch sums but the losses (tensor "worker.K.epoch_losses"); nil for async.
        var correct: Int?
        var samples: Int?
        var carriedLoss: Double?
    }

    /// The worker whose file holds buffer `name`, or nil for the shared file.
    static func owner(ofBuffer name: String) -> Int? {
        let parts = name.split(separator: ".", omittingEmptySubsequences: false)
        if parts.count >= 3, parts[0] == "worker" { return Int(parts[1]) }
        if parts.count == 4, parts[0] == "syncs", parts[3] == "anchor", let g = Int(parts[1]), let group = Int(parts[2]) {
            return group * g
        }
        return nil
    }

    /// The workers whose files a process holding `workers` reads: its own, and the first worker
    /// of each group of the record's levels (`groupSizes`) that one of them belongs to.
    static func filesToRead(workers: [Int], groupSizes: [Int]) -> [Int] {
        let firsts = groupSizes.flatMap { g in workers.map { $0 / g * g } }
        return Array(Set(workers + firsts)).sorted()
    }

    // MARK: - Writing

    /// The shared file's bytes: the state's JSON without its per-worker fields, and every buffer
    /// no worker owns (a strategy's buffers of more than one value as "strategy.NAME").
    static func sharedFile(_ state: CheckpointState) throws -> Data {
        var shared = state
        shared.localWorkers = []
        shared.previousLearningRates = []
        shared.optimizerSteps = nil
        shared.workerEpochSums = nil
        for (key, values) in state.strategy.buffers where values.count > 1 {
            shared.buffers["strategy." + key] = values
            shared.strategy.buffers[key] = []
        }
        let tensors = shared.buffers.filter { owner(ofBuffer: $0.key) == nil }
        let json = String(decoding: try JSONEncoder().encode(shared), as: UTF8.self)
        return try Safetensors.encode(floatTensors(tensors), metadata: [sharedKey: json])
    }

    /// Worker `worker`'s file: its buffers, its epoch's losses and its scalars. `index` is the
    /// worker's position in `state.localWorkers`.
    static func workerFile(_ state: CheckpointState, index: Int) throws -> Data {
        let worker = state.localWorkers[index]
        var tensors = state.buffers.filter { owner(ofBuffer: $0.key) == worker }
        var part = WorkerPart(worker: worker, step: state.step, previousLearningRate: state.previousLearningRates[index],
                              optimizerStep: state.optimizerSteps?[index])
        if let sums = state.workerEpochSums?[index] {
            tensors["worker.\(worker).epoch_losses"] = sums.losses
            (part.correct, part.samples, part.carriedLoss) = (sums.correct, sums.samples, sums.carriedLoss)
        }
        let json = String(decoding: try JSONEncoder().encode(part), as: UTF8.self)
        return try Safetensors.encode(floatTensors(tensors), metadata: [workerKey: json])
    }

    private static func floatTensors(_ buffers: [String: [Float]]) -> [SafetensorsTensor] {
        buffers.sorted { $0.key < $1.key }.map { name, values in
            SafetensorsTensor(name: name, dtype: "F32", shape: [values.count],
                              data: values.withUnsafeBufferPointer { Data(buffer: $0) })
        }
    }

    // MARK: - Reading

    /// The state of the step directory `directory` for a process that holds `workers` (in
    /// order) and keeps a record with levels of `groupSizes`: the shared file, and the files of
    /// `filesToRead`, each checked against `manifest`. Damage is a `CheckpointDamage`.
    static func read(_ directory: String, manifest: CheckpointManifest, workers: [Int], groupSizes: [Int]) throws -> CheckpointState {
        var state = try readShared(directory, manifest: manifest)
        var parts: [Int: WorkerPart] = [:]
        var losses: [Int: [Float]] = [:]
        for w in filesToRead(workers: workers, groupSizes: groupSizes) {
            let name = CheckpointFiles.workerFile(w)
            let (tensors, metadata) = try decode(name, directory, manifest)
            guard let json = metadata[workerKey], let part = try? JSONDecoder().decode(WorkerPart.self, from: Data(json.utf8)),
                  part.worker == w, part.step == manifest.step else {
                throw CheckpointDamage("\(name) holds no state of worker \(w) at step \(manifest.step)")
            }
            let held = workers.contains(w)
            for (key, tensor) in tensors where held || key.hasPrefix("syncs.") {
                if key == "worker.\(w).epoch_losses" { losses[w] = try floats(tensor, key) } else { state.buffers[key] = try floats(tensor, key) }
            }
            parts[w] = part
        }
        state.localWorkers = workers
        let own = workers.map { parts[$0]! }
        state.previousLearningRates = own.map(\.previousLearningRate)
        state.optimizerSteps = own.allSatisfy { $0.optimizerStep != nil } ? own.map { $0.optimizerStep! } : nil
        if own.allSatisfy({ $0.correct != nil }) {
            state.workerEpochSums = own.map { p in
                WorkerEpochSums(losses: losses[p.worker] ?? [], correct: p.correct!, samples: p.samples ?? 0, carriedLoss: p.carriedLoss ?? 0)
            }
        }
        return state
    }

    /// The shared file's state and buffers (the per-worker fields empty).
    private static func readShared(_ directory: String, manifest: CheckpointManifest) throws -> CheckpointState {
        let (tensors, metadata) = try decode(CheckpointFiles.sharedFile, directory, manifest)
        guard let json = metadata[sharedKey], var state = try? JSONDecoder().decode(CheckpointState.self, from: Data(json.utf8)),
              state.version == 2, state.step == manifest.step else {
            throw CheckpointDamage("\(CheckpointFiles.sharedFile) holds no run state of step \(manifest.step)")
        }
        try addBuffers(tensors, to: &state)
        return state
    }

    /// `tensors` as the state's buffers, "strategy.NAME" as the strategy's buffer NAME (whose
    /// JSON holds an empty list in its place).
    static func addBuffers(_ tensors: [String: SafetensorsTensor], to state: inout CheckpointState) throws {
        for (name, tensor) in tensors {
            let values = try floats(tensor, name)
            if name.hasPrefix("strategy.") {
                state.strategy.buffers[String(name.dropFirst("strategy.".count))] = values
            } else {
                state.buffers[name] = values
            }
        }
        state.strategy.buffers = state.strategy.buffers.filter { !$0.value.isEmpty }
    }

    /// The tensors and metadata of file `name`, checked against `manifest`.
    private static func decode(_ name: String, _ directory: String, _ manifest: CheckpointManifest) throws
        -> (tensors: [String: SafetensorsTensor], metadata: [String: String]) {
        let data = try manifest.contents(of: name, in: directory)
        do {
            return try Safetensors.decode(data, file: directory + "/" + name)
        } catch {
            throw CheckpointDamage("\(error)")
        }
    }

    private static func floats(_ tensor: SafetensorsTensor, _ name: String) throws -> [Float] {
        do {
            return try Safetensors.floatArray(tensor)
        } catch {
            throw CheckpointDamage("tensor \(name): \(error)")
        }
    }
}

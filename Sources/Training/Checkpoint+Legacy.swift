import Foundation
import RunFiles

/// Resuming the checkpoints of versions before step directories: one file per process and step
/// (`CheckpointFiles.legacyFileName`), holding that process's workers. They resume only with the
/// layout that wrote them (as many processes, so each finds its own file); the run's next
/// checkpoints are step directories, free of the layout.
extension Checkpoint {
    /// The older versions' protocol: every process loads the newest step that every process
    /// holds complete, then removes its own files of newer steps.
    static func restoreLegacy(into t: TrainingLoop, directory out: String) throws {
        let dir = out + "/checkpoints", rank = t.communicator.processRank
        let own = CheckpointFiles.legacyFiles(in: dir, rank: rank)
        let mine = own.filter { (try? readLegacy(dir + "/" + $0.name, step: $0.step)) != nil }
        let (common, held) = try CheckpointAgreement.commonSteps(mine.map(\.step), t.communicator)
        guard let step = common.max() else {
            throw TrainingError(noCommonLegacyCheckpoint(out, held: held, rank: rank))
        }
        let path = dir + "/" + CheckpointFiles.legacyFileName(step: step, rank: rank)
        var state: CheckpointState?
        var failure: Error?
        do {
            state = try readLegacy(path, step: step)
            let workers = Array(t.communicator.localWorkers)
            guard state!.localWorkers == workers else {
                throw TrainingError("\(path) was written by an older version of LocalSGD, one file per MPI rank, for workers \(range(state!.localWorkers)) on this rank, "
                    + "but this rank holds workers \(range(workers)); resume it with as many ranks as it was written with (\(t.communicator.workers / max(1, state!.localWorkers.count)))")
            }
        } catch {
            failure = error
        }
        try CheckpointAgreement.confirm(failure, t.communicator, what: "reading the checkpoint of step \(step)")
        try load(state!, into: t, path: path)
        for newer in own where newer.step > step {
            try? FileManager.default.removeItem(atPath: dir + "/" + newer.name)
        }
    }

    /// The state in the legacy file `path` of `step`: its workers' epoch sums were one sum per
    /// process, which the process's first worker carries (`WorkerEpochSums.carriedLoss`).
    static func readLegacy(_ path: String, step: Int) throws -> CheckpointState {
        let file = try Safetensors.read(path: path)
        guard let json = file.metadata[CheckpointLayout.sharedKey],
              var state = try? JSONDecoder().decode(CheckpointState.self, from: Data(json.utf8)), state.step == step else {
            throw TrainingError("\(path) is not a LocalSGD checkpoint of step \(step) (its metadata has no readable run state)")
        }
        try CheckpointLayout.addBuffers(file.tensors, to: &state)
        if state.async == nil {
            struct Sums: Decodable { var lossSum = 0.0, correct = 0, samples = 0 }
            struct Legacy: Decodable { var epochState: Sums }
            let sums = try JSONDecoder().decode(Legacy.self, from: Data(json.utf8)).epochState
            state.workerEpochSums = state.localWorkers.indices.map { k in
                k == 0 ? WorkerEpochSums(correct: sums.correct, samples: sums.samples, carriedLoss: sums.lossSum) : WorkerEpochSums()
            }
        }
        return state
    }

    private static func range(_ workers: [Int]) -> String {
        guard let first = workers.first, let last = workers.last else { return "none" }
        return first == last ? "\(first)" : "\(first)–\(last)"
    }

    /// Why no legacy step can be resumed, given the complete steps each process holds.
    static func noCommonLegacyCheckpoint(_ out: String, held: [[Int]], rank: Int) -> String {
        let dir = out + "/checkpoints"
        if held.count == 1 {
            return "--resume \(out): \(dir) holds no complete checkpoint (its files, written by an older version of LocalSGD, are damaged or cut short, or belong to other MPI ranks); start the run again with --out \(out)"
        }
        let lists = held.enumerated().map { r, steps in
            "rank \(r): " + (steps.isEmpty ? "none" : steps.map(String.init).joined(separator: ", "))
        }
        return "--resume \(out): no checkpoint step of \(dir) is held complete by every rank (\(lists.joined(separator: "; "))); these files were written by an older version of LocalSGD, one per rank: resume with as many ranks as the run had, or start it again with --out \(out)"
    }
}

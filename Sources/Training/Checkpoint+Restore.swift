import Algorithms
import Config
import Foundation
import RunFiles
import Tensor

/// Resuming: every process loads the newest step that every process holds complete
/// (`CheckpointAgreement`), so ranks never continue from different steps.
extension Checkpoint {
    /// Restores into `t` the newest checkpoint of `out/checkpoints` that every process holds
    /// complete, the same step on every process (a collective). This process's files of newer
    /// steps (which some rank never finished, or damaged ones) are removed once every process
    /// has loaded: the run redoes those steps and writes them again.
    public static func restoreLatest(into t: TrainingLoop, directory out: String) throws {
        let dir = out + "/checkpoints", rank = t.communicator.processRank
        let own = try CheckpointFiles.files(in: dir, rank: rank)
        let mine = own.filter { isComplete(dir + "/" + $0.name, step: $0.step) }
        let (common, held) = try CheckpointAgreement.commonSteps(mine.map(\.step), t.communicator)
        guard let step = common.max() else {
            throw TrainingError(noCommonCheckpoint(out, held: held, rank: rank, checkpointEvery: t.config.execution.checkpointEvery))
        }
        var failure: Error?
        do {
            try restore(into: t, path: dir + "/" + CheckpointFiles.fileName(step: step, rank: rank))
        } catch {
            failure = error
        }
        try CheckpointAgreement.confirm(failure, t.communicator, what: "loading the checkpoint of step \(step)")
        for newer in own where newer.step > step {
            try? FileManager.default.removeItem(atPath: dir + "/" + newer.name)
        }
    }

    /// True when `path` is a whole, readable checkpoint of `step` (not cut short or damaged).
    static func isComplete(_ path: String, step: Int) -> Bool {
        guard let file = try? Safetensors.read(path: path), let json = file.metadata["localsgd.checkpoint"],
              let state = try? JSONDecoder().decode(CheckpointState.self, from: Data(json.utf8)) else { return false }
        return state.step == step
    }

    /// Why no step can be resumed, given the complete steps each process holds.
    static func noCommonCheckpoint(_ out: String, held: [[Int]], rank: Int, checkpointEvery: String?) -> String {
        let dir = out + "/checkpoints"
        if held.allSatisfy(\.isEmpty), let problem = RunDirectory.resumeProblem(out, checkpointEvery: checkpointEvery) {
            return problem
        }
        if held.count == 1 {
            return "--resume \(out): \(dir) holds no complete checkpoint (the files there are damaged or cut short, or belong to MPI ranks); start the run again with --out \(out)"
        }
        let lists = held.enumerated().map { r, steps in
            "rank \(r): " + (steps.isEmpty ? "none" : steps.map(String.init).joined(separator: ", "))
        }
        return "--resume \(out): no checkpoint step of \(dir) is held complete by every rank (\(lists.joined(separator: "; "))); resume with as many ranks as the run had, or start it again with --out \(out)"
    }

    /// Reads the checkpoint file `path` and continues `t` from it.
    public static func restore(into t: TrainingLoop, path: String) throws {
        let file = try Safetensors.read(path: path)
        guard let json = file.metadata["localsgd.checkpoint"],
              var state = try? JSONDecoder().decode(CheckpointState.self, from: Data(json.utf8)) else {
            throw TrainingError("\(path) is not a LocalSGD checkpoint (its metadata has no readable run state)")
        }
        try checkCompatible(state, t, path: path)
        for (name, tensor) in file.tensors {
            if name.hasPrefix("strategy.") {
                state.strategy.buffers[String(name.dropFirst("strategy.".count))] = try Safetensors.floatArray(tensor)
            } else {
                state.buffers[name] = try Safetensors.floatArray(tensor)
            }
        }
        state.strategy.buffers = state.strategy.buffers.filter { !$0.value.isEmpty }
        try t.restore(state, path: path)
        if let finding = t.firstNonFiniteValue() ?? FiniteCheck.check(state.strategy.buffers, owner: "the strategy's ") {
            throw TrainingError("\(path) holds a diverged model (\(finding)), so the run cannot continue from it; delete it to resume from an older checkpoint, or start a new run (--out)")
        }
    }
}

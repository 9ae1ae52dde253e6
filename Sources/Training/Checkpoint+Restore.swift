import Algorithms
import Config
import Foundation
import RunFiles
import Tensor

/// Resuming: every process loads the same step, the newest that every process can read whole,
/// whatever the number of processes that wrote it (it must divide K).
extension Checkpoint {
    /// Restores into `t` the newest checkpoint of `out/checkpoints` whose files every process
    /// reads whole: each process reads the shared file and its workers' files, checked against
    /// the manifest, and the processes agree on each step (a collective). A step that is damaged
    /// (no manifest, a file missing, cut short or changed, unreadable) is skipped for the one
    /// before; the returned warnings name each skipped step and its problem, for the caller to
    /// show. Step directories newer than the one loaded are removed once every process has
    /// loaded: the run redoes those steps and writes them again. Without any step directory, the
    /// per-process files of older versions are resumed with the layout that wrote them.
    @discardableResult
    public static func restoreLatest(into t: TrainingLoop, directory out: String) throws -> [String] {
        let dir = out + "/checkpoints", comm = t.communicator
        let steps = try CheckpointAgreement.agreedSteps(CheckpointFiles.stepDirectories(in: dir).map(\.step).reversed(), comm)
        var warnings: [String] = [], problems: [String] = []
        for step in steps {
            let path = dir + "/" + CheckpointFiles.directoryName(step: step)
            var state: CheckpointState?, problem: String?
            do {
                let manifest = try CheckpointManifest.read(path, step: step)
                state = try CheckpointLayout.read(path, manifest: manifest, workers: t.checkpointWorkers,
                                                  groupSizes: t.syncRecorder?.groupSizes ?? [])
            } catch {
                problem = "\(error)"
            }
            let found = try CheckpointAgreement.gatherProblems(problem, comm)
            if let r = found.firstIndex(where: { $0 != nil }) {
                let problem = (comm.processCount > 1 ? "MPI rank \(r): " : "") + found[r]!
                warnings.append("the checkpoint of step \(step) (\(path)) cannot be used: \(problem); trying the one before")
                problems.append("step \(step): \(problem)")
                continue
            }
            try load(state!, into: t, path: path)
            if comm.processRank == 0 { removeNewerCheckpoints(than: step, in: dir) }
            return warnings
        }
        let legacy = try comm.gatherIntegers([CheckpointFiles.legacyFiles(in: dir).isEmpty ? 0 : 1])
        if legacy.contains(where: { $0[0] == 1 }) {
            try restoreLegacy(into: t, directory: out)
            return warnings
        }
        if problems.isEmpty, let problem = RunDirectory.resumeProblem(out, checkpointEvery: t.config.execution.checkpointEvery) {
            throw TrainingError(problem)
        }
        var why = problems.isEmpty ? "" : " (\(problems.joined(separator: "; ")))"
        if comm.processCount > 1 { why += "; every rank must see the same checkpoint directory (one host, or a file system all hosts share)" }
        throw TrainingError("--resume \(out): \(dir) holds no checkpoint that can be read whole\(why); delete \(dir) and start the run again with --out \(out), or start it in another directory")
    }

    /// Continues `t` from `state` (read from `path`) on every process, or throws on every one.
    static func load(_ state: CheckpointState, into t: TrainingLoop, path: String) throws {
        var failure: Error?
        do {
            try checkCompatible(state, t, path: path)
            try t.restore(state, path: path)
            if let finding = t.firstNonFiniteValue() ?? FiniteCheck.check(state.strategy.buffers, owner: "the strategy's ") {
                throw TrainingError("\(path) holds a diverged model (\(finding)), so the run cannot continue from it; delete it to resume from an older checkpoint, or start a new run (--out)")
            }
        } catch {
            failure = error
        }
        try CheckpointAgreement.confirm(failure, t.communicator, what: "loading the checkpoint of step \(state.step)")
    }

    /// Removes the step directories and legacy files of steps after `step`.
    static func removeNewerCheckpoints(than step: Int, in directory: String) {
        for newer in CheckpointFiles.stepDirectories(in: directory) + CheckpointFiles.legacyFiles(in: directory) where newer.step > step {
            try? FileManager.default.removeItem(atPath: directory + "/" + newer.name)
        }
    }
}

import Algorithms
import Config
import Foundation
import RunFiles
import Tensor

/// Checkpoints: one step directory per checkpoint, with a file per worker, a shared file and a
/// manifest (`CheckpointFiles`, `CheckpointLayout`), holding the run's `CheckpointState`, written
/// and resumed in agreement among the processes (`CheckpointAgreement`), for either execution
/// mode (`TrainingLoop`). A checkpoint resumes under any number of processes that divides K.
public enum Checkpoint {
    /// Writes the checkpoint of the current step: every process writes its workers' files (rank
    /// 0 also the shared file), each atomically; the processes then exchange the files' sizes
    /// and CRC-32s (a collective), and only once every one has written its files does rank 0
    /// write the manifest, last, and remove the checkpoints older than the one before. A model
    /// that is no longer finite is an error instead, on every process alike, and the older,
    /// finite checkpoints stay.
    public static func write(_ t: TrainingLoop, directory: String) throws {
        let step = t.globalStep, comm = t.communicator
        let stepDirectory = directory + "/" + CheckpointFiles.directoryName(step: step)
        var failure: Error?
        var entries: [CheckpointManifest.Entry] = [], workers = 0
        do {
            (entries, workers) = try writeOwnFiles(t, into: stepDirectory)
        } catch {
            failure = error
        }
        let files = try CheckpointAgreement.gatherEntries(entries, failure: failure, comm, what: "writing the checkpoint of step \(step)")
        var manifestFailure: Error?
        if comm.processRank == 0 {
            do {
                try CheckpointManifest(step: step, workers: workers, files: files).write(to: stepDirectory)
                try AtomicFile.syncDirectory(directory)
                removeOlderCheckpoints(than: step, in: directory)
            } catch {
                manifestFailure = error
            }
        }
        try CheckpointAgreement.confirm(manifestFailure, comm, what: "writing the manifest of the checkpoint of step \(step)")
    }

    /// This process's files of the current step, each written atomically, and their manifest
    /// entries; and K, the number of worker files.
    static func writeOwnFiles(_ t: TrainingLoop, into directory: String) throws -> ([CheckpointManifest.Entry], Int) {
        var state = try t.checkpointState()
        state.dataFingerprint = t.setup.dataFingerprint
        let name = CheckpointFiles.directoryName(step: t.globalStep)
        if let finding = t.firstNonFiniteValue() ?? FiniteCheck.check(state.strategy.buffers, owner: "the strategy's ") {
            throw divergenceError(finding, place: t.position, file: "checkpoint " + name)
        }
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        var entries: [CheckpointManifest.Entry] = []
        func write(_ data: Data, as file: String) throws {
            try AtomicFile.write(data, to: directory + "/" + file)
            entries.append(CheckpointManifest.Entry(name: file, data: data))
        }
        if t.communicator.processRank == 0 {
            // A manifest of an earlier attempt at this step would describe other files.
            try? FileManager.default.removeItem(atPath: directory + "/" + CheckpointFiles.manifestFile)
            try write(try CheckpointLayout.sharedFile(state), as: CheckpointFiles.sharedFile)
        }
        for k in state.localWorkers.indices {
            try write(try CheckpointLayout.workerFile(state, index: k), as: CheckpointFiles.workerFile(state.localWorkers[k]))
        }
        return (entries, state.workers)
    }

    /// Keeps the checkpoint of `step` and the newest complete one before it; removes every other
    /// older step directory (complete or not) and legacy file. Failures are left for the next time.
    static func removeOlderCheckpoints(than step: Int, in directory: String) {
        let steps = CheckpointFiles.stepDirectories(in: directory).filter { $0.step < step }
        let legacy = CheckpointFiles.legacyFiles(in: directory).filter { $0.step < step }
        let complete = steps.filter { CheckpointFiles.hasManifest(directory + "/" + $0.name) }.map(\.step) + legacy.map(\.step)
        let keep = complete.max()
        for old in steps + legacy where old.step != keep {
            try? FileManager.default.removeItem(atPath: directory + "/" + old.name)
        }
    }

    /// Fields that change the numbers; a checkpoint made with other values cannot continue this
    /// run. The backend, reduction, thread count and paths may change: the layout of the workers
    /// over processes is free, and in-process and `--reduction ordered` runs are bitwise alike.
    static func checkCompatible(_ h: CheckpointState, _ t: TrainingLoop, path: String) throws {
        var a = h.config.resultDefining, b = t.config.resultDefining
        for c in [\RunConfig.execution.threads, \RunConfig.execution.evalBatchSize] { a[keyPath: c] = 0; b[keyPath: c] = 0 }
        for c in [\RunConfig.execution.checkpointEvery, \RunConfig.execution.network, \RunConfig.data.dataDir, \RunConfig.execution.initWeights] {
            a[keyPath: c] = nil
            b[keyPath: c] = nil
        }
        (a.execution.backend, b.execution.backend) = (.inprocess, .inprocess)
        (a.execution.reduction, b.execution.reduction) = (.ordered, .ordered)
        guard a == b else {
            let mine = try JSONSerialization.jsonObject(with: JSONEncoder().encode(b)) as? [String: Any] ?? [:]
            let theirs = try JSONSerialization.jsonObject(with: JSONEncoder().encode(a)) as? [String: Any] ?? [:]
            let differing = mine.keys.sorted().filter { "\(mine[$0] ?? "-")" != "\(theirs[$0] ?? "-")" }
                .map { "\($0): \(theirs[$0] ?? "none") there, \(mine[$0] ?? "none") now" }
            throw TrainingError("\(path) was made by a run with a different configuration (\(differing.joined(separator: "; "))); resume with the settings it was made with (drop the flags or config file that change them)")
        }
        if let saved = h.dataFingerprint, let now = t.setup.dataFingerprint, saved != now {
            throw TrainingError("\(path) was made on a different text corpus (\(saved), now \(now)): the files under --data-dir "
                + "changed since, so the run cannot continue bitwise; restore the corpus, or start a new run (--out)")
        }
        guard h.parameterCount == t.network.layout.count, h.stateCount == t.network.stateLayout.count, h.step <= t.totalSteps else {
            throw TrainingError("\(path) does not match this run's model or workers (\(h.workers) workers of \(h.parameterCount) parameters)")
        }
    }
}

import Foundation

/// What a run directory holds, so that no state is a dead end:
/// a finished run is kept, a run with a checkpoint is continued with `--resume`, and anything
/// else (a run killed or out of disk before its first checkpoint) is started again with `--out`.
extension RunDirectory {
    /// The file that shows a run finished, if any.
    static func finishedFile(_ path: String) -> String? {
        ["summary.json", "final.safetensors"].first { FileManager.default.fileExists(atPath: path + "/" + $0) }
    }

    /// Refuses a directory with a finished run or a checkpoint; otherwise removes the run files
    /// and temporary files a stopped run left (never other files).
    static func clearForRestart(_ path: String) throws {
        if let file = finishedFile(path) {
            throw FileError(path: path, description: "\(path) already holds a run (\(file)); choose another --out")
        }
        if let newest = CheckpointFiles.allCheckpoints(in: path + "/checkpoints").last {
            throw FileError(path: path, description: "\(path) already holds a run that stopped at its checkpoint \(newest); continue it with --resume \(path), or choose another --out")
        }
        let fm = FileManager.default
        for name in runFiles where fm.fileExists(atPath: path + "/" + name) {
            do {
                try fm.removeItem(atPath: path + "/" + name)
            } catch {
                throw FileError(path: path, description: "cannot restart the run in \(path): removing \(name) failed: \(error.localizedDescription)")
            }
        }
        removeTemporaryFiles(in: path) { runFiles.contains($0) }
        // Step directories without a manifest: the first checkpoint, cut short while being written.
        for step in CheckpointFiles.stepDirectories(in: path + "/checkpoints") {
            try? fm.removeItem(atPath: path + "/checkpoints/" + step.name)
        }
        // Legacy checkpoints' temporary files are each rank's own (`CheckpointFiles.removeTemporaryFiles`).
    }

    /// Why `--resume path` cannot work, as one sentence, or nil.
    package static func resumeProblem(_ path: String, checkpointEvery: String?) -> String? {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue else {
            return "--resume \(path): no such run directory"
        }
        guard CheckpointFiles.allCheckpoints(in: path + "/checkpoints").isEmpty else { return nil }
        if let file = finishedFile(path) {
            return "--resume \(path): the run there finished (\(file)) and kept no checkpoint, so there is nothing to continue; choose another --out for a new run"
        }
        guard let every = checkpointEvery, !every.trimmingCharacters(in: .whitespaces).isEmpty else {
            return "--resume \(path): the run was made without --checkpoint-every, so it has no checkpoint to continue from; start it again with --out \(path) (add --checkpoint-every to make it resumable)"
        }
        let period = CheckpointPeriod(parsing: every).map { "one every \($0.description)" } ?? "--checkpoint-every \(every)"
        return "--resume \(path): the run stopped before writing its first checkpoint (\(period) into \(path)/checkpoints), so there is nothing to continue from; start it again with --out \(path)"
    }

    /// Removes the temporary files of `AtomicFile.write` whose target `matches`: left by a
    /// process killed while writing, they are never read. Failures are ignored (a later start retries).
    public static func removeTemporaryFiles(in directory: String, matching matches: (String) -> Bool) {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        for name in names {
            guard let target = AtomicFile.target(ofTemporary: name), matches(target) else { continue }
            try? FileManager.default.removeItem(atPath: directory + "/" + name)
        }
    }

    /// This directory's stale temporary files (rank 0 writes its run files).
    public func removeTemporaryFiles() {
        RunDirectory.removeTemporaryFiles(in: path) { RunDirectory.runFiles.contains($0) }
    }
}

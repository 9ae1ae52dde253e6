import Foundation

/// The names of checkpoint files, independent of how the run's workers are spread over processes:
///
///     checkpoints/step-NNNNNNNN/shared.safetensors     what every process holds alike (rank 0 writes it)
///     checkpoints/step-NNNNNNNN/worker-K.safetensors   worker K's own state (the process holding K writes it)
///     checkpoints/step-NNNNNNNN/manifest.json          every file's size and CRC-32, written last
///
/// A step directory without its manifest is a checkpoint still being written, or one whose
/// writing was cut short. Versions before it wrote one file per process and step,
/// `checkpoints/step-NNNNNNNN-rank-R.safetensors` ("legacy" below), which a run still resumes
/// with the layout that wrote them.
public enum CheckpointFiles {
    public static let sharedFile = "shared.safetensors"
    public static let manifestFile = "manifest.json"

    /// "step-00000012" for step 12.
    public static func directoryName(step: Int) -> String {
        "step-" + String(format: "%08d", step)
    }

    /// "worker-3.safetensors" for worker 3.
    public static func workerFile(_ worker: Int) -> String {
        "worker-\(worker).safetensors"
    }

    /// The worker of a worker file's name ("worker-3.safetensors" → 3).
    package static func worker(ofFile name: String) -> Int? {
        guard name.hasPrefix("worker-"), name.hasSuffix(".safetensors") else { return nil }
        return Int(name.dropFirst("worker-".count).dropLast(".safetensors".count))
    }

    /// The step of a step directory's name ("step-00000012" → 12).
    package static func step(ofDirectory name: String) -> Int? {
        guard name.hasPrefix("step-"), name.count == 13, name.dropFirst(5).allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        return Int(name.dropFirst(5))
    }

    /// The step directories in `directory` (complete or not), oldest first.
    package static func stepDirectories(in directory: String) -> [(name: String, step: Int)] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return names.compactMap { name in step(ofDirectory: name).map { (name, $0) } }.sorted { $0.1 < $1.1 }
    }

    /// True when the step directory `path` holds its manifest (which says nothing yet of its files).
    package static func hasManifest(_ path: String) -> Bool {
        FileManager.default.fileExists(atPath: path + "/" + manifestFile)
    }

    /// Every checkpoint of either format (step directories with their manifest, and legacy
    /// per-rank files), oldest first: what shows that a run directory holds a run to continue.
    package static func allCheckpoints(in directory: String) -> [String] {
        let written = stepDirectories(in: directory).filter { hasManifest(directory + "/" + $0.name) }
        let steps = written + legacyFiles(in: directory)
        return steps.sorted { ($0.step, $0.name) < ($1.step, $1.name) }.map(\.name)
    }

    /// Removes the temporary files of `AtomicFile.write` a process killed while writing left:
    /// rank 0 those in every step directory (no other process writes while a run starts: they
    /// wait for rank 0 at the first collective), every rank its own legacy ones.
    public static func removeTemporaryFiles(in directory: String, rank: Int) {
        RunDirectory.removeTemporaryFiles(in: directory) { $0.hasSuffix("-rank-\(rank).safetensors") && legacyStep(ofFile: $0) != nil }
        guard rank == 0 else { return }
        for entry in stepDirectories(in: directory) {
            RunDirectory.removeTemporaryFiles(in: directory + "/" + entry.name) { _ in true }
        }
    }

    // MARK: - Legacy: one file per process and step

    /// "step-00000012-rank-3.safetensors" for step 12 of rank 3 (the format before step directories).
    package static func legacyFileName(step: Int, rank: Int) -> String {
        "step-" + String(format: "%08d", step) + "-rank-\(rank).safetensors"
    }

    /// The step of a legacy checkpoint file name of any rank ("step-00000012-rank-3.safetensors" → 12).
    package static func legacyStep(ofFile name: String) -> Int? {
        let parts = name.split(separator: "-")
        guard parts.count == 4, parts[0] == "step", parts[2] == "rank", name.hasSuffix(".safetensors"),
              Int(parts[3].dropLast(".safetensors".count)) != nil else { return nil }
        return Int(parts[1])
    }

    /// Every rank's legacy checkpoint files, oldest first.
    package static func legacyFiles(in directory: String) -> [(name: String, step: Int)] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return names.compactMap { name in legacyStep(ofFile: name).map { (name, $0) } }.sorted { ($0.1, $0.0) < ($1.1, $1.0) }
    }

    /// This rank's legacy checkpoint files, oldest first.
    package static func legacyFiles(in directory: String, rank: Int) -> [(name: String, step: Int)] {
        legacyFiles(in: directory).filter { $0.name.hasSuffix("-rank-\(rank).safetensors") }
    }
}

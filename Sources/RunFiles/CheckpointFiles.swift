import Foundation

/// The names of checkpoint files: one file per process and step,
/// `checkpoints/step-NNNNNNNN-rank-R.safetensors`, so that every rank writes and finds its own
/// and a run directory can tell whether it holds a run to continue.
public enum CheckpointFiles {
    /// "step-00000012-rank-3.safetensors" for step 12 of rank 3.
    package static func fileName(step: Int, rank: Int) -> String {
        "step-" + String(format: "%08d", step) + "-rank-\(rank).safetensors"
    }

    /// The step of a checkpoint file name of any rank ("step-00000012-rank-3.safetensors" → 12).
    package static func step(ofFile name: String) -> Int? {
        let parts = name.split(separator: "-")
        guard parts.count == 4, parts[0] == "step", parts[2] == "rank", name.hasSuffix(".safetensors"),
              Int(parts[3].dropLast(".safetensors".count)) != nil else { return nil }
        return Int(parts[1])
    }

    /// Every rank's checkpoint files, oldest first.
    package static func allFiles(in directory: String) -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return names.compactMap { name in step(ofFile: name).map { (name, $0) } }.sorted { $0.1 < $1.1 }.map(\.0)
    }

    /// Removes this rank's temporary checkpoint files left by a process killed while writing.
    public static func removeTemporaryFiles(in directory: String, rank: Int) {
        RunDirectory.removeTemporaryFiles(in: directory) { $0.hasSuffix("-rank-\(rank).safetensors") && step(ofFile: $0) != nil }
    }

    /// This rank's checkpoint files, oldest first.
    package static func files(in directory: String, rank: Int) throws -> [(name: String, step: Int)] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        let suffix = "-rank-\(rank).safetensors"
        return names.compactMap { name -> (String, Int)? in
            guard name.hasPrefix("step-"), name.hasSuffix(suffix),
                  let step = Int(name.dropFirst(5).dropLast(suffix.count)) else { return nil }
            return (name, step)
        }.sorted { $0.1 < $1.1 }
    }
}

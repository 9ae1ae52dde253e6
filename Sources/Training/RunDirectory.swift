import Data
import Foundation
import NN
import Tensor

/// A run's output directory: `config.json`, `metrics.jsonl`, `summary.json`,
/// `final.safetensors` and `checkpoints/`. Every file is written whole and atomically, and a
/// directory that already holds a run is never written over (except by `--resume`).
public final class RunDirectory {
    public let path: String
    static let runFiles = ["config.json", "metrics.jsonl", "summary.json", "final.safetensors", "checkpoints"]

    /// Creates the directory, or checks that an existing one holds no run unless `resuming`.
    public init(path: String, resuming: Bool = false) throws {
        self.path = path
        let fm = FileManager.default
        var isDirectory: ObjCBool = false
        if fm.fileExists(atPath: path, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else { throw TrainingError("--out \(path) exists and is not a directory") }
            if !resuming, let existing = RunDirectory.runFiles.first(where: { fm.fileExists(atPath: path + "/" + $0) }) {
                throw TrainingError("\(path) already holds a run (\(existing)); choose another --out, or continue it with --resume \(path)")
            }
        } else {
            guard !resuming else { throw TrainingError("--resume \(path): no such run directory") }
            do {
                try fm.createDirectory(atPath: path, withIntermediateDirectories: true)
            } catch {
                throw TrainingError("cannot create the output directory \(path): \(error.localizedDescription)")
            }
        }
    }

    public func file(_ name: String) -> String { path + "/" + name }

    static func encoder() -> JSONEncoder {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys]
        e.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return e
    }

    /// `config.json`: the resolved run config plus what was derived from it (under `derived`).
    public func writeConfig(_ config: RunConfig, derived: DerivedConfig) throws {
        var object = try JSONSerialization.jsonObject(with: RunDirectory.encoder().encode(config)) as! [String: Any]
        object["derived"] = try JSONSerialization.jsonObject(with: RunDirectory.encoder().encode(derived))
        let data = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])
        try AtomicFile.write(data, to: file("config.json"))
    }

    /// `metrics.jsonl`: one JSON object per epoch, rewritten whole so it is never half-written.
    public func writeMetrics(_ history: [EpochMetrics]) throws {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        e.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        var data = Data()
        for m in history {
            data.append(try e.encode(m))
            data.append(0x0A)
        }
        try AtomicFile.write(data, to: file("metrics.jsonl"))
    }

    public func writeSummary(_ summary: RunSummary) throws {
        try AtomicFile.write(RunDirectory.encoder().encode(summary), to: file("summary.json"))
    }
}

/// Facts derived from a config and the data, recorded beside it in `config.json`.
public struct DerivedConfig: Codable, Sendable {
    public var normalization: Normalization
    public var stepsPerEpoch: Int
    public var peakLearningRate: Float
    /// The warm-up the run resolved (`warmup_epochs` may say auto).
    public var warmupEpochs: Int
    public var decayEpochs: [Int]
    public var parameters: Int
    public var trainSamples: Int
    public var testSamples: Int

    enum CodingKeys: String, CodingKey {
        case normalization, stepsPerEpoch = "steps_per_epoch", peakLearningRate = "peak_learning_rate"
        case warmupEpochs = "warmup_epochs"
        case decayEpochs = "decay_epochs", parameters, trainSamples = "train_samples", testSamples = "test_samples"
    }
}

import Data
import Foundation
import NN
import Tensor

/// A run's output directory: `config.json`, `metrics.jsonl`, `summary.json`,
/// `final.safetensors`, `checkpoints/`, `syncs.jsonl` (and `vocabulary.json` for text, `async.json` for async). Every file is written whole and atomically, and a
/// directory that already holds a run is never written over (except by `--resume`).
public final class RunDirectory {
    public let path: String
    static let runFiles = ["config.json", "metrics.jsonl", "syncs.jsonl", "summary.json", "final.safetensors", "async.json",
                           TextVocabulary.fileName]

    /// Creates the directory, or checks an existing one: unless `resuming`, it may hold no
    /// finished run and no checkpoint, and what a run that stopped before either left is removed
    /// (a restart, since nothing of it can be continued).
    public init(path: String, resuming: Bool = false) throws {
        self.path = path
        let fm = FileManager.default
        var isDirectory: ObjCBool = false
        if fm.fileExists(atPath: path, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else { throw FileError(path: path, description: "--out \(path) exists and is not a directory") }
            if !resuming { try RunDirectory.clearForRestart(path) }
        } else {
            guard !resuming else { throw FileError(path: path, description: "--resume \(path): no such run directory") }
            do {
                try fm.createDirectory(atPath: path, withIntermediateDirectories: true)
            } catch {
                throw FileError(path: path, description: "cannot create the output directory \(path): \(error.localizedDescription)")
            }
        }
    }

    public func file(_ name: String) -> String { path + "/" + name }

    package static func encoder() -> JSONEncoder {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys]
        e.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return e
    }

    /// `config.json`: the resolved run config plus what was derived from it (under `derived`).
    public func writeConfig(_ config: some Encodable, derived: DerivedConfig) throws {
        var object = try JSONSerialization.jsonObject(with: RunDirectory.encoder().encode(config)) as! [String: Any]
        object["derived"] = try JSONSerialization.jsonObject(with: RunDirectory.encoder().encode(derived))
        let data = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])
        try AtomicFile.write(data, to: file("config.json"))
    }

    /// `derived.arithmetic_version` of the run's config.json: nil when none is recorded (runs
    /// from before versions were), `.some(nil)` when the value is not a whole number (edited by
    /// hand: `true`, `"3"`, `4.5` are none).
    private func recordedArithmeticVersion() -> Int?? {
        struct Record: Decodable {
            struct Derived: Decodable {
                var arithmeticVersion: Int?
                enum CodingKeys: String, CodingKey { case arithmeticVersion = "arithmetic_version" }
            }
            var derived: Derived?
        }
        guard let present = recordedDerived()?["arithmetic_version"], !(present is NSNull),
              let data = FileManager.default.contents(atPath: file("config.json")) else { return nil }
        return .some((try? JSONDecoder().decode(Record.self, from: data))?.derived?.arithmeticVersion)
    }

    /// `derived` of the run's `config.json`, if any.
    private func recordedDerived() -> [String: Any]? {
        guard let data = FileManager.default.contents(atPath: file("config.json")),
              let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return nil }
        return object["derived"] as? [String: Any]
    }

    /// `derived` for the `config.json` of a resumed run: the kernels the run started with stay
    /// recorded (a resume under others warns, `kernelWarnings`, and does not rewrite them), so
    /// neither a resume stopped before its first checkpoint nor one of a finished run changes
    /// what the record says.
    package func keepingRecordedKernels(_ derived: DerivedConfig) -> DerivedConfig {
        guard let recorded = recordedDerived() else { return derived }
        var kept = derived
        if let core = recorded["blas_core_type"] as? String { kept.blasCoreType = core }
        kept.arithmeticVersion = recordedArithmeticVersion() ?? nil
        if let isa = recorded["onednn_isa"] as? String, derived.onednnISA != nil {
            kept.onednnISA = isa
            kept.onednnWinograd = recorded["onednn_winograd"] as? Bool ?? false
        }
        return kept
    }

    /// Warnings when the run being resumed was made with other kernels than this process has:
    /// another OpenBLAS kernel family, or oneDNN on another instruction set (`onednnISA`: this
    /// process's, nil when no convolution of the run is oneDNN's), or on the same one with and
    /// without its Winograd kernels (`winograd`: whether this run's convolutions take them here,
    /// nil where none of them could anywhere; a record without it was direct).
    package func kernelWarnings(onednnISA: String?, winograd: Bool?) -> [String] {
        var warnings: [String] = []
        let derived = recordedDerived()
        switch recordedArithmeticVersion() {
        case .some(.some(let recorded)) where recorded != Arithmetic.version:
            warnings.append("this run was started by a localsgd of arithmetic version \(recorded) and resumes with version \(Arithmetic.version), which computes some models' numbers differently: it continues deterministically, but perhaps not bitwise as it would have (resume it with a localsgd of version \(recorded) to be sure; `localsgd --version` names it)")
        case .some(.none):
            let value = derived?["arithmetic_version"].map { "\($0)" } ?? "?"
            warnings.append("config.json's derived.arithmetic_version (\(value)) is not an arithmetic version, so whether this run continues bitwise as it would have is not known; it is recorded as unknown from now on")
        default: break
        }
        if let recorded = derived?["blas_core_type"] as? String, recorded != BLAS.coreName {
            warnings.append("this run was made with OpenBLAS's \(recorded) kernels and resumes with \(BLAS.coreName) ones, which round some products differently: it continues deterministically but not bitwise as it would have (set OPENBLAS_CORETYPE=\(recorded) to match)")
        }
        if let recorded = derived?["onednn_isa"] as? String, let onednnISA, recorded != onednnISA {
            warnings.append("this run started with oneDNN's convolutions on \(recorded) and resumes on \(onednnISA), whose kernels sum in another order: it continues deterministically but not bitwise as it would have (set DNNL_MAX_CPU_ISA=\(recorded) to match, where the CPU has it; ONEDNN_MAX_CPU_ISA, if set, comes first)")
        } else if let recorded = derived?["onednn_isa"] as? String, onednnISA != nil, let winograd,
                  (derived?["onednn_winograd"] as? Bool ?? false) != winograd {
            let (then, now) = winograd ? ("oneDNN's direct", "Winograd") : ("Winograd", "oneDNN's direct")
            let remedy = winograd ? "set LOCALSGD_ONEDNN_WINOGRAD=0 to match"
                : "unset LOCALSGD_ONEDNN_WINOGRAD to match, on a CPU with AVX2 and FMA"
            warnings.append("this run started with \(then) stride-1 convolutions on \(recorded) and resumes with \(now) ones, which round differently: it continues deterministically but not bitwise as it would have (\(remedy))")
        }
        return warnings
    }

    /// `metrics.jsonl`: one JSON object per epoch, rewritten whole so it is never half-written.
    public func writeMetrics<Record: Encodable>(_ history: [Record]) throws {
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

    public func writeSummary(_ summary: some Encodable) throws {
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
    /// OpenBLAS's kernel family (`BLAS.coreName`) the run started with: families round some
    /// products differently, so a run resumed under another one continues with other numbers.
    /// Nil in older runs.
    public var blasCoreType: String? = BLAS.coreName
    /// The version of the product's arithmetic (`Arithmetic.version`) the run started with; nil
    /// in runs recorded before versions were (which may have been made with any earlier one),
    /// and in runs resumed by such a localsgd, which does not know the field and drops it.
    public var arithmeticVersion: Int? = Arithmetic.version
    /// The instruction set of oneDNN's convolution kernels (`ConvBackend.onednnInstructionSet`)
    /// the run started with, when it has convolutions oneDNN computes, whose bits depend on it;
    /// nil otherwise.
    public var onednnISA: String?
    /// Whether any of those convolutions ran oneDNN's Winograd kernels at the run's training or
    /// evaluation batch size (`Network.usesWinograd`); nil with `onednnISA` nil, and in runs
    /// recorded before oneDNN's Winograd kernels were used, which ran its direct ones.
    public var onednnWinograd: Bool?

    public init(normalization: Normalization, stepsPerEpoch: Int, peakLearningRate: Float, warmupEpochs: Int,
                decayEpochs: [Int], parameters: Int, trainSamples: Int, testSamples: Int) {
        self.normalization = normalization
        self.stepsPerEpoch = stepsPerEpoch
        self.peakLearningRate = peakLearningRate
        self.warmupEpochs = warmupEpochs
        self.decayEpochs = decayEpochs
        self.parameters = parameters
        self.trainSamples = trainSamples
        self.testSamples = testSamples
    }

    enum CodingKeys: String, CodingKey {
        case normalization, stepsPerEpoch = "steps_per_epoch", peakLearningRate = "peak_learning_rate"
        case warmupEpochs = "warmup_epochs"
        case decayEpochs = "decay_epochs", parameters, trainSamples = "train_samples", testSamples = "test_samples"
        case arithmeticVersion = "arithmetic_version"
        case blasCoreType = "blas_core_type", onednnISA = "onednn_isa", onednnWinograd = "onednn_winograd"
    }
}

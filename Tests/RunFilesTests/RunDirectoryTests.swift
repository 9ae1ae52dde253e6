import Foundation
import Data
import Tensor
import TestSupport
import XCTest
@testable import RunFiles

/// No dead ends: a run that stopped before its first checkpoint is started again with --out,
/// --resume says why it cannot continue, and stale temporary files are removed.
final class RunDirectoryTests: XCTestCase {
    let uuid = "0F4D9C3E-8B1A-4C2D-9E7F-123456789ABC"

    private func make(_ files: [String]) throws -> String {
        let dir = try makeTemporaryDirectory(self)
        for file in files {
            try FileManager.default.createDirectory(atPath: dir + "/" + (file as NSString).deletingLastPathComponent,
                                                    withIntermediateDirectories: true)
            try Data("x".utf8).write(to: URL(fileURLWithPath: dir + "/" + file))
        }
        return dir
    }

    private func contents(_ dir: String) -> Set<String> {
        Set(FileManager.default.enumerator(atPath: dir)?.compactMap { $0 as? String } ?? [])
    }

    func testARunStoppedBeforeItsFirstCheckpointIsStartedAgainWithOut() throws {
        let dir = try make(["config.json", "metrics.jsonl", "notes.txt", ".metrics.jsonl.\(uuid).tmp",
                            "checkpoints/.step-00000004-rank-0.safetensors.\(uuid).tmp", ".notes.txt.\(uuid).tmp"])
        XCTAssertNoThrow(try RunDirectory(path: dir))
        XCTAssertEqual(contents(dir), ["notes.txt", ".notes.txt.\(uuid).tmp", "checkpoints",
                                       "checkpoints/.step-00000004-rank-0.safetensors.\(uuid).tmp"],
                       "run files and their temporary files go; the user's files and other ranks' checkpoints stay")
    }

    func testAFinishedOrCheckpointedRunIsNeverWrittenOver() throws {
        let finished = try make(["config.json", "summary.json"])
        XCTAssertThrowsError(try RunDirectory(path: finished)) {
            XCTAssertEqual("\($0)", "\(finished) already holds a run (summary.json); choose another --out")
        }
        let stopped = try make(["config.json", "checkpoints/step-00000004-rank-1.safetensors"])
        XCTAssertThrowsError(try RunDirectory(path: stopped)) {
            XCTAssertEqual("\($0)", "\(stopped) already holds a run that stopped at its checkpoint step-00000004-rank-1.safetensors; continue it with --resume \(stopped), or choose another --out")
        }
        XCTAssertEqual(contents(stopped), ["config.json", "checkpoints", "checkpoints/step-00000004-rank-1.safetensors"])
        let steps = try make(["config.json", "checkpoints/step-00000004/manifest.json", "checkpoints/step-00000008/worker-0.safetensors"])
        XCTAssertThrowsError(try RunDirectory(path: steps)) {
            XCTAssertEqual("\($0)", "\(steps) already holds a run that stopped at its checkpoint step-00000004; continue it with --resume \(steps), or choose another --out",
                           "step 8 has no manifest: no checkpoint")
        }
    }

    func testTemporaryFilesAreRecognisedAndEachRankRemovesOnlyItsOwn() throws {
        XCTAssertEqual(AtomicFile.target(ofTemporary: ".config.json.\(uuid).tmp"), "config.json")
        XCTAssertEqual(AtomicFile.target(ofTemporary: ".step-00000001-rank-0.safetensors.\(uuid).tmp"), "step-00000001-rank-0.safetensors")
        XCTAssertNil(AtomicFile.target(ofTemporary: ".config.json.not-a-uuid.tmp"))
        XCTAssertNil(AtomicFile.target(ofTemporary: "config.json.\(uuid).tmp"))
        XCTAssertNil(AtomicFile.target(ofTemporary: ".\(uuid).tmp"))
        let dir = try make(["checkpoints/.step-00000004-rank-0.safetensors.\(uuid).tmp",
                            "checkpoints/.step-00000004-rank-1.safetensors.\(uuid).tmp",
                            "checkpoints/step-00000002-rank-0.safetensors"])
        CheckpointFiles.removeTemporaryFiles(in: dir + "/checkpoints", rank: 0)
        XCTAssertEqual(contents(dir + "/checkpoints"), [".step-00000004-rank-1.safetensors.\(uuid).tmp", "step-00000002-rank-0.safetensors"])
    }

    /// Resuming under other kernels than the run was made with warns, naming the variable that
    /// reproduces the run's bits; the same kernels, or a run that records none, give no warning.
    func testResumingUnderOtherKernelsWarnsAndNamesTheVariableThatMatches() throws {
        let dir = try makeTemporaryDirectory(self)
        let run = try RunDirectory(path: dir)
        func record(_ derived: [String: Any]) throws {
            try JSONSerialization.data(withJSONObject: ["seed": 1, "derived": derived]).write(to: URL(fileURLWithPath: dir + "/config.json"))
        }
        try record(["blas_core_type": BLAS.coreName, "onednn_isa": "AVX2"])
        XCTAssertEqual(run.kernelWarnings(onednnISA: "AVX2", winograd: false), [])
        XCTAssertEqual(run.kernelWarnings(onednnISA: nil, winograd: nil), [], "no convolution of oneDNN's now")
        let other = run.kernelWarnings(onednnISA: "AVX512_CORE", winograd: true)
        XCTAssertEqual(other.count, 1)
        XCTAssertTrue(other[0].contains("started with oneDNN's convolutions on AVX2 and resumes on AVX512_CORE"), other[0])
        XCTAssertTrue(other[0].contains("set DNNL_MAX_CPU_ISA=AVX2 to match"), other[0])

        // A record without onednn_winograd ran oneDNN's direct kernels.
        try record(["blas_core_type": BLAS.coreName, "onednn_isa": "AVX512_CORE"])
        XCTAssertEqual(run.kernelWarnings(onednnISA: "AVX512_CORE", winograd: false), [])
        let winograd = run.kernelWarnings(onednnISA: "AVX512_CORE", winograd: true)
        XCTAssertEqual(winograd.count, 1)
        XCTAssertTrue(winograd.first?.contains("started with oneDNN's direct stride-1 convolutions on AVX512_CORE and resumes with Winograd ones") == true,
                      "\(winograd)")
        XCTAssertTrue(winograd.first?.contains("set LOCALSGD_ONEDNN_WINOGRAD=0 to match") == true, "\(winograd)")
        try record(["blas_core_type": BLAS.coreName, "onednn_isa": "AVX512_CORE", "onednn_winograd": true])
        XCTAssertEqual(run.kernelWarnings(onednnISA: "AVX512_CORE", winograd: true), [])
        XCTAssertEqual(run.kernelWarnings(onednnISA: "AVX512_CORE", winograd: false).count, 1)

        try record(["blas_core_type": "Prescott"])
        let blas = run.kernelWarnings(onednnISA: "AVX2", winograd: false)
        XCTAssertEqual(blas.count, BLAS.coreName == "Prescott" ? 0 : 1, "an older run records no instruction set")
        if let warning = blas.first { XCTAssertTrue(warning.contains("set OPENBLAS_CORETYPE=Prescott to match"), warning) }
    }

    /// A run started by a localsgd of another arithmetic version warns on resume, naming both
    /// versions; the same version, or a record from before versions were recorded, does not.
    func testResumingUnderAnotherArithmeticVersionWarns() throws {
        let dir = try makeTemporaryDirectory(self)
        let run = try RunDirectory(path: dir)
        func record(_ derived: [String: Any]) throws {
            try JSONSerialization.data(withJSONObject: ["seed": 1, "derived": derived]).write(to: URL(fileURLWithPath: dir + "/config.json"))
        }
        try record(["blas_core_type": BLAS.coreName, "arithmetic_version": Arithmetic.version])
        XCTAssertEqual(run.kernelWarnings(onednnISA: nil, winograd: nil), [])
        try record(["blas_core_type": BLAS.coreName])
        XCTAssertEqual(run.kernelWarnings(onednnISA: nil, winograd: nil), [], "recorded before versions were")
        try record(["blas_core_type": BLAS.coreName, "arithmetic_version": Arithmetic.version - 1])
        let warnings = run.kernelWarnings(onednnISA: nil, winograd: nil)
        XCTAssertEqual(warnings.count, 1)
        XCTAssertTrue(warnings.first?.contains("started by a localsgd of arithmetic version \(Arithmetic.version - 1) and resumes with version \(Arithmetic.version), which computes some models' numbers differently") == true,
                      "\(warnings)")

        // Values edited by hand into something other than a version: said, and dropped.
        var now = DerivedConfig(normalization: Normalization(mean: [0], std: [1]), stepsPerEpoch: 1, peakLearningRate: 0.1,
                                warmupEpochs: 0, decayEpochs: [], parameters: 1, trainSamples: 1, testSamples: 1)
        for bad: Any in [true, "3", 4.5, 1e30] {
            try record(["blas_core_type": BLAS.coreName, "arithmetic_version": bad])
            let said = run.kernelWarnings(onednnISA: nil, winograd: nil)
            XCTAssertEqual(said.count, 1, "\(bad)")
            XCTAssertTrue(said.first?.contains(") is not an arithmetic version, so whether this run continues bitwise") == true, "\(said)")
            XCTAssertNil(run.keepingRecordedKernels(now).arithmeticVersion, "\(bad)")
        }
        try record(["blas_core_type": BLAS.coreName, "arithmetic_version": NSNull()])
        XCTAssertEqual(run.kernelWarnings(onednnISA: nil, winograd: nil), [], "null: none recorded")
        try record(["blas_core_type": BLAS.coreName, "arithmetic_version": Arithmetic.version - 1])
        XCTAssertEqual(now.arithmeticVersion, Arithmetic.version, "a new run records this version")
        XCTAssertEqual(run.keepingRecordedKernels(now).arithmeticVersion, Arithmetic.version - 1, "a resume keeps the version it started with")
        try record(["blas_core_type": BLAS.coreName])
        now.arithmeticVersion = Arithmetic.version
        XCTAssertNil(run.keepingRecordedKernels(now).arithmeticVersion, "a run started before versions were recorded stays unknown")
    }

    /// A resume keeps the kernels the run started with in config.json, whatever it resumes under,
    /// so that a resume stopped early (or of a finished run) does not change what later resumes
    /// are compared with; a run without a record takes this process's.
    func testAResumeKeepsTheRecordedKernels() throws {
        let dir = try makeTemporaryDirectory(self)
        let run = try RunDirectory(path: dir)
        var now = DerivedConfig(normalization: Normalization(mean: [0], std: [1]), stepsPerEpoch: 1, peakLearningRate: 0.1,
                                warmupEpochs: 0, decayEpochs: [], parameters: 1, trainSamples: 1, testSamples: 1)
        now.blasCoreType = "Haswell"
        now.onednnISA = "AVX512_CORE"
        now.onednnWinograd = true
        XCTAssertEqual(run.keepingRecordedKernels(now).onednnISA, "AVX512_CORE", "nothing recorded yet")
        XCTAssertEqual(run.keepingRecordedKernels(now).onednnWinograd, true)
        let otherCore = BLAS.coreName == "Haswell" ? "SkylakeX" : "Haswell"   // not this process's family
        try JSONSerialization.data(withJSONObject: ["derived": ["blas_core_type": otherCore, "onednn_isa": "AVX2"]])
            .write(to: URL(fileURLWithPath: dir + "/config.json"))
        let kept = run.keepingRecordedKernels(now)
        XCTAssertEqual(kept.blasCoreType, otherCore)
        XCTAssertEqual(kept.onednnISA, "AVX2")
        XCTAssertEqual(kept.onednnWinograd, false, "a record without it ran direct kernels")
        XCTAssertEqual(run.kernelWarnings(onednnISA: now.onednnISA, winograd: now.onednnWinograd).count, 2)
        now.onednnISA = nil
        XCTAssertNil(run.keepingRecordedKernels(now).onednnISA, "no convolution of oneDNN's in this run")
    }
}

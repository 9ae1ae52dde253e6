import Comm
import Config
import Foundation
import NN
import RunFiles
import TestSupport
import TrainingTestSupport
import XCTest
@testable import Training

/// A diverged model is never saved: no checkpoint, no final.safetensors, no NaN in the metrics;
/// the run stops with one sentence, and the older, finite checkpoints stay and resume.
final class DivergenceTests: XCTestCase {
    func config() -> RunConfig {
        tinyConfig { $0.model.kind = .resnet20; $0.schedule.epochs = 2; $0.schedule.batchSize = 4; $0.execution.checkpointEvery = "1" }
    }

    /// Every F32 tensor of every safetensors file under `directory` is finite.
    static func assertEveryFileFinite(_ directory: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let files = FileManager.default.enumerator(atPath: directory)?.compactMap { $0 as? String } ?? []
        for name in files where name.hasSuffix(".safetensors") {
            for (tensor, t) in try Safetensors.read(path: directory + "/" + name).tensors where t.dtype == "F32" {
                XCTAssertTrue(try Safetensors.floatArray(t).allSatisfy(\.isFinite), "\(name): \(tensor)", file: file, line: line)
            }
        }
    }

    /// The step that makes the weights NaN is the one the checkpoint would save: it is refused
    /// and the two checkpoints before it, both finite, are kept (the retention deleted them).
    func testNonFiniteWeightsAreNeverCheckpointedAndTheFiniteOnesStay() throws {
        let data = try tinyData(train: 48, test: 12)
        let dir = try makeTemporaryDirectory(self)
        let policy = try XCTUnwrap(CheckpointPolicy(config: config(), directory: dir, stepsPerEpoch: 12))
        XCTAssertThrowsError(try train(config(), data: data) { t in
            if t.globalStep == 5 { t.replicas[0].parameters.pointer[3] = .nan }
            try Checkpoint.write(t, directory: policy.directory)
        }) { error in
            XCTAssertTrue(error is TrainingError, "\(error)")
            XCTAssertTrue("\(error)".hasPrefix("the model became non-finite by epoch 1, step 5 (worker 0's conv1.weight holds nan), so checkpoint step-00000005 was not written; lower --lr"), "\(error)")
        }
        XCTAssertEqual(CheckpointFiles.stepDirectories(in: policy.directory).map(\.step), [3, 4])
        try Self.assertEveryFileFinite(dir)
        let resumed = try Trainer(config: config(), data: data, communicator: InProcessCommunicator(workers: 1, threads: 1))
        try Checkpoint.restoreLatest(into: resumed, directory: dir)
        XCTAssertEqual(resumed.globalStep, 4)
    }

    /// A NaN BatchNorm mean leaves the training loss finite but not the test loss: the epoch's
    /// end is an error with the usual sentence, not an encoder failure, and it is not checkpointed.
    func testNonFiniteTestLossStopsTheRunBeforeAnythingRecordsIt() throws {
        let data = try tinyData(train: 48, test: 12)
        let dir = try makeTemporaryDirectory(self)
        var written: [Int] = []
        XCTAssertThrowsError(try train(config(), data: data) { t in
            try Checkpoint.write(t, directory: dir + "/checkpoints")
            written.append(t.globalStep)
            if t.globalStep == 11 { t.replicas[0].state.pointer[0] = .nan }
        }) { error in
            XCTAssertTrue("\(error)".hasPrefix("the test loss of the averaged model became "), "\(error)")
            XCTAssertTrue("\(error)".hasSuffix("nan at the end of epoch 1; " + divergenceAdvice), "\(error)")  // nan or -nan
        }
        XCTAssertEqual(written.last, 11, "step 12 ended the epoch; its evaluation stopped the run before its checkpoint")
        try Self.assertEveryFileFinite(dir)
    }

    func testNonFiniteFinalModelIsNotWritten() throws {
        let data = try tinyData(train: 48, test: 12)
        let t = try train(tinyConfig { $0.schedule.epochs = 1 }, data: data)
        XCTAssertNoThrow(try t.finalModel())
        t.replicas[0].parameters.pointer[t.replicas[0].parameters.count - 1] = -.infinity
        XCTAssertThrowsError(try t.finalModel()) { error in
            XCTAssertTrue("\(error)".hasPrefix("the model became non-finite by epoch 1, step 12 (the averaged model's fc3.bias holds -inf), so final.safetensors was not written;"), "\(error)")
        }
    }

    /// Checkpoints written before this check existed may hold NaN: resume refuses to continue
    /// from them, and a model file with NaN is no starting point (`--init`).
    func testResumeAndInitRefuseNonFiniteFiles() throws {
        let data = try tinyData(train: 48, test: 12)
        let dir = try makeTemporaryDirectory(self)
        let t = try train(tinyConfig { $0.schedule.epochs = 1 }, data: data)
        try Checkpoint.write(t, directory: dir + "/checkpoints")
        // As an older version would have written it: NaN, and a manifest that matches.
        let path = dir + "/checkpoints/" + CheckpointFiles.directoryName(step: 12)
        let worker = path + "/" + CheckpointFiles.workerFile(0)
        var file = try Safetensors.read(path: worker)
        var weights = try Safetensors.floatArray(file.tensors["worker.0.parameters"]!)
        weights[0] = .nan
        file.tensors["worker.0.parameters"]!.data = weights.withUnsafeBufferPointer { Safetensors.floats($0.baseAddress!, count: $0.count) }
        let bytes = try Safetensors.encode(Array(file.tensors.values), metadata: file.metadata)
        try bytes.write(to: URL(fileURLWithPath: worker))
        var manifest = try CheckpointManifest.read(path, step: 12)
        manifest.files[1] = CheckpointManifest.Entry(name: CheckpointFiles.workerFile(0), data: bytes)
        try manifest.write(to: path)
        let resumed = try Trainer(config: tinyConfig { $0.schedule.epochs = 1 }, data: data, communicator: InProcessCommunicator(workers: 1, threads: 1))
        XCTAssertThrowsError(try Checkpoint.restoreLatest(into: resumed, directory: dir)) { error in
            XCTAssertEqual("\(error)", "\(path) holds a diverged model (worker 0's fc1.weight holds nan), so the run cannot continue from it; delete it to resume from an older checkpoint, or start a new run (--out)")
        }

        t.replicas[0].state.pointer.initialize(repeating: 0, count: t.replicas[0].state.count)
        t.replicas[0].parameters.pointer[5] = .infinity
        try ModelFile.write(t.replicas[0], network: t.network, batchesTracked: 1, to: dir + "/init.safetensors")
        let target = Replica(for: t.network)
        XCTAssertThrowsError(try ModelFile.load(dir + "/init.safetensors", into: target, network: t.network)) { error in
            XCTAssertEqual("\(error)", "\(dir)/init.safetensors: fc1.weight holds inf; a model to start from must be finite")
        }
    }
}

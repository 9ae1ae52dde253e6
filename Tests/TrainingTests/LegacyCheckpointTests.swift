import Comm
import Config
import Foundation
import RunFiles
import TestSupport
import TrainingTestSupport
import XCTest
@testable import Training

/// Checkpoints of versions before step directories (one file per process,
/// `step-NNNNNNNN-rank-R.safetensors`, with one loss sum per process) still resume bitwise with
/// the layout that wrote them, and a run continued from them writes step directories.
final class LegacyCheckpointTests: XCTestCase {
    struct Crash: Error {}

    /// Local SGD, K = 4, H = 3: 6 iterations per epoch; the legacy file is of iteration 4.
    func config() -> RunConfig {
        tinyConfig {
            $0.algorithm.workers = 4; $0.algorithm.kind = .local; $0.algorithm.localSteps = 3
            $0.execution.checkpointEvery = "4"
        }
    }

    /// What the older version wrote for `t` as rank `rank` holding `workers` of its workers.
    func writeLegacy(_ t: Trainer, rank: Int = 0, workers: Range<Int>? = nil, directory: String) throws {
        var state = try t.checkpointState()
        let sums = state.workerEpochSums!
        state.workerEpochSums = nil
        state.version = 1
        if let workers { state.localWorkers = Array(workers) }
        for (key, values) in state.strategy.buffers where values.count > 1 {
            state.buffers["strategy." + key] = values
            state.strategy.buffers[key] = []
        }
        var json = String(decoding: try JSONEncoder().encode(state), as: UTF8.self)
        let processSums = "\"lossSum\":\(WorkerEpochSums.lossSum(sums)),\"correct\":\(sums.reduce(0) { $0 + $1.correct }),"
            + "\"samples\":\(sums.reduce(0) { $0 + $1.samples }),"
        json = json.replacingOccurrences(of: "\"epochState\":{", with: "\"epochState\":{" + processSums)
        let tensors = state.buffers.sorted { $0.key < $1.key }.map { name, values in
            SafetensorsTensor(name: name, dtype: "F32", shape: [values.count], data: values.withUnsafeBufferPointer { Data(buffer: $0) })
        }
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try Safetensors.write(tensors, metadata: ["localsgd.checkpoint": json],
                              to: directory + "/" + CheckpointFiles.legacyFileName(step: t.globalStep, rank: rank))
    }

    func testALegacyCheckpointResumesBitwiseAndTheRunGoesOnInStepDirectories() throws {
        let data = try tinyData()
        let reference = try train(config(), data: data)
        let dir = try makeTemporaryDirectory(self), checkpoints = dir + "/checkpoints"
        XCTAssertThrowsError(try train(config(), data: data) { t in
            if t.globalStep == 4 { try self.writeLegacy(t, directory: checkpoints) }
            if t.globalStep == 5 { throw Crash() }
        })
        let resumed = try Trainer(config: config(), data: data, communicator: InProcessCommunicator(workers: 4, threads: 1))
        XCTAssertEqual(try Checkpoint.restoreLatest(into: resumed, directory: dir), [])
        XCTAssertEqual(resumed.globalStep, 4)
        var held: [[String]] = []
        resumed.afterProgress = { [unowned resumed] in
            guard resumed.globalStep % 4 == 0 else { return }
            try Checkpoint.write(resumed, directory: checkpoints)
            held.append(try FileManager.default.contentsOfDirectory(atPath: checkpoints).sorted())
        }
        _ = try resumed.run()
        XCTAssertEqual(held, [["step-00000004-rank-0.safetensors", "step-00000008"], ["step-00000008", "step-00000012"]])
        for k in 0..<4 {
            XCTAssertEqual(resumed.replicas[k].parameters.array, reference.replicas[k].parameters.array, "worker \(k)")
        }
        XCTAssertEqual(resumed.history.map(\.deterministic), reference.history.map(\.deterministic),
                       "the epoch's training loss continues from the process's sum")
    }

    /// A legacy file of another layout (rank 0 of two) cannot be resumed in one process: a
    /// sentence saying so, and with how many ranks to resume.
    func testALegacyCheckpointOfAnotherLayoutIsAClearError() throws {
        let data = try tinyData()
        let dir = try makeTemporaryDirectory(self)
        try train(config(), data: data) { t in
            if t.globalStep == 4 { try self.writeLegacy(t, rank: 0, workers: 0..<2, directory: dir + "/checkpoints") }
        }
        let resumed = try Trainer(config: config(), data: data, communicator: InProcessCommunicator(workers: 4, threads: 1))
        XCTAssertThrowsError(try Checkpoint.restoreLatest(into: resumed, directory: dir)) { error in
            XCTAssertEqual("\(error)", "\(dir)/checkpoints/step-00000004-rank-0.safetensors was written by an older version of LocalSGD, one file per MPI rank, for workers 0–1 on this rank, but this rank holds workers 0–3; resume it with as many ranks as it was written with (2)")
        }
    }
}

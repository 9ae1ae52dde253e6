import Comm
import Config
import Foundation
import RunFiles
import TestSupport
import TrainingTestSupport
import XCTest
@testable import Training

/// A newest checkpoint that a crash, a full disk or a bad sector damaged is skipped: resume warns,
/// naming the step and what is wrong, continues from the checkpoint before, and ends bitwise
/// where the uninterrupted run ended.
final class CheckpointFallbackTests: XCTestCase {
    struct Crash: Error {}

    /// Local SGD, K = 4, H = 3: 6 iterations per epoch, checkpoints at 4 and 8 (mid-epoch, the
    /// workers apart), the run killed after 10.
    func config() -> RunConfig {
        tinyConfig {
            $0.algorithm.workers = 4; $0.algorithm.kind = .local; $0.algorithm.localSteps = 3
            $0.execution.checkpointEvery = "4"
        }
    }

    /// The run directory of a run killed after iteration 10, its newest checkpoint (8) damaged by `damage`.
    func killedRun(damage: (String) throws -> Void) throws -> String {
        let data = try tinyData()
        let dir = try makeTemporaryDirectory(self)
        let policy = try XCTUnwrap(CheckpointPolicy(config: config(), directory: dir, stepsPerEpoch: 6))
        XCTAssertThrowsError(try train(config(), data: data) { t in
            if policy.isDue(step: t.globalStep) { try Checkpoint.write(t, directory: policy.directory) }
            if t.globalStep == 10 { throw Crash() }
        })
        XCTAssertEqual(CheckpointFiles.stepDirectories(in: policy.directory).map(\.step), [4, 8])
        try damage(policy.directory + "/" + CheckpointFiles.directoryName(step: 8))
        return dir
    }

    func testADamagedNewestCheckpointFallsBackToThePreviousOneWithAWarning() throws {
        let data = try tinyData()
        let reference = try train(config(), data: data)
        let cases: [(String, (String) throws -> Void, String)] = [
            ("a worker file cut short", { try Self.truncate($0 + "/worker-2.safetensors") },
             "worker-2.safetensors is 100 bytes, its manifest says "),
            ("a flipped byte", { try Self.flipByte($0 + "/worker-1.safetensors") },
             "worker-1.safetensors has CRC-32 "),
            ("the manifest deleted", { try FileManager.default.removeItem(atPath: $0 + "/manifest.json") },
             "it has no manifest.json (its writing was cut short)"),
            ("a worker file missing", { try FileManager.default.removeItem(atPath: $0 + "/worker-3.safetensors") },
             "worker-3.safetensors is missing"),
            ("the shared file damaged", { try Self.flipByte($0 + "/shared.safetensors") },
             "shared.safetensors has CRC-32 "),
        ]
        for (what, damage, problem) in cases {
            let dir = try killedRun(damage: damage)
            let resumed = try Trainer(config: config(), data: data, communicator: InProcessCommunicator(workers: 4, threads: 1))
            let warnings = try Checkpoint.restoreLatest(into: resumed, directory: dir)
            XCTAssertEqual(warnings.count, 1, "\(what): \(warnings)")
            let prefix = "the checkpoint of step 8 (\(dir)/checkpoints/step-00000008) cannot be used: "
            XCTAssertTrue(warnings.first?.hasPrefix(prefix + problem) ?? false, "\(what): \(warnings)")
            XCTAssertTrue(warnings.first?.hasSuffix("; trying the one before") ?? false, "\(what): \(warnings)")
            XCTAssertEqual(resumed.globalStep, 4, what)
            XCTAssertEqual(CheckpointFiles.stepDirectories(in: dir + "/checkpoints").map(\.step), [4], "\(what): the damaged step goes")
            _ = try resumed.run()
            try assertSameRun(resumed, reference, what)
        }
    }

    /// Every checkpoint damaged: an error listing each step's problem, nothing removed.
    func testEveryCheckpointDamagedIsAnErrorNamingEachProblem() throws {
        let data = try tinyData()
        let dir = try killedRun { try FileManager.default.removeItem(atPath: $0 + "/manifest.json") }
        try Self.truncate(dir + "/checkpoints/step-00000004/worker-0.safetensors")
        let resumed = try Trainer(config: config(), data: data, communicator: InProcessCommunicator(workers: 4, threads: 1))
        XCTAssertThrowsError(try Checkpoint.restoreLatest(into: resumed, directory: dir)) { error in
            let message = "\(error)"
            XCTAssertTrue(message.hasPrefix("--resume \(dir): \(dir)/checkpoints holds no checkpoint that can be read whole (step 8: it has no manifest.json (its writing was cut short); step 4: worker-0.safetensors is 100 bytes, its manifest says "), message)
            XCTAssertTrue(message.hasSuffix("; delete \(dir)/checkpoints and start the run again with --out \(dir), or start it in another directory"), message)
        }
        XCTAssertEqual(CheckpointFiles.stepDirectories(in: dir + "/checkpoints").map(\.step), [4, 8])
    }

    /// Writing keeps the newest two checkpoints with a manifest: a step directory a crash left
    /// without one is never kept in their place; it goes once a newer complete one is written.
    func testTheNewestTwoCompleteCheckpointsAreKept() throws {
        let data = try tinyData()
        let dir = try makeTemporaryDirectory(self)
        let checkpoints = dir + "/checkpoints"
        try FileManager.default.createDirectory(atPath: checkpoints + "/step-00000002", withIntermediateDirectories: true)
        var held: [[Int]] = []
        try train(config(), data: data) { t in
            guard t.globalStep % 4 == 0 else { return }
            try Checkpoint.write(t, directory: checkpoints)
            held.append(CheckpointFiles.stepDirectories(in: checkpoints).map(\.step))
        }
        XCTAssertEqual(held, [[4], [4, 8], [8, 12]])
        for step in [8, 12] {
            XCTAssertNoThrow(try CheckpointManifest.read(checkpoints + "/" + CheckpointFiles.directoryName(step: step), step: step))
        }
    }

    static func truncate(_ path: String) throws {
        try Data(contentsOf: URL(fileURLWithPath: path)).prefix(100).write(to: URL(fileURLWithPath: path))
    }

    /// Flips the bits of one byte in the tensor data (past the header), keeping the size.
    static func flipByte(_ path: String) throws {
        var bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        bytes[bytes.count - 5] ^= 0xff
        try bytes.write(to: URL(fileURLWithPath: path))
    }

    func assertSameRun(_ a: Trainer, _ b: Trainer, _ what: String, file: StaticString = #filePath, line: UInt = #line) throws {
        for k in 0..<4 {
            XCTAssertEqual(a.replicas[k].parameters.array, b.replicas[k].parameters.array, "\(what): worker \(k)", file: file, line: line)
            XCTAssertEqual(a.optimizerStates[k].momentum.array, b.optimizerStates[k].momentum.array, what, file: file, line: line)
        }
        XCTAssertEqual(a.history.map(\.deterministic), b.history.map(\.deterministic), what, file: file, line: line)
        XCTAssertEqual(a.summary().syncs, b.summary().syncs, what, file: file, line: line)
        XCTAssertEqual(a.summary().bytesCommunicated, b.summary().bytesCommunicated, what, file: file, line: line)
    }
}

extension EpochMetrics {
    /// The fields that do not depend on wall-clock time, as one comparable string.
    var deterministic: String {
        "\(epoch) \(steps) \(trainLoss.bitPattern) \(trainAccuracy.bitPattern) \(testLoss.bitPattern) \(testAccuracy.bitPattern) \(lr.bitPattern) \(syncs) \(bytesCommunicated)"
    }
}

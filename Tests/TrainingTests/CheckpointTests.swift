import Config
import Algorithms
import Foundation
import RunFiles
import TestSupport
import TrainingTestSupport
import XCTest
@testable import Training

/// Resume from a checkpoint gives bitwise the same run as no interruption.
final class CheckpointTests: XCTestCase {
    struct Crash: Error {}

    func config(_ kind: AlgorithmKindAlias = .slowmo, outer: OuterOptimizerKind = .nesterov) -> RunConfig {
        tinyConfig {
            if kind == .diloco { $0.algorithm.outerLrSchedule = .cosine; $0.algorithm.outerOptimizer = outer }
            $0.algorithm.workers = 3; $0.schedule.batchSize = 4; $0.algorithm.kind = kind; $0.algorithm.localSteps = 3; $0.algorithm.switchEpoch = 1
            $0.model.kind = .resnet20; $0.schedule.epochs = 2; $0.schedule.lr = 0.2; $0.schedule.warmupEpochs = 1; $0.execution.checkpointEvery = "4"
        }
    }

    func testResumeAtSeveralPointsIsBitwiseIdentical() throws {
        for (kind, outer) in [(AlgorithmKindAlias.slowmo, OuterOptimizerKind.nesterov), (.diloco, .nesterov), (.diloco, .adam)] {
            try checkResumeAtSeveralPoints(kind, outer)
        }
    }

    func checkResumeAtSeveralPoints(_ kind: AlgorithmKindAlias, _ outer: OuterOptimizerKind) throws {
        func config() -> RunConfig { self.config(kind, outer: outer) }
        let data = try tinyData(train: 72, test: 24)
        let reference = try train(config(), data: data)
        let steps = reference.totalSteps
        XCTAssertEqual(steps, 12)
        for crashAfter in [5, 6, 9] {
            let dir = (path: try makeTemporaryDirectory(self), ())
            let policy = try XCTUnwrap(CheckpointPolicy(config: config(), directory: dir.path, stepsPerEpoch: 6))
            XCTAssertThrowsError(try train(config(), data: data) { t in
                if policy.isDue(step: t.globalStep) { try Checkpoint.write(t, directory: policy.directory) }
                if t.globalStep == crashAfter { throw Crash() }
            })
            let resumed = try Trainer(config: config(), data: data, communicator: InProcessCommunicatorFactory.make(3))
            try Checkpoint.restoreLatest(into: resumed, directory: dir.path)
            XCTAssertEqual(resumed.globalStep, crashAfter / 4 * 4)
            let summary = try resumed.run()
            for k in 0..<3 {
                XCTAssertEqual(resumed.replicas[k].parameters.array, reference.replicas[k].parameters.array, "\(kind) \(outer), crash at \(crashAfter)")
                XCTAssertEqual(resumed.replicas[k].state.array, reference.replicas[k].state.array)
                XCTAssertEqual(resumed.optimizerStates[k].momentum.array, reference.optimizerStates[k].momentum.array)
            }
            XCTAssertEqual(summary.syncs, reference.summary().syncs)
            XCTAssertEqual(summary.bytesCommunicated, reference.summary().bytesCommunicated)
            XCTAssertEqual(resumed.history.map(\.testAccuracy), reference.history.map(\.testAccuracy))
        }
    }

    func testMismatchedOrCorruptCheckpointIsAClearError() throws {
        let data = try tinyData(train: 72, test: 24)
        let dir = (path: try makeTemporaryDirectory(self), ())
        let policy = try XCTUnwrap(CheckpointPolicy(config: config(), directory: dir.path, stepsPerEpoch: 6))
        try train(config(), data: data) { t in
            if policy.isDue(step: t.globalStep) { try Checkpoint.write(t, directory: policy.directory) }
        }
        var other = config()
        other.algorithm.localSteps = 2
        let t = try Trainer(config: other, data: data, communicator: InProcessCommunicatorFactory.make(3))
        XCTAssertThrowsError(try Checkpoint.restoreLatest(into: t, directory: dir.path)) { error in
            XCTAssertTrue("\(error)".contains("local_steps"), "\(error)")
        }
        XCTAssertEqual(CheckpointFiles.stepDirectories(in: policy.directory).map(\.step), [8, 12], "only the two newest checkpoints are kept")
        // A newest checkpoint cut short is no checkpoint: the run goes on from the one before
        // (with a warning), and the damaged one goes (the run writes that step again).
        let newest = policy.directory + "/step-00000012/worker-1.safetensors"
        let bytes = try Data(contentsOf: URL(fileURLWithPath: newest))
        try bytes.prefix(bytes.count / 2).write(to: URL(fileURLWithPath: newest))
        let fresh = try Trainer(config: config(), data: data, communicator: InProcessCommunicatorFactory.make(3))
        let warnings = try Checkpoint.restoreLatest(into: fresh, directory: dir.path)
        XCTAssertEqual(warnings, ["the checkpoint of step 12 (\(policy.directory)/step-00000012) cannot be used: worker-1.safetensors is \(bytes.count / 2) bytes, its manifest says \(bytes.count) (cut short or overwritten); trying the one before"])
        XCTAssertEqual(fresh.globalStep, 8)
        XCTAssertEqual(CheckpointFiles.stepDirectories(in: policy.directory).map(\.step), [8])
        XCTAssertThrowsError(try Checkpoint.restoreLatest(into: fresh, directory: dir.path + "/nothing")) { error in
            XCTAssertTrue("\(error)".contains("no such run directory"), "\(error)")
        }
    }
}

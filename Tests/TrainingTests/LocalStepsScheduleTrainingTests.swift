import Algorithms
import Config
import Foundation
import TestSupport
import TrainingTestSupport
import XCTest
@testable import Training

/// Whole trainings under a `--local-steps` schedule and QSR: bitwise resume, any thread count,
/// and what summary.json records.
final class LocalStepsScheduleTrainingTests: XCTestCase {
    struct Crash: Error {}

    /// 3 workers, 6 iterations per epoch, 4 epochs (1 of warm-up), a cosine from 0.1 (0.1, 0.075,
    /// 0.025 after warm-up): with α = 0.155 and H_base 2, QSR's H is 2 in warm-up, ⌊2.40⌋ → 2 in
    /// epoch 1, ⌊4.27⌋ = 4 in epoch 2, and in epoch 3 ⌊38.4⌋ cut to the 4 iterations left.
    func config(_ kind: AlgorithmKind = .local, threads: Int = 1, _ edit: (inout RunConfig) -> Void = { _ in }) -> RunConfig {
        tinyConfig {
            $0.algorithm.workers = 3; $0.schedule.batchSize = 4; $0.algorithm.kind = kind; $0.algorithm.localSteps = 2
            $0.algorithm.qsrAlpha = 0.155; $0.schedule.epochs = 4; $0.schedule.lr = 0.1; $0.schedule.scaleLr = false
            $0.schedule.lrSchedule = .cosine; $0.schedule.warmupEpochs = .epochs(1); $0.execution.checkpointEvery = "4"
            $0.execution.threads = threads
            edit(&$0)
        }
    }

    func testQSRRecordsItsHAndSyncs() throws {
        let data = try tinyData(train: 72, test: 24)
        let t = try train(config(), data: data)
        let summary = t.summary()
        XCTAssertEqual(t.totalSteps, 24)
        XCTAssertEqual(summary.effectiveLocalSteps, [[0, 2], [12, 4]])
        XCTAssertEqual(summary.syncs, 9)  // after 1, 3, 5, 7, 9, 11, 15, 19, 23
        XCTAssertEqual(t.strategy.averagingSchedule?.count, 9)
        XCTAssertEqual(summary.localSteps, 2)
        let json = String(decoding: try JSONEncoder().encode(summary), as: UTF8.self)
        XCTAssertTrue(json.contains(#""effective_local_steps":[[0,2]"#), json)
        // A constant H: no such field.
        let constant = try train(config { $0.algorithm.qsrAlpha = nil }, data: data).summary()
        XCTAssertNil(constant.effectiveLocalSteps)
        XCTAssertFalse(String(decoding: try JSONEncoder().encode(constant), as: UTF8.self).contains("effective_local_steps"))
    }

    /// A one-entry schedule over a run whose length H divides trains bitwise as the constant H.
    func testAOneEntryScheduleIsTheConstant() throws {
        let data = try tinyData(train: 72, test: 24)
        let constant = try train(config { $0.algorithm.qsrAlpha = nil; $0.algorithm.localSteps = 4 }, data: data)
        let schedule = try train(config { $0.algorithm.qsrAlpha = nil; $0.algorithm.localStepsSetting = .schedule([.init(localSteps: 4, start: 0, inEpochs: false)]) }, data: data)
        XCTAssertEqual(parameters(schedule), parameters(constant))
        XCTAssertEqual(schedule.summary().syncs, constant.summary().syncs)
    }

    func testResumeWithQSRIsBitwise() throws {
        let data = try tinyData(train: 72, test: 24)
        for kind in [AlgorithmKind.local, .diloco] {
            let reference = try train(config(kind), data: data)
            for crashAfter in [5, 14, 21] {
                let dir = try makeTemporaryDirectory(self)
                let policy = try XCTUnwrap(CheckpointPolicy(config: config(kind), directory: dir, stepsPerEpoch: 6))
                XCTAssertThrowsError(try train(config(kind), data: data) { t in
                    if policy.isDue(step: t.globalStep) { try Checkpoint.write(t, directory: policy.directory) }
                    if t.globalStep == crashAfter { throw Crash() }
                })
                let resumed = try Trainer(config: config(kind), data: data, communicator: InProcessCommunicatorFactory.make(3))
                try Checkpoint.restoreLatest(into: resumed, directory: dir)
                XCTAssertEqual(resumed.globalStep, crashAfter / 4 * 4)
                let summary = try resumed.run()
                for k in 0..<3 {
                    XCTAssertEqual(resumed.replicas[k].parameters.array, reference.replicas[k].parameters.array, "\(kind), crash at \(crashAfter)")
                    XCTAssertEqual(resumed.optimizerStates[k].momentum.array, reference.optimizerStates[k].momentum.array)
                }
                XCTAssertEqual(summary.syncs, reference.summary().syncs)
                XCTAssertEqual(summary.effectiveLocalSteps, reference.summary().effectiveLocalSteps)
            }
        }
    }

    func testScheduleAndQSRGiveTheSameNumbersOnAnyThreadCount() throws {
        let data = try tinyData(train: 72, test: 24)
        let variants: [(String, (inout RunConfig) -> Void)] = [
            ("qsr", { _ in }),
            ("schedule", { $0.algorithm.qsrAlpha = nil; $0.algorithm.localStepsSetting = try! LocalStepsSetting(parsing: "1@0,3@1e,5@14") }),
            ("slowmo qsr over a schedule", { $0.algorithm.kind = .slowmo; $0.algorithm.localStepsSetting = try! LocalStepsSetting(parsing: "2@0,3@2e") }),
        ]
        for (name, edit) in variants {
            let one = try train(config(threads: 1, edit), data: data)
            for threads in [2, 3] {
                let other = try train(config(threads: threads, edit), data: data)
                for k in 0..<3 { XCTAssertEqual(parameters(other, worker: k), parameters(one, worker: k), "\(name), \(threads) threads") }
                XCTAssertEqual(other.history.map(\.testLoss), one.history.map(\.testLoss))
            }
        }
    }
}

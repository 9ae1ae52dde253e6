import Algorithms
import Comm
import Config
import TestSupport
import TrainingTestSupport
import XCTest
@testable import Training

/// Streaming DiLoCo through whole trainings: peak bytes per step by hand, resume in the middle
/// of an overlap bitwise, thread independence, and the modelled timeline by hand.
final class StreamingTrainingTests: XCTestCase {
    struct Crash: Error {}

    /// The mlp on 1×8×8 inputs, 3 classes: fc1 64·256 + 256, fc2 256·256 + 256, fc3 256·3 + 3.
    let fc1 = 64 * 256 + 256, fc2 = 256 * 256 + 256, fc3 = 256 * 3 + 3

    func streaming(_ edit: (inout RunConfig) -> Void = { _ in }) -> RunConfig {
        tinyConfig {
            $0.algorithm.kind = .diloco; $0.algorithm.workers = 2; $0.algorithm.localSteps = 3
            $0.algorithm.streamingFragments = 3
            edit(&$0)
        }
    }

    /// 96 samples over K = 2 workers of B = 4: 12 iterations an epoch, 24 in all. DiLoCo at H = 3
    /// sends the whole model 8 times, at every third iteration; P = 3 fragments (one layer each,
    /// t_p = 0, 1, 2) send each layer 8 times too, one layer per iteration: the same total, and a
    /// peak of the largest layer. Minibatch all-reduces every gradient every iteration; K = 1
    /// sends nothing.
    func testPeakBytesPerStepByHand() throws {
        let data = try tinyData()
        let plain = try train(streaming { $0.algorithm.streamingFragments = 1 }, data: data).summary()
        let streamed = try train(streaming(), data: data).summary()
        let minibatch = try train(tinyConfig { $0.algorithm.workers = 2 }, data: data).summary()
        let alone = try train(streaming { $0.algorithm.workers = 1 }, data: data).summary()
        let all = fc1 + fc2 + fc3
        XCTAssertEqual(plain.parameters, all)
        XCTAssertEqual(plain.steps, 24)
        XCTAssertEqual(plain.peakBytesPerStep, 4 * all)
        XCTAssertEqual(plain.bytesCommunicated, 8 * 4 * all)
        XCTAssertEqual(plain.syncs, 8)
        XCTAssertEqual(streamed.peakBytesPerStep, 4 * fc2)
        XCTAssertEqual(streamed.bytesCommunicated, 8 * 4 * all)
        XCTAssertEqual(streamed.syncs, 24)
        XCTAssertEqual(minibatch.peakBytesPerStep, 4 * all)
        XCTAssertEqual(minibatch.bytesCommunicated, 24 * 4 * all)
        XCTAssertEqual(alone.peakBytesPerStep, 0)
    }

    /// P = 3, H = 3, τ = 2, outer Adam at a cosine rate: the checkpoint after 4 iterations holds
    /// fragments 0 (started after t = 3) and 1 (after t = 4) in flight; a run resumed from it, or
    /// from the one after 8, ends bitwise as the uninterrupted run, with the same syncs, bytes and
    /// peak. Two threads give the same numbers as one.
    func testResumeMidOverlapIsBitwise() throws {
        func config() -> RunConfig {
            streaming {
                $0.algorithm.workers = 3; $0.algorithm.streamingOverlap = 2; $0.algorithm.streamingMix = 0.25
                $0.algorithm.outerOptimizer = .adam; $0.algorithm.outerLr = 0.01; $0.algorithm.outerLrSchedule = .cosine
                $0.execution.checkpointEvery = "4"
            }
        }
        let data = try tinyData(train: 96, test: 24)
        let reference = try train(config(), data: data)
        XCTAssertEqual(reference.totalSteps, 16)
        for crashAfter in [5, 9] {
            let dir = try makeTemporaryDirectory(self)
            let policy = try XCTUnwrap(CheckpointPolicy(config: config(), directory: dir, stepsPerEpoch: 8))
            XCTAssertThrowsError(try train(config(), data: data) { t in
                if policy.isDue(step: t.globalStep) { try Checkpoint.write(t, directory: policy.directory) }
                if t.globalStep == 4 {
                    let counters = t.strategy.saveState().counters ?? [:]
                    XCTAssertEqual(counters["streaming.0.apply_after"], 4, "fragment 0 in flight")
                    XCTAssertEqual(counters["streaming.1.apply_after"], 5, "fragment 1 in flight")
                }
                if t.globalStep == crashAfter { throw Crash() }
            })
            let resumed = try Trainer(config: config(), data: data, communicator: InProcessCommunicatorFactory.make(3))
            try Checkpoint.restoreLatest(into: resumed, directory: dir)
            XCTAssertEqual(resumed.globalStep, crashAfter / 4 * 4)
            let summary = try resumed.run()
            for k in 0..<3 {
                XCTAssertEqual(parameters(resumed, worker: k), parameters(reference, worker: k), "crash after \(crashAfter), worker \(k)")
                XCTAssertEqual(resumed.optimizerStates[k].momentum.array, reference.optimizerStates[k].momentum.array)
            }
            XCTAssertEqual(summary.syncs, reference.summary().syncs)
            XCTAssertEqual(summary.bytesCommunicated, reference.summary().bytesCommunicated)
            XCTAssertEqual(summary.peakBytesPerStep, reference.summary().peakBytesPerStep)
            XCTAssertEqual(resumed.history.map(\.testLoss), reference.history.map(\.testLoss))
        }
        let twoThreads = try train(config().with { $0.execution.threads = 2 }, data: data)
        for k in 0..<3 { XCTAssertEqual(parameters(twoThreads, worker: k), parameters(reference, worker: k), "2 threads, worker \(k)") }
        let plain = try train(config().with { $0.algorithm.streamingOverlap = 0; $0.algorithm.streamingMix = nil }, data: data)
        XCTAssertGreaterThan(zip(parameters(plain), parameters(reference)).map { abs($0 - $1) }.max()!, 1e-6,
                             "the overlap changes the result")
    }

    /// Compute of 1 s an iteration. A 2.5 s collective after iteration 0 with τ = 2 is needed
    /// after iteration 2, when 2 s of compute have passed: 0.5 s exposed. A 1.5 s one after
    /// iteration 3 fits behind iterations 4 and 5. Two 3 s collectives after iterations 6 and 7
    /// with τ = 3 share the link: the first runs 7.5–10.5, the second waits for it, runs
    /// 10.5–13.5 and is waited for after iteration 10 (clock 11.5 → 13.5). τ = 0 adds compute and
    /// communication.
    func testModelledTimelineByHand() {
        var t = ModelledTimeline()
        XCTAssertEqual(t.advance(step: 0, compute: 1, communication: 2.5, overlap: 2), 1)
        XCTAssertEqual(t.advance(step: 1, compute: 1, communication: 0, overlap: 2), 1)
        XCTAssertEqual(t.advance(step: 2, compute: 1, communication: 0, overlap: 2), 1.5)
        XCTAssertEqual(t.clock, 3.5)
        for step in 3...5 { t.advance(step: step, compute: 1, communication: step == 3 ? 1.5 : 0, overlap: 2) }
        XCTAssertEqual(t.clock, 6.5)
        for step in 6...10 { t.advance(step: step, compute: 1, communication: step <= 7 ? 3 : 0, overlap: 3) }
        XCTAssertEqual(t.clock, 13.5)
        var blocking = ModelledTimeline()
        XCTAssertEqual(blocking.advance(step: 0, compute: 1, communication: 2.5, overlap: 0), 3.5)
    }
}

import Comm
import Config
import Data
import Tensor
import TestSupport
import Training
import TrainingTestSupport
import XCTest
@testable import AsyncTraining

/// The sequentialised mode of async continues bitwise from a checkpoint taken at an epoch end,
/// also when a round has been snapshotted or is in flight there; the concurrent mode refuses
/// checkpoints with a sentence.
final class AsyncCheckpointTests: XCTestCase {
    struct Crash: Error {}

    func config(averageEvery: Int, delay: Int, reset: Bool = false) -> RunConfig {
        tinyConfig {
            $0.algorithm.momentumSync = reset ? .reset : .local
            $0.algorithm.kind = .async; $0.async.asyncDeterministic = true; $0.async.nodes = 2; $0.async.threadsPerNode = 2
            $0.async.averageEvery = averageEvery; $0.async.asyncDelay = delay; $0.schedule.batchSize = 2; $0.schedule.epochs = 3
            $0.execution.checkpointEvery = "1e"
        }
    }

    func trainer(_ config: RunConfig, data: DataSplit) throws -> AsyncTrainer {
        try AsyncTrainer(config: config, data: data, communicator: InProcessCommunicator(workers: 2, threads: 1))
    }

    func bitwise(_ a: FloatBuffer, _ b: FloatBuffer) -> Bool { a.array.map(\.bitPattern) == b.array.map(\.bitPattern) }

    func testResumeAtEveryEpochEndIsBitwiseIdentical() throws {
        let data = try tinyData(train: 48, test: 12)
        var sawARoundAtAnEpochEnd = false
        for (h, delay, reset) in [(5, 3, false), (7, 6, false), (4, 0, false), (5, 3, true)] {
            let reference = try trainer(config(averageEvery: h, delay: delay, reset: reset), data: data)
            let referenceSummary = try reference.run()
            for crashEpoch in [1, 2] {
                let dir = try makeTemporaryDirectory(self)
                let crashing = try trainer(config(averageEvery: h, delay: delay, reset: reset), data: data)
                crashing.afterProgress = { [unowned crashing] in
                    if crashing.sequential?.schedule.snapshotted.contains(true) == true { sawARoundAtAnEpochEnd = true }
                    try Checkpoint.write(crashing, directory: dir + "/checkpoints")
                    if crashing.globalStep == crashEpoch * crashing.stepsPerEpoch { throw Crash() }
                }
                XCTAssertThrowsError(try crashing.run())
                let resumed = try trainer(config(averageEvery: h, delay: delay, reset: reset), data: data)
                try Checkpoint.restoreLatest(into: resumed, directory: dir)
                XCTAssertEqual(resumed.globalStep, crashEpoch * resumed.stepsPerEpoch)
                let summary = try resumed.run()
                let what = "H \(h), delay \(delay), reset \(reset), crash after epoch \(crashEpoch)"
                for n in 0..<2 {
                    XCTAssertTrue(bitwise(resumed.nodes[n].parameters, reference.nodes[n].parameters), "node \(n) weights, \(what)")
                    XCTAssertTrue(bitwise(resumed.nodes[n].state, reference.nodes[n].state), "node \(n) statistics, \(what)")
                }
                for (a, b) in zip(resumed.workers, reference.workers) {
                    XCTAssertTrue(bitwise(a.optimizerState.momentum, b.optimizerState.momentum), "worker \(a.index) momentum, \(what)")
                }
                XCTAssertEqual(resumed.history.map(\.testAccuracy), reference.history.map(\.testAccuracy), what)
                XCTAssertEqual(resumed.history.map(\.syncs), reference.history.map(\.syncs), what)
                XCTAssertEqual(summary.syncs, referenceSummary.syncs, what)
                XCTAssertEqual(summary.bytesCommunicated, referenceSummary.bytesCommunicated, what)
                XCTAssertEqual(resumed.stats.updatesDuringRounds, reference.stats.updatesDuringRounds, what)
            }
        }
        XCTAssertTrue(sawARoundAtAnEpochEnd, "some checkpoint was taken with a round begun")
    }

    func testTheConcurrentModeRefusesCheckpointsWithASentence() {
        var c = config(averageEvery: 4, delay: 0)
        c.async.asyncDeterministic = false
        c.async.asyncDelay = 0
        XCTAssertThrowsError(try c.validate()) {
            XCTAssertTrue("\($0)".hasPrefix("--checkpoint-every with async needs --async-deterministic"), "\($0)")
        }
        var steps = config(averageEvery: 4, delay: 0)
        steps.execution.checkpointEvery = "5"
        XCTAssertThrowsError(try steps.validate()) {
            XCTAssertEqual("\($0)", "async writes checkpoints at epoch ends, where every thread has stopped: give --checkpoint-every in epochs (e.g. 1e), got '5'")
        }
    }
}

import Algorithms
import Comm
import Config
import Data
import Experiments
import Foundation
import Training
import TrainingTestSupport
import XCTest
@testable import AsyncTraining

/// The concurrent mode of asynchronous local SGD: real threads sharing each node's replica and
/// the background averaging loop. Its results depend on the interleaving, so these tests check
/// what must hold whatever it is: it finishes, learns, and its counters add up. Run them once
/// under ThreadSanitizer as well (README, "Asynchronous local SGD").
final class AsyncConcurrentTests: XCTestCase {
    func asyncConfig(_ edit: (inout RunConfig) -> Void) -> RunConfig {
        tinyConfig {
            $0.algorithm.kind = .async
            $0.async.nodes = 2
            $0.async.threadsPerNode = 2
            $0.async.averageEvery = 2
            $0.schedule.batchSize = 4
            $0.execution.threads = 2
            edit(&$0)
        }
    }

    func trainAsync(_ config: RunConfig, data: DataSplit) throws -> (AsyncTrainer, RunSummary) {
        let t = try AsyncTrainer(config: config, data: data,
                                 communicator: InProcessCommunicator(workers: config.async.nodes, threads: 1))
        return (t, try t.run())
    }

    /// 2 nodes × 2 threads, mlp on 3-class synthetic data: well above chance (1/3) after 4 epochs
    /// (single-worker training of the same model gets ≈ 90 %).
    func testTwoNodesOfTwoThreadsLearn() throws {
        let data = try tinyData(train: 384, test: 96)
        let (t, s) = try trainAsync(asyncConfig { $0.schedule.epochs = 4 }, data: data)
        XCTAssertGreaterThan(s.testAccuracy, 0.8, "test accuracy \(s.testAccuracy)")
        XCTAssertLessThan(s.trainLoss, t.history[0].trainLoss, "the training loss fell")
        XCTAssertEqual(s.workers, 4)
        XCTAssertEqual(s.steps, 4 * t.stepsPerEpoch)
        XCTAssertEqual(t.stepsPerEpoch, 384 / 4 / 4)
        XCTAssertGreaterThan(s.syncs, 0)
        XCTAssertEqual(t.stats.rounds, s.syncs)
        XCTAssertLessThanOrEqual(s.syncs, 4 * t.stepsPerEpoch * 2 / 2 + 1, "at most one round per H node steps, plus the last")
        let floats = t.network.layout.count + t.network.stateLayout.count
        XCTAssertEqual(s.bytesCommunicated, s.syncs * 4 * floats, "one all-reduce of weights and statistics per round")
        // After the last epoch's line at most one round lands: one in flight, or one completed at the end.
        XCTAssertTrue((0...1).contains(s.syncs - t.history.map(\.syncs).reduce(0, +)), "\(s.syncs) vs \(t.history.map(\.syncs))")
        XCTAssertLessThanOrEqual(t.stats.forcedRounds, 1)
        for n in t.nodes { XCTAssertTrue(n.parameters.array.allSatisfy(\.isFinite)) }
        XCTAssertLessThan(s.time.communication, 0.5 * s.time.training, "workers do not wait for averaging")
    }

    func testRoundsStartedByTime() throws {
        let data = try tinyData()
        let (t, s) = try trainAsync(asyncConfig { $0.async.averageEvery = nil; $0.async.averageSeconds = 0.002; $0.schedule.epochs = 2 }, data: data)
        XCTAssertGreaterThan(s.syncs, 0)
        XCTAssertEqual(s.localSteps, 0, "no H when rounds go by time")
        XCTAssertNil(t.stats.averageEvery)
    }

    func testOneNodeHasNoAveragingLoop() throws {
        let data = try tinyData()
        let (t, s) = try trainAsync(asyncConfig { $0.async.nodes = 1; $0.async.threadsPerNode = 3 }, data: data)
        XCTAssertEqual(s.syncs, 0)
        XCTAssertEqual(s.bytesCommunicated, 0)
        XCTAssertEqual(s.workers, 3)
        XCTAssertTrue(t.nodes[0].parameters.array.allSatisfy(\.isFinite))
    }

    /// A diverging loss on one thread stops all of them and the averaging loop, with a sentence.
    func testDivergingLossStopsEveryThread() throws {
        let data = try tinyData()
        XCTAssertThrowsError(try trainAsync(asyncConfig { $0.schedule.lr = 1e30; $0.schedule.scaleLr = false }, data: data)) { error in
            XCTAssertTrue("\(error)".contains("training loss of worker"), "\(error)")
        }
    }

    /// `RunDriver` writes the usual files plus async.json, and reports N·P workers.
    func testRunDriverWritesTheRunFiles() throws {
        let dir = NSTemporaryDirectory() + "localsgd-async-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var config = asyncConfig { $0.schedule.epochs = 1; $0.data.syntheticTrain = 64; $0.data.syntheticTest = 16; $0.model.kind = .logreg }
        config.data.dataDir = nil
        let summary = try RunDriver.run(config, out: dir)
        XCTAssertEqual(summary.algorithm, "async")
        XCTAssertEqual(summary.workers, 4)
        for file in ["config.json", "metrics.jsonl", "summary.json", "final.safetensors", "async.json"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: dir + "/" + file), file)
        }
        let stats = try JSONDecoder().decode(AsyncStats.self, from: Data(contentsOf: URL(fileURLWithPath: dir + "/async.json")))
        XCTAssertEqual(stats.rounds, summary.syncs)
        XCTAssertEqual(stats.nodes, 2)
    }
}

/// Settings that async rejects or that only async takes, each with a sentence naming the flag.
final class AsyncConfigTests: XCTestCase {
    func assertInvalid(_ edit: (inout RunConfig) -> Void, mentions flag: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try tinyConfig(edit).validate(), file: file, line: line) { error in
            XCTAssertTrue("\(error)".contains(flag), "\(error)", file: file, line: line)
        }
    }

    func testBadAsyncSettings() {
        assertInvalid({ $0.async.nodes = 2 }, mentions: "--nodes applies to --algorithm async only")
        assertInvalid({ $0.algorithm.kind = .async; $0.async.nodes = 0 }, mentions: "--nodes")
        assertInvalid({ $0.algorithm.kind = .async; $0.async.threadsPerNode = 0 }, mentions: "--threads-per-node")
        assertInvalid({ $0.algorithm.kind = .async; $0.async.averageEvery = 0 }, mentions: "--average-every")
        assertInvalid({ $0.algorithm.kind = .async; $0.async.nodes = 2; $0.algorithm.workers = 3 }, mentions: "--workers")
        assertInvalid({ $0.algorithm.kind = .async; $0.async.asyncDelay = 2 }, mentions: "--async-deterministic")
        assertInvalid({ $0.algorithm.kind = .async; $0.async.asyncDeterministic = true; $0.async.averageSeconds = 1 }, mentions: "--average-seconds")
        assertInvalid({ $0.algorithm.kind = .async; $0.async.asyncDeterministic = true; $0.execution.backend = .mpi }, mentions: "--backend inprocess")
        assertInvalid({ $0.algorithm.kind = .async; $0.algorithm.momentumSync = .average }, mentions: "--momentum-sync")
        XCTAssertNoThrow(try tinyConfig { $0.algorithm.kind = .async; $0.async.nodes = 2; $0.async.threadsPerNode = 2; $0.algorithm.workers = 4 }.validate())
    }

    func testTrainerRefusesAsync() throws {
        let data = try tinyData()
        XCTAssertThrowsError(try Trainer(config: tinyConfig { $0.algorithm.kind = .async }, data: data,
                                         communicator: InProcessCommunicator(workers: 1, threads: 1))) { error in
            XCTAssertEqual("\(error)", "async is an execution mode of its own (AsyncTrainer), not a synchronization strategy of the lockstep trainer")
        }
    }
}

import Comm
import Config
import Data
import Training
import TrainingTestSupport
import XCTest
@testable import AsyncTraining

/// `--network` for async: modelled epoch time is the slowest thread's computing (the averaging
/// overlaps with it), the round's all-reduce on that network is reported in seconds and in node
/// updates, and the maths does not change.
final class AsyncNetworkTests: XCTestCase {
    func run(_ network: String?) throws -> AsyncTrainer {
        let config = tinyConfig {
            $0.algorithm.kind = .async; $0.async.asyncDeterministic = true; $0.async.nodes = 2
            $0.async.threadsPerNode = 2; $0.async.averageEvery = 3; $0.schedule.batchSize = 2
            $0.execution.network = network
        }
        let t = try AsyncTrainer(config: config, data: try tinyData(train: 48, test: 12),
                                 communicator: InProcessCommunicator(workers: 2, threads: 1))
        _ = try t.run()
        return t
    }

    func testModelledTimeIsTheSlowestThreadsComputeAndTheRoundIsReported() throws {
        let modelled = try run("1gbit:100us")
        let plain = try run(nil)
        XCTAssertEqual(modelled.nodes[0].parameters.array.map(\.bitPattern), plain.nodes[0].parameters.array.map(\.bitPattern),
                       "modelling time does not change the numbers")
        let last = try XCTUnwrap(modelled.history.last?.modelledSeconds)
        XCTAssertEqual(last, modelled.workers.map { $0.sums.compute }.max())
        XCTAssertEqual(modelled.summary().modelledSeconds, modelled.history.compactMap(\.modelledSeconds).reduce(0, +))
        XCTAssertNil(plain.summary().modelledSeconds)
        let model = try NetworkModel(parsing: "1gbit:100us")
        let count = modelled.network.layout.count  // the mlp has no BatchNorm statistics
        XCTAssertEqual(modelled.stats.modelledRoundSeconds, model.allReduceSeconds(bytes: 4 * count, workers: 2, groupSize: 2))
        XCTAssertGreaterThan(try XCTUnwrap(modelled.stats.modelledRoundNodeSteps), 0)
        XCTAssertNil(plain.stats.modelledRoundSeconds)
    }
}

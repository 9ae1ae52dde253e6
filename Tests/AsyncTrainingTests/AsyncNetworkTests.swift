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

/// `--worker-speeds` and `--modelled-compute` for async: every thread's clock runs at its own
/// speed and nobody waits at a round, where local SGD on the same network waits for the slowest
/// worker at every average and pays the all-reduce.
final class AsyncStragglerTests: XCTestCase {
    func testAsyncDoesNotWaitForTheStraggler() throws {
        let data = try tinyData(train: 96, test: 24)
        func config(_ kind: AlgorithmKindName) -> RunConfig {
            tinyConfig {
                $0.algorithm.kind = kind == .async ? .async : .local
                if kind == .async { $0.async.asyncDeterministic = true; $0.async.nodes = 2; $0.async.averageEvery = 4 }
                else { $0.algorithm.workers = 2; $0.algorithm.localSteps = 4 }
                $0.execution.network = "1gbit:100us"; $0.execution.workerSpeeds = "1,0.5"; $0.execution.modelledCompute = 0.01
            }
        }
        let async = try AsyncTrainer(config: config(.async), data: data, communicator: InProcessCommunicator(workers: 2, threads: 1))
        let asyncSeconds = try XCTUnwrap(try async.run().modelledSeconds)
        // 2 epochs of 12 iterations (48 samples per worker, B = 4); the slow thread takes 20 ms each.
        XCTAssertEqual(asyncSeconds, 24 * 0.01 / 0.5, accuracy: 1e-9)
        let local = try Trainer(config: config(.local), data: data, communicator: InProcessCommunicator(workers: 2, threads: 1))
        let summary = try local.run()
        let network = try NetworkModel(parsing: "1gbit:100us")
        let average = network.allReduceSeconds(bytes: 4 * summary.parameters, workers: 2, groupSize: 2)
            + network.allReduceSeconds(bytes: 4 * local.replicas[0].state.count, workers: 2, groupSize: 2)
        XCTAssertEqual(try XCTUnwrap(summary.modelledSeconds), 6 * (4 * 0.01 / 0.5 + average), accuracy: 1e-9)
    }

    enum AlgorithmKindName { case async, local }
}

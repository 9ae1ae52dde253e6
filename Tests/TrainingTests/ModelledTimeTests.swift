import Comm
import TestSupport
import TrainingTestSupport
import XCTest
@testable import Training

final class ModelledTimeTests: XCTestCase {
    func testModelledCommunicatorChargesEveryCollective() throws {
        let network = try NetworkModel(parsing: "1gbit:100us")
        let comm = ModelledCommunicator(InProcessCommunicator(workers: 4, threads: 1), network: network)
        let buffers = WorkerBuffers(workers: 4, count: 1000, seed: 1)
        try comm.allReduceMean(buffers.pointers, count: 1000)
        try comm.allReduceMean(buffers.pointers, count: 1000, groupSize: 2)
        // ring(4): 2·3/4·4000 B·8/1e9 + 6·100 µs; ring(2): 2·1/2·4000·8/1e9 + 2·100 µs
        let world: Double = 1.5 * 32_000 / 1e9 + 6e-4
        let pairs: Double = 32_000 / 1e9 + 2e-4
        let expected = world + pairs
        XCTAssertEqual(comm.modelledSeconds, expected, accuracy: 1e-12)
        XCTAssertEqual(comm.counters.rounds, 2)
        // The recent seconds start from 0 at every take: an iteration's seconds are their own sum,
        // not a difference of running totals, which would round differently after a resume.
        let pair = network.allReduceSeconds(bytes: 4000, workers: 4, groupSize: 2)
        XCTAssertEqual(comm.takeRecentSeconds(), network.allReduceSeconds(bytes: 4000, workers: 4, groupSize: 4) + pair)
        XCTAssertEqual(comm.takeRecentSeconds(), 0)
        try comm.allReduceMean(buffers.pointers, count: 1000, groupSize: 2)
        XCTAssertEqual(comm.takeRecentSeconds(), pair, "exactly the one collective's")
        XCTAssertEqual(comm.modelledSeconds, expected + pairs, accuracy: 1e-12)
    }

    func testRunsReportModelledTimeThatGrowsWithSynchronizations() throws {
        let data = try tinyData()
        func run(_ algorithm: AlgorithmKindAlias, _ h: Int) throws -> (modelled: Double, syncs: Int, compute: Double, parameters: Int) {
            let t = try train(tinyConfig { $0.algorithm.workers = 4; $0.schedule.batchSize = 2; $0.algorithm.kind = algorithm; $0.algorithm.localSteps = h
                $0.execution.network = "100mbit:1ms" }, data: data)
            let s = t.summary()
            return (try XCTUnwrap(s.modelledSeconds), s.syncs, s.time.data + s.time.forward + s.time.backward, s.parameters)
        }
        let minibatch = try run(.minibatch, 1), local = try run(.local, 8)
        let perSync = try NetworkModel(parsing: "100mbit:1ms").allReduceSeconds(bytes: 4 * minibatch.parameters, workers: 4, groupSize: 4)
        XCTAssertGreaterThanOrEqual(minibatch.modelled, Double(minibatch.syncs) * perSync)
        XCTAssertLessThan(minibatch.modelled, Double(minibatch.syncs) * perSync + minibatch.compute + 1)
        XCTAssertGreaterThan(minibatch.modelled - local.modelled, Double(minibatch.syncs - local.syncs) * perSync * 0.9)
        XCTAssertNil(try train(tinyConfig(), data: data).summary().modelledSeconds, "no --network, no modelled time")
    }

    /// In process there is no other process to wait for: the modelled communication is the
    /// modelled collectives alone, one all-reduce of the gradients per minibatch step or of the
    /// weights per average (the model has no BatchNorm, and its empty statistics all-reduce costs
    /// nothing), with the calibrated terms in it (relative tolerance 1e-12, Double sums only).
    func testModelledCommunicationIsTheCollectivesInProcess() throws {
        for (kind, h) in [(AlgorithmKindAlias.minibatch, 1), (.local, 3)] {
            try checkModelledCommunication(kind, h)
        }
    }

    private func checkModelledCommunication(_ kind: AlgorithmKindAlias, _ h: Int) throws {
        let text = "100mbit:1ms,overhead=2ms,efficiency=0.8"
        let t = try train(tinyConfig { $0.algorithm.workers = 4; $0.schedule.batchSize = 2; $0.algorithm.kind = kind
            $0.algorithm.localSteps = h; $0.execution.network = text }, data: try tinyData())
        let s = t.summary()
        XCTAssertGreaterThan(s.syncs, 1)
        let perSync = try NetworkModel(parsing: text).allReduceSeconds(bytes: 4 * s.parameters, workers: 4, groupSize: 4)
        let modelled = try XCTUnwrap(s.modelledCommunication)
        XCTAssertEqual(modelled, Double(s.syncs) * perSync, accuracy: 1e-12 * modelled)
        XCTAssertEqual(t.history.compactMap(\.modelledCommunication).reduce(0, +), modelled, accuracy: 1e-12 * modelled)
        XCTAssertNil(s.syncWait, "one process waits for no other")
        XCTAssertNil(t.history.last?.syncWait)
    }
}

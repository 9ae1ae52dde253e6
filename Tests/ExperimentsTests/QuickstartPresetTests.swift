import Data
import Foundation
import XCTest
@testable import Experiments
import Config
import Training

/// `localsgd study quickstart`: the runs it plans, and the table it prints after them.
final class QuickstartPresetTests: XCTestCase {
    func testPlanIsTheTradeOffAtKEightForOneEpoch() throws {
        let points = try StudyPreset.quickstart.spec().expand(threads: 1)
        XCTAssertEqual(points.map(\.name), [
            "algorithm=minibatch,workers=1,local_steps=1",
            "algorithm=minibatch,workers=8,local_steps=1",
            "algorithm=local,workers=8,local_steps=4",
            "algorithm=local,workers=8,local_steps=16",
            "algorithm=post-local,workers=8,local_steps=16,switch_step=117",
            "algorithm=slowmo,workers=8,local_steps=16",
        ])
        let plan = points.map { p in [p.config.algorithm.kind.rawValue, String(p.config.algorithm.workers), String(p.config.algorithm.localSteps)] }
        XCTAssertEqual(plan, [["minibatch", "1", "1"], ["minibatch", "8", "1"], ["local", "8", "4"], ["local", "8", "16"],
                              ["post-local", "8", "16"], ["slowmo", "8", "16"]])
        for p in points {
            let c = p.config
            XCTAssertEqual(c.model.kind, .cnn, p.name)
            XCTAssertEqual(c.data.dataset, .fashionMNIST, p.name)
            XCTAssertEqual(c.schedule.epochs, 1, p.name)
            XCTAssertEqual(c.schedule.batchSize, 32, p.name)
            XCTAssertEqual(c.execution.seed, 1, p.name)
            XCTAssertEqual(c.execution.network, "1gbit:100us", p.name)
            // `localsgd train`'s recipe: η = K·B·0.1/256, within the cnn's stable 0.1, no warm-up.
            XCTAssertEqual(c.peakLearningRate, c.algorithm.workers == 1 ? 0.0125 : 0.1, p.name)
            XCTAssertEqual(c.resolvedWarmupEpochs, 0, p.name)
            XCTAssertEqual(c.algorithm.switchStep, c.algorithm.kind == .postLocal ? 117 : nil, p.name)
            XCTAssertNil(c.algorithm.switchEpoch, p.name)
        }
        let slowmo = try XCTUnwrap(points.last?.config)
        XCTAssertEqual(slowmo.algorithm.slowmoLr, 1, "the study's α")
        XCTAssertEqual(slowmo.algorithm.slowmoMomentum, 0.5, "the study's β")
        XCTAssertFalse(slowmo.algorithm.slowmoNesterov)
    }

    /// Post-local SGD switches after half of one Fashion-MNIST epoch at K = 8.
    func testPostLocalSwitchesHalfwayThroughTheEpoch() throws {
        let plan = try EpochPlan(sampleCount: 60_000, workers: 8, batchSize: 32, epoch: 0, seed: 1, shuffle: true)
        XCTAssertEqual(plan.stepsPerEpoch, 234)
        XCTAssertEqual(StudyPreset.quickstartSwitchStep, plan.stepsPerEpoch / 2)
    }

    func testModelOptionReplacesTheCnn() throws {
        let points = try StudyPreset.quickstart.spec(model: "mlp").expand(threads: 1)
        XCTAssertEqual(points.count, 6)
        XCTAssertTrue(points.allSatisfy { $0.config.model.kind == .mlp })
    }

    /// The table in the plan's order, from the runs' own summaries.
    func testTableShowsEveryRunWithItsCommunicationAndTimes() throws {
        let dir = try Fixtures.temporaryDirectory(self)
        let spec = try Fixtures.spec(Fixtures.base + """
        network = "1gbit:100us"

        [[include]]
        algorithm = "minibatch"
        workers = [1, 4]

        [[include]]
        algorithm = "local"
        workers = 4
        local_steps = 2
        """, in: dir)
        let points = try spec.expand()
        let out = dir + "/out"
        try SweepRunner(points: points, directory: out, launcher: InProcessLauncher(), source: "test").run()
        let records = try points.compactMap { try RunRecord.load(out + "/" + $0.name, name: $0.name) }
        let table = RunTable(records)
        XCTAssertEqual(table.rows.map(\.label), ["minibatch K=1", "minibatch K=4", "local K=4 H=2"])
        XCTAssertEqual(table.network, "1gbit:100us")
        // 64 samples, K = 4, B = 8: 2 steps; minibatch all-reduces gradients every step, local SGD averages once.
        XCTAssertEqual(table.rows.map(\.syncs), [0, 2, 1])
        let bytes = try XCTUnwrap(table.rows[1].bytesPerWorker)
        XCTAssertEqual(table.rows[2].bytesPerWorker, bytes / 2)
        XCTAssertEqual(table.rows[0].bytesPerWorker, 0)
        for row in table.rows {
            XCTAssertNil(row.error)
            XCTAssertNotNil(row.testAccuracy)
            XCTAssertGreaterThan(try XCTUnwrap(row.modelledSeconds), 0)
            XCTAssertGreaterThan(try XCTUnwrap(row.measuredSeconds), 0)
        }
        let lines = table.text.split(separator: "\n")
        XCTAssertEqual(lines.count, 6, table.text)
        XCTAssertTrue(lines[0].hasPrefix("run "), table.text)
        XCTAssertTrue(lines[2].hasPrefix("minibatch K=4 "), table.text)
        XCTAssertTrue(lines[2].contains(RunTable.bytes(bytes)), table.text)
        XCTAssertTrue(lines[5].hasSuffix("on 1gbit:100us"), table.text)
        XCTAssertEqual(Set(lines.prefix(4).map(\.count)).count, 1, "aligned columns:\n\(table.text)")
    }

    func testTableNamesAFailedRun() throws {
        let dir = try Fixtures.temporaryDirectory(self)
        let spec = try Fixtures.spec(Fixtures.base + """
        [axes]
        algorithm = ["hierarchical"]
        workers = [4]
        group_size = [3]
        """, in: dir)
        let points = try spec.expand()
        try SweepRunner(points: points, directory: dir + "/out", launcher: InProcessLauncher(), source: "test").run()
        let records = try points.compactMap { try RunRecord.load(dir + "/out/" + $0.name, name: $0.name) }
        let row = try XCTUnwrap(RunTable(records).rows.first)
        XCTAssertNil(row.testAccuracy)
        XCTAssertNotNil(row.error)
        XCTAssertTrue(RunTable(records).text.contains("failed: "))
    }

    func testBytesInDecimalUnits() {
        XCTAssertEqual(RunTable.bytes(0), "0 B")
        XCTAssertEqual(RunTable.bytes(999), "999 B")
        XCTAssertEqual(RunTable.bytes(1000), "1.0 kB")
        XCTAssertEqual(RunTable.bytes(999_999), "1.0 MB")
        XCTAssertEqual(RunTable.bytes(311_400_000), "311.4 MB")
        XCTAssertEqual(RunTable.bytes(2_500_000_000), "2.5 GB")
    }
}

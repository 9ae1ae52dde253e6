import Foundation
import XCTest
@testable import Experiments
import Config
import Training

/// `localsgd study faults`: the runs it plans, and the report figure that compares each
/// algorithm's faulty runs with its fault-free one.
final class FaultsStudyTests: XCTestCase {
    /// Two logreg workers on a small synthetic set for 2 epochs, the start of the report tests' sweeps.
    static let twoWorkers = """
        dataset = "synthetic"
        synthetic_train = 64
        synthetic_test = 32
        model = "logreg"
        epochs = 2
        batch_size = 8
        threads = 1
        workers = 2

    """

    func testThePresetPlansEachAlgorithmFaultFreeWithALostWorkerAndWithAStraggler() throws {
        let points = try StudyPreset.faults.spec().expand(threads: 1)
        XCTAssertEqual(points.count, 9 * 3 + 2 * 3 + 2 * 3, "3 lockstep runs × 3 scenarios, async × 2, local with DyLU × 2, 3 seeds each")
        XCTAssertEqual(Set(points.map(\.config.execution.seed)), [1, 2, 3])
        // 30 % of 4 epochs of 117 iterations (60,000 / 16 / 32).
        XCTAssertEqual(StudyPreset.lostWorkerIteration(epochs: 4), 140)
        let lost = points.filter { $0.config.execution.faults != nil }
        XCTAssertEqual(Set(lost.map(\.config.execution.faults)), ["leave:15@140"])
        XCTAssertEqual(Set(lost.map(\.config.algorithm.kind)), [.minibatch, .local])
        let slow = points.filter { $0.config.execution.workerSpeeds != nil }
        XCTAssertEqual(slow.count, 6 * 3)
        XCTAssertEqual(try slow[0].config.speeds?.speeds, Array(repeating: 1, count: 15) + [0.5])
        let dylu = points.filter { $0.config.algorithm.dynamicLocalSteps }
        XCTAssertEqual(dylu.count, 2 * 3)
        XCTAssertTrue(dylu.allSatisfy { $0.config.algorithm.kind == .local && $0.config.execution.workerSpeeds != nil })
        XCTAssertTrue(dylu.allSatisfy { $0.name.contains("dynamic_local_steps=true") }, "\(dylu.map(\.name))")
        for p in points {
            let c = p.config
            XCTAssertEqual(c.model.kind, .cnn, p.name)
            XCTAssertEqual(c.data.dataset, .fashionMNIST, p.name)
            XCTAssertEqual(c.execution.network, "1gbit:100us", p.name)
            XCTAssertEqual(c.execution.modelledCompute, 0.01, p.name)
            XCTAssertEqual(c.algorithm.kind == .async ? c.asyncWorkers : c.algorithm.workers, 16, p.name)
            XCTAssertNoThrow(try c.validate(), p.name)
        }
        XCTAssertEqual(Set(points.filter { $0.config.algorithm.kind == .local }.map(\.config.algorithm.localSteps)), [4, 16])
        let async = points.filter { $0.config.algorithm.kind == .async }
        XCTAssertTrue(async.allSatisfy { $0.config.async.asyncDeterministic && $0.config.resolvedAverageEvery == 4 })
        let quick = try StudyPreset.faultsQuick.spec().expand(threads: 1)
        XCTAssertEqual(quick.count, 13)
        XCTAssertEqual(Set(quick.map(\.config.model.kind)), [.mlp])
        XCTAssertEqual(Set(quick.compactMap(\.config.execution.faults)), ["leave:15@70"])
    }

    func testTheFaultsFigureComparesEachAlgorithmWithItsFaultFreeRun() throws {
        let dir = try Fixtures.temporaryDirectory(self)
        let spec = try Fixtures.spec(Self.twoWorkers + """
        network = "1gbit:100us"

        [[include]]
        algorithm = ["minibatch", "local"]

        [[include]]
        algorithm = ["minibatch", "local"]
        faults = "leave:1@2"

        [[include]]
        algorithm = ["minibatch", "local"]
        worker_speeds = "1,0.5"
        """, in: dir)
        let status = try SweepRunner(points: spec.expand(), directory: dir + "/out", launcher: InProcessLauncher(), source: "test").run()
        XCTAssertEqual(status.failed, 0, "\(status.runs.compactMap(\.error))")
        let report = try Report.load([dir + "/out"])
        XCTAssertEqual(report.families.count, 1, "fault scenarios share their family")
        let figure = try XCTUnwrap(report.figures.first { $0.id == "faults" })
        guard case .bar(let accuracy) = figure.charts[0], case .bar(let time) = figure.charts[1] else { return XCTFail("two bar charts") }
        XCTAssertEqual(accuracy.categories, ["minibatch K=2", "local K=2 H=1"], "the CLI's order of algorithms")
        XCTAssertEqual(accuracy.series.map(\.name), ["fault-free", "faults leave:1@2", "speeds w1×0.5"])
        func value(_ algorithm: String, _ edit: (RunConfig) -> Bool, _ quantity: (RunSummary) -> Double) throws -> Double {
            let run = try XCTUnwrap(report.records.first { $0.config.algorithm.kind.rawValue == algorithm && edit($0.config) })
            return quantity(try XCTUnwrap(run.summary))
        }
        let scenarios: [(RunConfig) -> Bool] = [{ $0.execution.faults == nil && $0.execution.workerSpeeds == nil },
                                                { $0.execution.faults != nil }, { $0.execution.workerSpeeds != nil }]
        for (s, scenario) in scenarios.enumerated() {
            for (i, category) in accuracy.categories.enumerated() {
                let algorithm = String(category.split(separator: " ")[0])
                XCTAssertEqual(accuracy.series[s].values[i], try value(algorithm, scenario) { 100 * $0.testAccuracy })
                XCTAssertEqual(time.series[s].values[i], try value(algorithm, scenario) { $0.modelledSeconds ?? -1 })
            }
        }
        XCTAssertTrue(report.records.contains { $0.label == "local K=2 H=1 (faults leave:1@2)" })

        // runs.csv says which scenario each row ran.
        let rows = CSV.parse(report.runsCSV)
        let faults = try XCTUnwrap(rows[0].firstIndex(of: "faults")), speeds = try XCTUnwrap(rows[0].firstIndex(of: "worker_speeds"))
        XCTAssertEqual(rows.dropFirst().map { "\($0[faults])|\($0[speeds])" }.sorted(),
                       ["leave:1@2|", "leave:1@2|", "|", "|", "|1,0.5", "|1,0.5"])
    }
    /// A straggler with and without DyLU beside the fault-free run: its own scenario, whose
    /// modelled time is the fault-free run's (worker 1 at half speed takes 1 of every 2 steps).
    func testTheFaultsFigureSetsDyLUBesideThePlainStraggler() throws {
        let dir = try Fixtures.temporaryDirectory(self)
        let spec = try Fixtures.spec(Self.twoWorkers + """
        algorithm = "local"
        local_steps = 2
        network = "1gbit:100us"
        modelled_compute = 0.01

        [[include]]
        worker_speeds = "1,0.5"
        dynamic_local_steps = [false, true]

        [[include]]
        dynamic_local_steps = false
        """, in: dir)
        let points = try spec.expand()
        XCTAssertEqual(points.count, 3)
        let status = try SweepRunner(points: points, directory: dir + "/out", launcher: InProcessLauncher(), source: "test").run()
        XCTAssertEqual(status.failed, 0, "\(status.runs.compactMap(\.error))")
        let report = try Report.load([dir + "/out"])
        let figure = try XCTUnwrap(report.figures.first { $0.id == "faults" })
        guard case .bar(let time) = figure.charts[1] else { return XCTFail("a bar chart of modelled time") }
        XCTAssertEqual(time.categories, ["local K=2 H=2"])
        XCTAssertEqual(time.series.map(\.name), ["fault-free", "speeds w1×0.5", "speeds w1×0.5, DyLU"])
        let seconds = time.series.map { $0.values[0] ?? -1 }
        XCTAssertEqual(seconds[2], seconds[0], accuracy: 1e-12, "DyLU waits for no one")
        XCTAssertGreaterThan(seconds[1], seconds[0] + 0.01, "the plain straggler's periods wait")
        XCTAssertTrue(report.records.contains { $0.label == "local K=2 H=2 (speeds w1×0.5, DyLU)" }, "\(report.records.map(\.label))")
    }
}

import Foundation
import XCTest
import Algorithms
@testable import Experiments
import Training

final class ReportTests: XCTestCase {
    /// One tiny sweep with every algorithm, shared by the tests of this class.
    static var sweepDirectory: String?
    static let lock = NSLock()

    func fullSweep() throws -> String {
        ReportTests.lock.lock()
        defer { ReportTests.lock.unlock() }
        if let dir = ReportTests.sweepDirectory { return dir }
        let dir = NSTemporaryDirectory() + "localsgd-report-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let spec = try Fixtures.spec(Fixtures.fullSweep, in: dir)
        let status = try SweepRunner(points: spec.expand(), directory: dir + "/out", launcher: InProcessLauncher(), source: "test").run()
        XCTAssertEqual(status.failed, 0, "\(status.runs.compactMap(\.error))")
        ReportTests.sweepDirectory = dir
        return dir
    }

    override class func tearDown() {
        if let dir = sweepDirectory { try? FileManager.default.removeItem(atPath: dir) }
        super.tearDown()
    }

    func testReportDrawsEveryFigureTheSweepAllows() throws {
        let dir = try fullSweep()
        let report = try Report.load([dir + "/out"])
        XCTAssertEqual(report.families.count, 1)
        XCTAssertEqual(report.families[0].skipped.map(\.title), [], "\(report.families[0].skipped.map { "\($0.title): \($0.reason)" })")
        let html = dir + "/out/report.html"
        try report.write(to: html)
        let text = try String(contentsOfFile: html, encoding: .utf8)
        for title in ["Fig. 1 — Time per iteration by part", "Fig. 2 — Total time vs workers", "Fig. 3 — Normalised speedup over minibatch SGD",
                      "Fig. 4 — Training accuracy vs workers", "Fig. 5 — Validation accuracy vs workers", "Fig. 6 — Validation accuracy vs K×H",
                      "Fig. 7 — Switching point, step schedule", "Fig. 8 — Switching point, cosine schedule", "Fig. 10 — SlowMo vs none",
                      "Fig. 11 — Curves by switching point", "Convex — Loss vs workers at equal gradient evaluations",
                      "Convex — Loss vs communication rounds", "Loss curves — DiLoCo, local and minibatch SGD"] {
            XCTAssertTrue(text.contains("<h3>\(title)</h3>"), title)
        }
        XCTAssertFalse(text.contains("<script"), "no JavaScript")
        XCTAssertFalse(text.contains("http://") && text.replacingOccurrences(of: "http://www.w3.org/2000/svg", with: "").contains("http://"), "no network")
        // Every inline chart is well-formed SVG.
        let charts = text.components(separatedBy: "<svg ").dropFirst().map { "<svg " + $0.components(separatedBy: "</svg>")[0] + "</svg>" }
        XCTAssertGreaterThanOrEqual(charts.count, 12)
        for chart in charts { try assertWellFormed(chart) }
        for figure in report.figures {
            XCTAssertTrue(FileManager.default.fileExists(atPath: dir + "/out/csv/\(figure.id).csv"), figure.id)
        }
    }

    /// The loss curves plot each epoch's held-out loss against the iterations so far and against
    /// the megabytes sent so far, as metrics.jsonl records them.
    func testLossCurvesAreTheEpochMetrics() throws {
        let report = try Report.load([try fullSweep() + "/out"])
        let figure = try XCTUnwrap(report.figures.first { $0.id == "curves" })
        let run = try XCTUnwrap(report.records.first { $0.label == "diloco K=4 H=2 sgd η=1 μ=0" })
        var megabytes = 0.0
        let expected = run.metrics.map { m -> (Double, Double, Double) in
            megabytes += Double(m.bytesCommunicated) / 1e6
            return (Double(m.steps), megabytes, m.testLoss)
        }
        XCTAssertEqual(expected.count, 2)
        XCTAssertGreaterThan(megabytes, 0)
        for chart in figure.charts {
            guard case .line(let c) = chart, c.title.hasSuffix("K=4") else { continue }
            let series = try XCTUnwrap(c.series.first { $0.name == "H=2 averaging" }, c.title)
            let bySteps = c.title.contains("iterations")
            XCTAssertEqual(series.points.map(\.x), expected.map { bySteps ? $0.0 : $0.1 }, c.title)
            XCTAssertEqual(series.points.map(\.y), expected.map(\.2), c.title)
            XCTAssertFalse(series.dashed)
        }
        XCTAssertEqual(figure.charts.count, 2 * 3, "two charts for each K of 1, 2 and 4")
    }

    /// Fig. 11's difference panels: each switching point's errors minus those of minibatch SGD
    /// with the same seed. Before its switch post-local SGD is minibatch SGD, so its first epoch
    /// differs by exactly zero.
    func testFigure11DifferencesArePairedWithMinibatchSGD() throws {
        let report = try Report.load([try fullSweep() + "/out"])
        let figure = try XCTUnwrap(report.figures.first { $0.id == "fig11" })
        let charts = figure.charts.compactMap { chart -> LineChart? in if case .line(let c) = chart { c } else { nil } }
        let chart = try XCTUnwrap(charts.first { $0.title == "Validation error minus mSGD's, K=4, H=2, cosine" }, "\(charts.map(\.title))")
        XCTAssertEqual(chart.series.map(\.name), ["T=0", "T=1"])
        XCTAssertEqual(chart.references.map(\.y), [0])
        func run(_ algorithm: String) throws -> RunRecord {
            try XCTUnwrap(report.records.first {
                $0.config.algorithm.kind.rawValue == algorithm && $0.config.algorithm.workers == 4
                    && $0.config.schedule.lrSchedule.rawValue == "cosine" && (algorithm == "minibatch" || $0.config.algorithm.localSteps == 2)
            })
        }
        let postLocal = try run("post-local"), local = try run("local"), minibatch = try run("minibatch")
        for (series, r) in zip(chart.series, [local, postLocal]) {
            XCTAssertEqual(series.points.map(\.y), zip(r.metrics, minibatch.metrics).map { 100 * ((1 - $0.testAccuracy) - (1 - $1.testAccuracy)) }, series.name)
        }
        XCTAssertEqual(chart.series[1].points.first?.y, 0, "post-local SGD's first epoch is minibatch SGD's")
    }

    func testRunsCSVHoldsTheSummariesNumbers() throws {
        let dir = try fullSweep()
        let report = try Report.load([dir + "/out"])
        try report.write(to: dir + "/out/report.html")
        let rows = CSV.parse(try String(contentsOfFile: dir + "/out/csv/runs.csv", encoding: .utf8))
        let header = rows[0]
        func column(_ name: String) -> Int { header.firstIndex(of: name)! }
        XCTAssertEqual(rows.count - 1, 21)
        for row in rows.dropFirst() {
            // The numbers as summary.json writes them (JSONSerialization on Linux may misround the last digit).
            let summary = try String(contentsOfFile: dir + "/out/" + row[0] + "/summary.json", encoding: .utf8)
            func literal(_ key: String) -> String? {
                summary.firstMatch(of: try! Regex("\"\(key)\" : ([-0-9.eE+]+)")).map { String($0.output[1].substring!) }
            }
            for key in ["test_accuracy", "test_loss", "train_accuracy", "train_loss", "seconds", "modelled_seconds"] {
                XCTAssertEqual(Double(row[column(key)]), literal(key).flatMap(Double.init), "\(row[0]) \(key)")
            }
            for key in ["steps", "syncs", "bytes_communicated"] {
                XCTAssertEqual(Int(row[column(key)]), literal(key).flatMap { Int($0) }, "\(row[0]) \(key)")
            }
        }
        // groups.csv: one seed per group here, so median = min = max = the run's value.
        let groups = CSV.parse(try String(contentsOfFile: dir + "/out/csv/groups.csv", encoding: .utf8))
        XCTAssertEqual(groups.count - 1, 21)
        let g = groups[0]
        let median = g.firstIndex(of: "test_accuracy_median")!
        for row in groups.dropFirst() { XCTAssertEqual(row[median], row[median + 1]) }
    }

    func testMissingAxesAreExplainedAndSeedsAreAggregated() throws {
        let dir = try Fixtures.temporaryDirectory(self)
        let spec = try Fixtures.spec("seeds = [1, 2, 3]\n" + Fixtures.base + "[axes]\nalgorithm = [\"local\"]\nworkers = [2]\nlocal_steps = [2]\n", in: dir)
        try SweepRunner(points: spec.expand(), directory: dir + "/out", launcher: InProcessLauncher(), source: "test").run()
        let report = try Report.load([dir + "/out"])
        XCTAssertEqual(report.groups.count, 1)
        XCTAssertEqual(report.groups[0].seeds, [1, 2, 3])
        let accuracies = report.records.compactMap { $0.summary?.testAccuracy }.sorted()
        let a = try XCTUnwrap(report.groups[0].aggregate { $0.summary?.testAccuracy })
        XCTAssertEqual(a.median, accuracies[1])
        XCTAssertEqual(a.min, accuracies[0])
        XCTAssertEqual(a.max, accuracies[2])
        XCTAssertEqual(a.count, 3)
        try report.write(to: dir + "/report.html")
        let html = try String(contentsOfFile: dir + "/report.html", encoding: .utf8)
        XCTAssertTrue(html.contains("Figures not drawn for these runs"))
        XCTAssertTrue(html.contains("Fig. 5 — Validation accuracy vs workers</b>: needs local or post-local runs at two or more values of K"), html)
        XCTAssertTrue(html.contains("Fig. 10 — SlowMo vs none</b>: needs SlowMo runs"))
    }

    func testFailedRunsAreListed() throws {
        let dir = try Fixtures.temporaryDirectory(self)
        let spec = try Fixtures.spec(Fixtures.base + "global_every = 2\n[axes]\nalgorithm = [\"hierarchical\"]\nworkers = [4]\ngroup_size = [2, 3]\n", in: dir)
        try SweepRunner(points: spec.expand(), directory: dir + "/out", launcher: InProcessLauncher(), source: "test").run()
        let report = try Report.load([dir + "/out"])
        XCTAssertEqual(report.failed.map(\.name), ["algorithm=hierarchical,workers=4,group_size=3"])
        XCTAssertTrue(report.html().contains("group_size 3 must divide"))
    }
}

extension ReportTests {
    /// Two families that agree on model, data, epochs and B but not on their recipe get titles
    /// that say where they differ, and runs.csv carries the outer step and bits per character.
    func testFamiliesOfOneNameAreTitledByWhatDiffers() throws {
        let dir = try Fixtures.temporaryDirectory(self)
        let spec = try Fixtures.spec(Fixtures.base + "[axes]\nweight_decay = [0.0, 0.001]\n", in: dir)
        let status = try SweepRunner(points: spec.expand(), directory: dir + "/out", launcher: InProcessLauncher(), source: "test").run()
        XCTAssertEqual(status.failed, 0)
        let report = try Report.load([dir + "/out"])
        XCTAssertEqual(report.families.map(\.title).sorted(),
                       ["logreg on synthetic, 1 epoch, B=8, weight_decay 0", "logreg on synthetic, 1 epoch, B=8, weight_decay 0.001"])
        let header = try XCTUnwrap(report.runsCSV.split(separator: "\n").first)
        XCTAssertTrue(header.contains("outer_optimizer,outer_lr,outer_momentum,seed,test_accuracy,test_loss,test_bits_per_char,"), String(header))
    }
}

extension ReportTests {
    /// The trade-off figure: one line per codec across the runs' H (minibatch at H = 1), its
    /// points the runs' megabytes sent and accuracy; a family without such runs has no such figure.
    func testTradeOffFigureDrawsOneLinePerCodec() throws {
        let dir = try Fixtures.temporaryDirectory(self)
        let spec = try Fixtures.spec(Fixtures.base + """
        workers = 2
        [axes]
        compress = ["none", "int8"]
        algorithm = ["minibatch", "local"]
        local_steps = [1, 2]
        """, in: dir)
        let points = try spec.expand().filter { !($0.config.algorithm.kind == .minibatch && $0.config.algorithm.localSteps != 1) }
        let status = try SweepRunner(points: points, directory: dir + "/out", launcher: InProcessLauncher(), source: "test").run()
        XCTAssertEqual(status.failed, 0, "\(status.runs.compactMap(\.error))")
        let report = try Report.load([dir + "/out"])
        let figure = try XCTUnwrap(report.figures.first { $0.id == "communication" })
        guard case .line(let bytes) = figure.charts[0] else { return XCTFail("a line chart first") }
        XCTAssertEqual(bytes.title, "Validation accuracy vs megabytes sent, K=2")
        XCTAssertEqual(bytes.series.map(\.name).sorted(), ["fp32", "int8"])
        let fp32 = try XCTUnwrap(bytes.series.first { $0.name == "fp32" }), int8 = try XCTUnwrap(bytes.series.first { $0.name == "int8" })
        // Three runs per codec: minibatch, local H = 1 and H = 2; int8 sends a quarter of fp32's
        // bytes plus its block scales, so each of its points lies left of fp32's.
        XCTAssertEqual([fp32.points.count, int8.points.count], [3, 3])
        for (a, b) in zip(fp32.points, int8.points) { XCTAssertLessThan(b.x, a.x / 3) }
        let plain = try Report.load([try fullSweep() + "/out"])
        XCTAssertNil(plain.figures.first { $0.id == "communication" })
        XCTAssertFalse(plain.families[0].skipped.contains { $0.title.hasPrefix("Trade-off") })
    }
}

extension ReportTests {
    /// A report written where an earlier one was leaves only its own tables in csv/.
    func testRewrittenReportRemovesTablesItDidNotWrite() throws {
        let dir = try fullSweep()
        let html = dir + "/out/rewrite.html"
        try FileManager.default.createDirectory(atPath: dir + "/out/csv", withIntermediateDirectories: true)
        try "stale".write(toFile: dir + "/out/csv/family9-fig05.csv", atomically: true, encoding: .utf8)
        try "notes".write(toFile: dir + "/out/csv/notes.txt", atomically: true, encoding: .utf8)
        let report = try Report.load([dir + "/out"])
        try report.write(to: html)
        let names = Set(try FileManager.default.contentsOfDirectory(atPath: dir + "/out/csv"))
        XCTAssertEqual(names, Set(report.csvFiles.map(\.name)).union(["notes.txt"]))
    }
}

extension ReportTests {
    /// Runs of another variant (QSR, a base-momentum policy) share the family but stay out of the
    /// paper figures' lines of plain runs (Fig. 6, and Fig. 8's switching points); Fig. 10 draws one bar per SlowMo β beside the baseline
    /// under the same momentum policy; labels name the variant.
    func testVariantsStayOutOfThePlainFiguresAndSlowMoBarsPerBeta() throws {
        let dir = try Fixtures.temporaryDirectory(self)
        let spec = try Fixtures.spec(Fixtures.base + """
        workers = 2

        [[include]]
        algorithm = "minibatch"
        workers = [1, 2]

        [[include]]
        algorithm = "local"
        local_steps = [1, 2]

        [[include]]
        algorithm = "local"
        local_steps = 2
        qsr_alpha = 0.1

        [[include]]
        algorithm = "local"
        local_steps = 2
        momentum_sync = ["average", "reset"]

        [[include]]
        algorithm = "post-local"
        local_steps = 2
        switch_step = 2
        momentum_sync = ["local", "reset"]

        [[include]]
        algorithm = "slowmo"
        local_steps = 2
        slowmo_momentum = [0.5, 0.7]
        momentum_sync = ["average", "local", "reset"]
        """, in: dir)
        let status = try SweepRunner(points: spec.expand(), directory: dir + "/out", launcher: InProcessLauncher(), source: "test").run()
        XCTAssertEqual(status.failed, 0, "\(status.runs.compactMap(\.error))")
        let report = try Report.load([dir + "/out"])
        XCTAssertEqual(report.families.count, 1, "momentum_sync is a knob of the study, not another family")
        XCTAssertEqual(Set(report.families[0].groups.map(\.label)), [
            "minibatch K=1", "minibatch K=2", "local K=2 H=1", "local K=2 H=2", "local K=2 H=2 QSR α=0.1", "local K=2 H=2 momentum reset",
            "local K=2 H=2 momentum averaged", "slowmo K=2 H=2 β=0.5 momentum averaged", "slowmo K=2 H=2 β=0.7 momentum averaged",
            "post-local K=2 H=2 T=0.5", "post-local K=2 H=2 T=0.5 momentum reset",
            "slowmo K=2 H=2 β=0.5", "slowmo K=2 H=2 β=0.7", "slowmo K=2 H=2 β=0.5 momentum reset", "slowmo K=2 H=2 β=0.7 momentum reset",
        ])

        let fig6 = try XCTUnwrap(report.figures.first { $0.id == "fig06" })
        guard case .line(let kh) = fig6.charts[0] else { return XCTFail("Fig. 6 is a line chart") }
        let k2 = try XCTUnwrap(kh.series.first { $0.name == "K=2" })
        XCTAssertEqual(k2.points.map(\.x), [2, 4], "local SGD at H = 1 and 2, without the QSR and momentum-reset runs")

        let fig8 = try XCTUnwrap(report.figures.first { $0.id == "fig08" })
        guard case .line(let switching) = fig8.charts[0] else { return XCTFail("Fig. 8 is a line chart") }
        XCTAssertEqual(switching.series.map(\.name), ["H=1", "H=2"])
        XCTAssertEqual(switching.series[1].points.map(\.x), [0, 0.5], "local SGD (T=0) and the switch at T=0.5, without the momentum-reset runs")

        let fig10 = try XCTUnwrap(report.figures.first { $0.id == "fig10" })
        guard case .bar(let bars) = fig10.charts[0] else { return XCTFail("Fig. 10 is a bar chart") }
        XCTAssertEqual(bars.title, "With and without slow momentum (K=2 H=2 cosine)", "what every setting shares")
        XCTAssertEqual(bars.categories, ["local", "local momentum reset", "local momentum averaged"], "kept, reset, averaged, whatever the order of the runs")
        XCTAssertEqual(bars.series.map(\.name), ["without SlowMo", "SlowMo α=1 β=0.5", "SlowMo α=1 β=0.7"])
        XCTAssertTrue(bars.series.allSatisfy { $0.values.allSatisfy { $0 != nil } }, "every setting has a bar beside each baseline")
    }
}

import Config
import Experiments
import Foundation
import TestSupport
import TrainingTestSupport
import XCTest

/// `syncs.jsonl` as runs write it: a line per synchronization at the right iterations, the same
/// file after a resume as without one, none with `--sync-record off`.
final class SyncRecordFileTests: XCTestCase {
    func config(_ edit: (inout RunConfig) -> Void = { _ in }) -> RunConfig {
        tinyConfig {
            $0.algorithm.workers = 4; $0.algorithm.kind = .local; $0.algorithm.localSteps = 4; $0.schedule.epochs = 2
            $0.data.syntheticTrain = 128; $0.data.syntheticTest = 16; $0.schedule.batchSize = 4
            edit(&$0)
        }
    }

    func lines(_ dir: String) throws -> [[String: Any]] {
        try String(contentsOfFile: dir + "/syncs.jsonl", encoding: .utf8).split(separator: "\n").map {
            try XCTUnwrap(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
    }

    func testLocalSGDWritesALinePerAverage() throws {
        let dir = try makeTemporaryDirectory(self) + "/run"
        let summary = try RunDriver.run(config(), out: dir)
        let n = summary.steps
        XCTAssertEqual(n, 16)
        let records = try lines(dir)
        XCTAssertEqual(records.count, n / 4)
        XCTAssertEqual(records.map { $0["step"] as? Int }, Array(stride(from: 3, to: n, by: 4)))
        XCTAssertEqual(records.map { $0["epoch"] as? Double }, [0.5, 1, 1.5, 2])
        XCTAssertTrue(records.allSatisfy { $0["effective_h"] as? Int == 4 && $0["kind"] as? String == "weights"
            && $0["level"] as? Int == 4 && $0["global"] as? Bool == true && $0["outer_momentum_norm"] is NSNull })
        XCTAssertEqual(records.compactMap { $0["bytes"] as? Int }.reduce(0, +), summary.bytesCommunicated,
                       "every training byte belongs to a synchronization")
        XCTAssertTrue(records.allSatisfy { ($0["consensus_distance"] as? Double ?? 0) > 0 && ($0["pseudo_gradient_norm"] as? Double ?? 0) > 0 })
    }

    func testMinibatchWritesALinePerIterationAndOffWritesNone() throws {
        let root = try makeTemporaryDirectory(self)
        let summary = try RunDriver.run(config { $0.algorithm.kind = .minibatch; $0.schedule.epochs = 1 }, out: root + "/on")
        let records = try lines(root + "/on")
        XCTAssertEqual(records.map { $0["step"] as? Int }, Array(0..<summary.steps))
        XCTAssertTrue(records.allSatisfy { $0["kind"] as? String == "gradients" && $0["effective_h"] as? Int == 1 })
        _ = try RunDriver.run(config { $0.execution.syncRecord = .off }, out: root + "/off")
        XCTAssertFalse(FileManager.default.fileExists(atPath: root + "/off/syncs.jsonl"))
        XCTAssertTrue(FileManager.default.fileExists(atPath: root + "/off/summary.json"))
    }

    /// A run that stopped after its checkpoint of iteration 10 (mid-epoch, between averages) and
    /// had written lines past it, one cut short: the resume drops those and writes them again.
    func testResumeContinuesTheFileWithoutDuplicatesOrGaps() throws {
        for diloco in [false, true] {
            let root = try makeTemporaryDirectory(self)
            let c = config {
                $0.algorithm.localSteps = 2; $0.execution.checkpointEvery = "5"
                if diloco { $0.algorithm.kind = .diloco } else { $0.algorithm.kind = .hierarchical; $0.algorithm.groupSize = [2]; $0.algorithm.globalEvery = [2] }
            }
            _ = try RunDriver.run(c, out: root + "/full")
            let reference = try String(contentsOfFile: root + "/full/syncs.jsonl", encoding: .utf8)
            _ = try RunDriver.run(c, out: root + "/cut")
            let cut = root + "/cut"
            for f in ["summary.json", "final.safetensors"] { try FileManager.default.removeItem(atPath: cut + "/" + f) }
            let checkpoints = cut + "/checkpoints"
            for f in try FileManager.default.contentsOfDirectory(atPath: checkpoints) where f != "step-00000010" {
                try FileManager.default.removeItem(atPath: checkpoints + "/" + f)
            }
            let handle = try XCTUnwrap(FileHandle(forWritingAtPath: cut + "/syncs.jsonl"))
            handle.seekToEndOfFile()
            handle.write(Data("{\"step\": 17, \"kin".utf8))
            handle.closeFile()
            _ = try RunDriver.run(c, out: cut, resume: true)
            XCTAssertEqual(try String(contentsOfFile: cut + "/syncs.jsonl", encoding: .utf8), reference, diloco ? "diloco" : "hierarchical")
        }
    }

    /// The report draws one line per run that kept the record, and leaves out one that did not.
    func testReportPlotsTheRunsWithARecord() throws {
        let root = try makeTemporaryDirectory(self)
        _ = try RunDriver.run(config(), out: root + "/h4")
        _ = try RunDriver.run(config { $0.algorithm.localSteps = 2 }, out: root + "/h2")
        _ = try RunDriver.run(config { $0.algorithm.localSteps = 8; $0.execution.syncRecord = .off }, out: root + "/h8")
        let figure = try XCTUnwrap(try Report.load([root]).figures.first { $0.id == "syncs" })
        XCTAssertEqual(figure.charts.map(\.title), ["Consensus distance before each average, K=4", "Pseudo-gradient norm at each average, K=4"])
        guard case .line(let chart) = figure.charts[0] else { return XCTFail("a line chart") }
        XCTAssertEqual(chart.series.map(\.name), ["local H=2", "local H=4"])
        XCTAssertEqual(chart.series.map(\.points.count), [8, 4])
        XCTAssertEqual(chart.series[1].points.map(\.x), [4, 8, 12, 16])
    }
}

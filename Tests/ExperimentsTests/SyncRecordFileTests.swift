import Algorithms
import Config
@testable import Experiments
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

    /// Streaming DiLoCo, the mlp's 3 layers as P = 3 fragments, H = 4 (t_p = 0, 1, 2), τ = 1:
    /// a line per fragment synchronization, 12 in 16 iterations; the 3 lines of a round carry
    /// the bytes of one plain DiLoCo synchronization at the same H, and all lines the run's bytes.
    func testStreamingDiLoCoWritesALinePerFragmentSynchronization() throws {
        let root = try makeTemporaryDirectory(self)
        let streaming = try RunDriver.run(config {
            $0.algorithm.kind = .diloco; $0.algorithm.streamingFragments = 3; $0.algorithm.streamingOverlap = 1
        }, out: root + "/streaming")
        _ = try RunDriver.run(config { $0.algorithm.kind = .diloco }, out: root + "/diloco")
        let lines = try self.lines(root + "/streaming"), plain = try self.lines(root + "/diloco")
        XCTAssertEqual(lines.count, 12)
        XCTAssertEqual(streaming.syncs, 12)
        XCTAssertEqual(lines.map { $0["step"] as? Int }, [0, 1, 3, 4, 5, 7, 8, 9, 11, 12, 13, 15])
        XCTAssertEqual(lines.map { $0["fragment"] as? Int }, [1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2, 0])
        XCTAssertEqual(lines.map { $0["effective_h"] as? Int }, [1, 2, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4])
        XCTAssertTrue(lines.allSatisfy { $0["kind"] as? String == "outer" && $0["level"] as? Int == 4 && $0["workers"] as? Int == 4
            && ($0["consensus_distance"] as? Double ?? 0) > 0 && ($0["pseudo_gradient_norm"] as? Double ?? 0) > 0
            && $0["outer_momentum_norm"] is Double })
        XCTAssertTrue(plain.allSatisfy { $0["fragment"] is NSNull && $0["workers"] as? Int == 4 })
        let bytes = lines.compactMap { $0["bytes"] as? Int }
        XCTAssertEqual(bytes.reduce(0, +), streaming.bytesCommunicated, "every training byte belongs to a fragment's line")
        for round in 0..<4 {
            XCTAssertEqual(bytes[(3 * round)..<(3 * round + 3)].reduce(0, +), plain[round]["bytes"] as? Int, "round \(round)")
        }
    }

    /// `--faults`: K = 4, H = 2, worker 2 away for iterations 2 to 5. The averages after 3 and 5
    /// are of the 3 present (level and workers 3, still global); the lines add up to the bytes.
    func testFaultsRecordTheSynchronizationsOfThePresentWorkers() throws {
        let root = try makeTemporaryDirectory(self)
        for kind in [AlgorithmKind.local, .diloco, .minibatch] {
            let summary = try RunDriver.run(config {
                $0.algorithm.kind = kind; $0.algorithm.localSteps = 2; $0.schedule.epochs = 1; $0.execution.faults = "leave:2@2,join:2@6"
            }, out: root + "/\(kind.rawValue)")
            let records = try lines(root + "/\(kind.rawValue)")
            let steps = kind == .minibatch ? Array(0..<8) : [1, 3, 5, 7]
            XCTAssertEqual(records.map { $0["step"] as? Int }, steps, "\(kind.rawValue)")
            let present = steps.map { (2..<6).contains($0) ? 3 : 4 }
            XCTAssertEqual(records.map { $0["workers"] as? Int }, present, "\(kind.rawValue)")
            XCTAssertEqual(records.map { $0["level"] as? Int }, present, "\(kind.rawValue)")
            XCTAssertTrue(records.allSatisfy { $0["global"] as? Bool == true && $0["fragment"] is NSNull }, "\(kind.rawValue)")
            XCTAssertEqual(records.compactMap { $0["bytes"] as? Int }.reduce(0, +), summary.bytesCommunicated, "\(kind.rawValue)")
            XCTAssertTrue(records.allSatisfy { ($0["consensus_distance"] as? Double ?? 0) > 0 }, "\(kind.rawValue)")
        }
    }

    /// A run that stopped after its checkpoint of iteration 10 (mid-epoch, between averages) and
    /// had written lines past it, one cut short: the resume drops those and writes them again.
    /// Also for Streaming DiLoCo (checkpoint between fragments, one result in flight) and a run
    /// with `--faults` (checkpoint while worker 2 is away).
    func testResumeContinuesTheFileWithoutDuplicatesOrGaps() throws {
        for variant in ["hierarchical", "diloco", "streaming", "faults"] {
            let root = try makeTemporaryDirectory(self)
            let c = config {
                $0.algorithm.localSteps = 2; $0.execution.checkpointEvery = "5"
                switch variant {
                case "diloco": $0.algorithm.kind = .diloco
                case "streaming":
                    $0.algorithm.kind = .diloco; $0.algorithm.localSteps = 4; $0.algorithm.streamingFragments = 3
                    $0.algorithm.streamingOverlap = 2
                case "faults": $0.algorithm.kind = .diloco; $0.execution.faults = "leave:2@7,join:2@13"
                default: $0.algorithm.kind = .hierarchical; $0.algorithm.groupSize = [2]; $0.algorithm.globalEvery = [2]
                }
            }
            _ = try RunDriver.run(c, out: root + "/full")
            let reference = try String(contentsOfFile: root + "/full/syncs.jsonl", encoding: .utf8)
            let mark = ["streaming": #""fragment":2"#, "faults": #""workers":3"#][variant] ?? #""kind""#
            XCTAssertTrue(reference.contains(mark), "\(variant): \(reference)")
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
            XCTAssertEqual(try String(contentsOfFile: cut + "/syncs.jsonl", encoding: .utf8), reference, variant)
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

    /// Streaming DiLoCo in the report: one point per round, at fragment 0's synchronizations
    /// (iterations 4, 8, 12, 16), the whole model's consensus distance from the round's three
    /// fragment lines, sqrt(Σ_p d_p²); plain DiLoCo's lines as they are.
    func testReportCombinesAStreamingRoundsFragmentsIntoOnePoint() throws {
        let root = try makeTemporaryDirectory(self)
        _ = try RunDriver.run(config { $0.algorithm.kind = .diloco; $0.algorithm.streamingFragments = 3 }, out: root + "/streaming")
        _ = try RunDriver.run(config { $0.algorithm.kind = .diloco }, out: root + "/diloco")
        let figure = try XCTUnwrap(try Report.load([root]).figures.first { $0.id == "syncs" })
        guard case .line(let chart) = figure.charts[0] else { return XCTFail("a line chart") }
        XCTAssertEqual(chart.series.count, 2)
        let streamingSeries = try XCTUnwrap(chart.series.first { $0.name.contains("P=3") }, "\(chart.series.map(\.name))")
        let plainSeries = try XCTUnwrap(chart.series.first { !$0.name.contains("P=3") })
        let lines = try self.lines(root + "/streaming"), plain = try self.lines(root + "/diloco")
        XCTAssertEqual(streamingSeries.points.map(\.x), [4, 8, 12, 16])
        for (round, point) in streamingSeries.points.enumerated() {
            let squares = lines[(3 * round)..<(3 * round + 3)].map { ($0["consensus_distance"] as? Double ?? .nan) }.map { $0 * $0 }
            XCTAssertEqual(point.y, squares.reduce(0, +).squareRoot(), accuracy: 1e-12, "round \(round)")
        }
        let expected = plain.compactMap { $0["consensus_distance"] as? Double }
        XCTAssertEqual(plainSeries.points.count, expected.count)
        for (point, y) in zip(plainSeries.points, expected) { XCTAssertEqual(point.y, y, accuracy: 1e-12) }
    }

    /// `syncPoints` on hand-made lines: P = 2 with t₁ = 1, H = 2, a line left over after the last
    /// round, and a whole-model line passed through.
    func testSyncPointsCombineEachRoundsLatestFragmentLines() {
        func line(_ step: Int, _ fragment: Int?, _ distance: Double) -> SyncRecord {
            SyncRecord(step: step, epoch: 0, kind: .outer, level: 2, global: true, bytes: 0, effectiveH: nil, pseudoGradientNorm: nil,
                       consensusDistance: distance, updateCosine: nil, fragment: fragment, workers: 2)
        }
        let streaming = [line(0, 1, 3), line(1, 0, 4), line(2, 1, 5), line(3, 0, 12), line(4, 1, 1)]
        let points = ReportFamily.syncPoints(streaming) { $0.consensusDistance }
        XCTAssertEqual(points.map(\.x), [2, 4])
        XCTAssertEqual(points.map(\.y), [5, 13])
        XCTAssertEqual(ReportFamily.syncPoints([line(1, nil, 2), line(3, nil, 7)]) { $0.consensusDistance }.map(\.y), [2, 7])
        // P > H: fragments 0 and 1 after the same iteration, in fragment order; 1's line completes the round.
        let together = [line(1, 0, 3), line(1, 1, 4)]
        XCTAssertEqual(ReportFamily.syncPoints(together) { $0.consensusDistance }.map(\.y), [5])
    }
}

import Foundation
import XCTest
@testable import Training

/// A sweep's child runs report progress as JSON lines on stderr, which the sweep reads and
/// keeps out of their `train.log`.
extension CLITests {
    func testProgressJSONLinesParseAndEndEveryEpoch() throws {
        let dir = try temporaryDirectory()
        let r = try run(["train"] + small + ["--quiet", "--progress-json", "--out", dir + "/run"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let lines = r.stderr.split(separator: "\n")
        let progress = lines.compactMap { TrainingProgress(jsonLine: $0) }
        XCTAssertEqual(progress.count, lines.count, "every stderr line is progress:\n\(r.stderr)")
        XCTAssertEqual(progress.filter { $0.step == $0.stepsPerEpoch }.map(\.epoch), [1, 2])
        XCTAssertTrue(progress.allSatisfy { $0.epochs == 2 && $0.loss.isFinite })
        XCTAssertEqual(r.stdout.split(separator: "\n").filter { $0.hasPrefix("epoch ") }.count, 2, r.stdout)
    }

    func testSweepKeepsProgressOutOfTheRunLog() throws {
        let dir = try temporaryDirectory()
        let file = dir + "/one.toml"
        try """
        dataset = "synthetic"
        synthetic_train = 128
        synthetic_test = 32
        model = "mlp"
        epochs = 2

        [axes]
        workers = [2]
        """.write(toFile: file, atomically: true, encoding: .utf8)
        let r = try run(["sweep", file, "--out", dir + "/out"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let log = try String(contentsOfFile: dir + "/out/workers=2/train.log", encoding: .utf8)
        XCTAssertEqual(log.split(separator: "\n").filter { $0.hasPrefix("epoch ") }.count, 2, log)
        XCTAssertFalse(log.contains(TrainingProgress.jsonLinePrefix), log)
        XCTAssertFalse(r.stderr.contains(TrainingProgress.jsonLinePrefix), r.stderr)
    }
}

import Foundation
import XCTest

/// A run killed before its first checkpoint is no dead end: --resume says why it cannot go on
/// and how to start again, --out starts it again, and what a killed write left is removed.
extension CLITests {
    func testARunKilledBeforeItsFirstCheckpointCanBeStartedAgain() throws {
        let dir = try temporaryDirectory(), out = dir + "/run"
        let arguments = ["train", "--dataset", "synthetic", "--model", "cnn", "--epochs", "3", "--threads", "1", "--quiet",
                         "--checkpoint-every", "2e", "--out", out]
        let p = Process()
        p.executableURL = executable
        p.arguments = arguments
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        while !FileManager.default.fileExists(atPath: out + "/config.json") && p.isRunning { usleep(5000) }
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        XCTAssertEqual(p.terminationReason, .uncaughtSignal, "killed before it finished")
        try FileManager.default.createDirectory(atPath: out + "/checkpoints", withIntermediateDirectories: true)
        let stale = [out + "/.metrics.jsonl.\(UUID().uuidString).tmp",
                     out + "/checkpoints/.step-00000128-rank-0.safetensors.\(UUID().uuidString).tmp"]
        for file in stale { XCTAssertTrue(FileManager.default.createFile(atPath: file, contents: Data("half".utf8))) }

        let resume = try run(["train", "--resume", out])
        XCTAssertEqual(resume.status, 1)
        XCTAssertTrue(resume.stderr.contains("the run stopped before writing its first checkpoint (one every 2 epochs"), resume.stderr)
        XCTAssertTrue(resume.stderr.contains("start it again with --out \(out)"), resume.stderr)

        let again = try run(Array(arguments.dropLast(2)) + ["--epochs", "1", "--synthetic-train", "256", "--out", out])
        XCTAssertEqual(again.status, 0, again.stderr)
        XCTAssertTrue(FileManager.default.fileExists(atPath: out + "/summary.json"))
        for file in stale { XCTAssertFalse(FileManager.default.fileExists(atPath: file), file) }

        let twice = try run(Array(arguments.dropLast(2)) + ["--out", out])
        XCTAssertEqual(twice.status, 1)
        XCTAssertTrue(twice.stderr.contains("already holds a run (summary.json)"), twice.stderr)
    }
}

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
        // What a kill while writing the first checkpoint leaves: temporary files, a step
        // directory without its manifest (and, from older versions, a per-rank temporary file).
        try FileManager.default.createDirectory(atPath: out + "/checkpoints/step-00000128", withIntermediateDirectories: true)
        let stale = [out + "/.metrics.jsonl.\(UUID().uuidString).tmp",
                     out + "/checkpoints/.step-00000128-rank-0.safetensors.\(UUID().uuidString).tmp",
                     out + "/checkpoints/step-00000128/worker-0.safetensors",
                     out + "/checkpoints/step-00000128/.shared.safetensors.\(UUID().uuidString).tmp"]
        for file in stale { XCTAssertTrue(FileManager.default.createFile(atPath: file, contents: Data("half".utf8))) }

        let resume = try run(["train", "--resume", out])
        XCTAssertEqual(resume.status, 1)
        XCTAssertTrue(resume.stderr.contains("the run stopped before writing its first checkpoint (one every 2 epochs"), resume.stderr)
        XCTAssertTrue(resume.stderr.contains("start it again with --out \(out)"), resume.stderr)

        let again = try run(Array(arguments.dropLast(2)) + ["--epochs", "1", "--synthetic-train", "256", "--out", out])
        XCTAssertEqual(again.status, 0, again.stderr)
        XCTAssertTrue(FileManager.default.fileExists(atPath: out + "/summary.json"))
        for file in stale { XCTAssertFalse(FileManager.default.fileExists(atPath: file), file) }
        XCTAssertFalse(FileManager.default.fileExists(atPath: out + "/checkpoints/step-00000128"))

        let twice = try run(Array(arguments.dropLast(2)) + ["--out", out])
        XCTAssertEqual(twice.status, 1)
        XCTAssertTrue(twice.stderr.contains("already holds a run (summary.json)"), twice.stderr)
    }

    /// A newest checkpoint whose bytes changed since it was written is skipped with a warning on
    /// stderr naming its step and the problem; the run goes on from the one before and ends with
    /// the uninterrupted run's model, byte for byte.
    func testAResumeSkipsADamagedNewestCheckpointWithAWarning() throws {
        let dir = try temporaryDirectory(), out = dir + "/run"
        // 8 iterations per epoch, 16 in all: checkpoints 12 and 15 are kept.
        let arguments = ["train", "--dataset", "synthetic", "--synthetic-train", "128", "--synthetic-test", "32", "--model", "mlp",
                         "--epochs", "2", "--batch-size", "8", "--workers", "2", "--local-steps", "2", "--threads", "1", "--quiet",
                         "--checkpoint-every", "3"]
        let full = try run(arguments + ["--out", dir + "/full"])
        XCTAssertEqual(full.status, 0, full.stderr)
        try FileManager.default.copyItem(atPath: dir + "/full", toPath: out)
        for file in ["final.safetensors", "summary.json"] { try FileManager.default.removeItem(atPath: out + "/" + file) }
        let worker = out + "/checkpoints/step-00000015/worker-1.safetensors"
        var bytes = try Data(contentsOf: URL(fileURLWithPath: worker))
        bytes[bytes.count / 2] ^= 1
        try bytes.write(to: URL(fileURLWithPath: worker))

        let resumed = try run(["train", "--resume", out, "--quiet"])
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
        XCTAssertTrue(resumed.stderr.hasPrefix("warning: the checkpoint of step 15 (\(out)/checkpoints/step-00000015) cannot be used: worker-1.safetensors has CRC-32 "), resumed.stderr)
        XCTAssertTrue(resumed.stderr.contains("(its bytes changed since it was written); trying the one before\n"), resumed.stderr)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: out + "/final.safetensors")),
                       try Data(contentsOf: URL(fileURLWithPath: dir + "/full/final.safetensors")))
    }
}

import Foundation
import XCTest
@testable import Training

/// `localsgd launch` refuses what cannot work with a sentence, before it starts or writes anything
/// (no MPI needed: every check comes before mpirun would start), and `train --progress-interval 0`
/// reports every iteration for it.
extension CLITests {
    /// `localsgd ARGUMENTS` with `environment` added to this process's.
    func run(_ arguments: [String], environment: [String: String]) throws -> (status: Int32, stderr: String) {
        let p = Process()
        p.executableURL = executable
        p.arguments = arguments
        p.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let err = Pipe()
        p.standardOutput = FileHandle.nullDevice
        p.standardError = err
        try p.run()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: e, as: UTF8.self))
    }

    func testLaunchRefusesWhatCannotWork() throws {
        let dir = try temporaryDirectory()
        let out = dir + "/run"
        let train = ["--workers", "2", "--dataset", "synthetic", "--model", "mlp", "--checkpoint-every", "5"]
        let cases: [(launch: [String], train: [String], expected: String)] = [
            (["--np", "2"], ["--workers", "2", "--checkpoint-every", "5"], "the train arguments must include --out DIR"),
            (["--np", "2"], ["--workers", "2", "--out", out], "the train arguments must include --checkpoint-every"),
            (["--np", "2", "--min-ranks", "3"], train + ["--out", out], "--min-ranks 3 is more than the 2 ranks the job starts with"),
            (["--np", "3"], train + ["--out", out], "--workers 2 must be a multiple of the 3 ranks"),
            (["--np", "2", "--mpirun", "/nonexistent/mpirun"], train + ["--out", out], "--mpirun /nonexistent/mpirun is not an executable file"),
            (["--np", "2"], train + ["--model", "nonsense", "--out", out], "the train arguments after -- are not valid"),
            (["--np", "2"], train + ["--local-steps", "0", "--out", out], "the train arguments after --: "),
            (["--np", "2"], train + ["--backend", "inprocess", "--out", out], "launch runs --backend mpi"),
            (["--host", "a:1,b:1", "--np", "4"], ["--workers", "4", "--checkpoint-every", "5", "--out", out], "--np 4 is more than the 2 slots of the hosts"),
            (["--np", "2", "--host", "a:2"], [], "give the `localsgd train` arguments after --"),
            (["--host", "a:1", "--hostfile", "h"], train + ["--out", out], "give --host or --hostfile, not both"),
            (["--hostfile", dir + "/missing"], train + ["--out", out], "cannot read --hostfile " + dir + "/missing"),
            (["--np", "2", "--mpirun-args", "'--mca"], train + ["--out", out], "--mpirun-args has an unclosed quote"),
        ]
        for c in cases {
            let r = try run(["launch"] + c.launch + ["--"] + c.train, environment: [:])
            XCTAssertNotEqual(r.status, 0, "\(c.launch) -- \(c.train)")
            XCTAssertTrue(r.stderr.contains(c.expected), "\(c.launch) -- \(c.train): \(r.stderr)")
        }
        let noPath = try run(["launch", "--np", "2", "--"] + train + ["--out", out], environment: ["PATH": dir])
        XCTAssertTrue(noPath.stderr.contains("no mpirun on PATH: install Open MPI"), noPath.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: out), "nothing written before the checks pass")
    }

    func testLaunchRefusesARunDirectoryItWouldOverwrite() throws {
        let dir = try temporaryDirectory()
        let train = ["--workers", "2", "--dataset", "synthetic", "--model", "mlp", "--checkpoint-every", "5"]
        try FileManager.default.createDirectory(atPath: dir + "/stopped/checkpoints", withIntermediateDirectories: true)
        FileManager.default.createFile(atPath: dir + "/stopped/checkpoints/step-00000005-rank-0.safetensors", contents: Data())
        let stopped = try run(["launch", "--np", "2", "--"] + train + ["--out", dir + "/stopped"], environment: [:])
        XCTAssertTrue(stopped.stderr.contains("already holds a run that stopped at its checkpoint of step 5; continue it under launch with --resume"), stopped.stderr)
        try FileManager.default.createDirectory(atPath: dir + "/done", withIntermediateDirectories: true)
        FileManager.default.createFile(atPath: dir + "/done/summary.json", contents: Data("{}".utf8))
        let done = try run(["launch", "--np", "2", "--"] + train + ["--out", dir + "/done"], environment: [:])
        XCTAssertTrue(done.stderr.contains("holds a finished run (summary.json)"), done.stderr)
        let none = try run(["launch", "--np", "2", "--", "--resume", dir + "/nothing"], environment: [:])
        XCTAssertNotEqual(none.status, 0)
        XCTAssertTrue(none.stderr.contains(dir + "/nothing"), none.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/stopped/events.jsonl"))
    }

    func testProgressIntervalZeroReportsEveryIteration() throws {
        let dir = try temporaryDirectory()
        let r = try run(["train"] + small + ["--quiet", "--progress-json", "--progress-interval", "0", "--out", dir + "/run"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let steps = r.stderr.split(separator: "\n").compactMap { TrainingProgress(jsonLine: $0) }.map { ($0.epoch - 1) * $0.stepsPerEpoch + $0.step }
        XCTAssertEqual(steps, [1, 2, 3, 4], "2 epochs of 2 iterations")
        let negative = try run(["train"] + small + ["--progress-interval", "-1", "--out", dir + "/bad"])
        XCTAssertNotEqual(negative.status, 0)
    }
}

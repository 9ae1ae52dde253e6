import Foundation
import Training
import XCTest

/// `--resume` over MPI after a rank died: each rank writes its workers' files of a checkpoint
/// and rank 0 its manifest once all have, so after a `kill -9` the newest step directory can be
/// incomplete or damaged. The run must continue from the newest checkpoint every rank reads
/// whole, bitwise as the uninterrupted run, saying which one it skipped and why.
final class ResumeOverMPITests: XCTestCase {
    /// 8 steps per epoch, 16 in all; checkpoints at 5, 10 and 15 (10 and 15 are kept).
    let small = ["train", "--backend", "mpi", "--workers", "2", "--dataset", "synthetic", "--synthetic-train", "128",
                 "--synthetic-test", "32", "--model", "mlp", "--epochs", "2", "--batch-size", "8", "--threads", "1",
                 "--algorithm", "local", "--local-steps", "3", "--checkpoint-every", "5", "--quiet"]

    func temporaryDirectory() throws -> String {
        let dir = NSTemporaryDirectory() + "localsgd-mpi-resume-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: dir) }
        return dir
    }

    func stepDirectory(_ dir: String, step: Int) -> String {
        dir + "/checkpoints/step-" + String(format: "%08d", step)
    }

    /// Steps of the step directories in `dir/checkpoints` holding `file`, oldest first.
    func steps(_ dir: String, holding file: String = "manifest.json") -> [Int] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir + "/checkpoints")) ?? []
        return names.compactMap { name -> Int? in
            guard name.hasPrefix("step-"), FileManager.default.fileExists(atPath: dir + "/checkpoints/" + name + "/" + file) else { return nil }
            return Int(name.dropFirst(5))
        }.sorted()
    }

    /// A finished run of `small`, copied with its run files removed and then changed by `damage`,
    /// as a run killed at its last checkpoint would have left it.
    func stoppedRun(_ root: String, _ name: String, damage: (String) throws -> Void) throws -> String {
        let dir = root + "/" + name
        try FileManager.default.copyItem(atPath: root + "/full", toPath: dir)
        for file in ["final.safetensors", "summary.json"] { try FileManager.default.removeItem(atPath: dir + "/" + file) }
        try damage(dir)
        return dir
    }

    /// Rank 1's worker file of the newest checkpoint cut short, or the manifest missing: both
    /// ranks go on from the step before, with a warning naming the step and the problem, and end
    /// bitwise where the uninterrupted run ended.
    func testADamagedNewestCheckpointFallsBackOnEveryRank() throws {
        let root = try temporaryDirectory()
        let full = try MPIRun.launch(ranks: 2, small + ["--out", root + "/full"])
        XCTAssertEqual(full.status, 0, full.output)
        XCTAssertEqual(steps(root + "/full"), [10, 15])
        let reference = try MPIRun.weights(root + "/full")

        let torn = try stoppedRun(root, "torn") { dir in
            let path = self.stepDirectory(dir, step: 15) + "/worker-1.safetensors"
            let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
            try bytes.prefix(bytes.count - 100).write(to: URL(fileURLWithPath: path))
        }
        let unfinished = try stoppedRun(root, "unfinished") { try FileManager.default.removeItem(atPath: self.stepDirectory($0, step: 15) + "/manifest.json") }
        let problems = [torn: "MPI rank 1: worker-1.safetensors is ", unfinished: "MPI rank 0: it has no manifest.json (its writing was cut short)"]
        for (dir, problem) in problems {
            let resumed = try MPIRun.launch(ranks: 2, ["train", "--resume", dir, "--quiet"])
            XCTAssertEqual(resumed.status, 0, resumed.output)
            XCTAssertTrue(resumed.output.contains("warning: the checkpoint of step 15 (\(self.stepDirectory(dir, step: 15))) cannot be used: \(problem)"), resumed.output)
            XCTAssertEqual(resumed.output.components(separatedBy: "warning:").count, 2, "rank 0 warns, once:\n\(resumed.output)")
            XCTAssertEqual(try MPIRun.weights(dir), reference, "\(dir) resumed from step 10")
            XCTAssertEqual(steps(dir), [10, 15], "step 15 written again")
        }
    }

    /// A rank count that does not divide K, or ranks started with different settings, stop with
    /// a sentence before any collective of training, never hang or trap.
    func testRanksThatCannotAgreeStopWithASentence() throws {
        let root = try temporaryDirectory()
        let full = try MPIRun.launch(ranks: 2, small + ["--out", root + "/full"])
        XCTAssertEqual(full.status, 0, full.output)
        let threeRanks = try MPIRun.launch(ranks: 3, ["train", "--resume", try stoppedRun(root, "three") { _ in }, "--quiet"], timeout: 60)
        XCTAssertNotEqual(threeRanks.status, 0, threeRanks.output)
        XCTAssertTrue(threeRanks.output.contains("--workers 2 must be a multiple of the 3 MPI ranks, which each hold as many workers; start 1 or 2 ranks"), threeRanks.output)
        XCTAssertFalse(threeRanks.output.contains("corruption") || threeRanks.output.contains("Fatal error"), threeRanks.output)

        let mpirun = try MPIRun.mpirun(), localsgd = MPIRun.localsgd.path
        let mixed = try MPIRun.run(URL(fileURLWithPath: mpirun), ["--oversubscribe", "-np", "1", localsgd] + small + ["--out", root + "/mixed"]
                                   + [":", "-np", "1", localsgd] + small + ["--out", root + "/mixed", "--lr", "0.01"], timeout: 60)
        XCTAssertNotEqual(mixed.status, 0, mixed.output)
        XCTAssertTrue(mixed.output.contains("MPI rank 1 was started with other settings or another model than rank 0"), mixed.output)
    }

    /// A real `kill -9` of rank 1 at a moment when rank 0 has written its files of a checkpoint
    /// that rank 1 never wrote its file of (rank 1 is stopped with SIGSTOP until that is so, then
    /// killed), so that step has no manifest: the resumed run warns, goes on from the step
    /// before, and ends bitwise where the uninterrupted run ended.
    func testRankKilledBehindTheOtherResumesBitwise() throws {
        let root = try temporaryDirectory()
        var long = small
        long.replaceSubrange(long.firstIndex(of: "--synthetic-train")!...long.firstIndex(of: "--synthetic-train")! + 1,
                             with: ["--synthetic-train", "2048"])
        long.replaceSubrange(long.firstIndex(of: "--epochs")!...long.firstIndex(of: "--epochs")! + 1, with: ["--epochs", "1"])
        long += ["--local-steps", "4", "--checkpoint-every", "3"]  // the later flags win: 128 steps
        let full = try MPIRun.launch(ranks: 2, long + ["--out", root + "/full"])
        XCTAssertEqual(full.status, 0, full.output)

        let dir = root + "/killed", pipe = Pipe()
        let job = MPIRun.process(URL(fileURLWithPath: try MPIRun.mpirun()),
                                 ["--oversubscribe", "-np", "2", MPIRun.localsgd.path] + long + ["--out", dir], output: pipe)
        try job.run()
        var rank1: pid_t?
        defer {
            if let rank1 { kill(rank1, SIGKILL) }
            if job.isRunning { job.terminate() }
        }
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline && job.isRunning && (rank1 == nil || steps(dir, holding: "worker-1.safetensors").isEmpty) {
            Thread.sleep(forTimeInterval: 0.05)
            rank1 = rank1 ?? MPIRun.pid(withEnvironment: "OMPI_COMM_WORLD_RANK=1", commandContaining: dir,
                                        descendantOf: job.processIdentifier)
        }
        guard let victim = rank1, job.isRunning else { return XCTFail("rank 1 never wrote a checkpoint while the job ran") }
        var ahead = false
        for _ in 0..<50 where !ahead && job.isRunning {
            kill(victim, SIGSTOP)
            for _ in 0..<20 where !ahead {  // rank 0 goes on until its next collective
                Thread.sleep(forTimeInterval: 0.05)
                ahead = (steps(dir, holding: "worker-0.safetensors").last ?? 0) > (steps(dir, holding: "worker-1.safetensors").last ?? 0)
            }
            if ahead { kill(victim, SIGKILL) } else { kill(victim, SIGCONT); Thread.sleep(forTimeInterval: 0.02) }
        }
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        job.waitUntilExit()
        XCTAssertTrue(ahead, "rank 0 never got a checkpoint ahead of rank 1 before the job ended:\n\(output)")
        XCTAssertNotEqual(job.terminationStatus, 0, output)
        let before = (steps(dir, holding: "worker-0.safetensors"), steps(dir, holding: "worker-1.safetensors"), steps(dir))
        XCTAssertGreaterThan(before.0.last ?? 0, before.1.last ?? 0)
        XCTAssertLessThan(before.2.last ?? 0, before.0.last ?? 0, "no manifest without rank 1's file")
        let held = "worker 0's files at \(before.0), worker 1's at \(before.1), manifests at \(before.2)"

        let resumed = try MPIRun.launch(ranks: 2, ["train", "--resume", dir, "--quiet"])
        XCTAssertEqual(resumed.status, 0, "\(held):\n" + resumed.output)
        XCTAssertTrue(resumed.output.contains("warning: the checkpoint of step \(before.0.last ?? 0) (\(stepDirectory(dir, step: before.0.last ?? 0))) cannot be used: "), resumed.output)
        XCTAssertEqual(try MPIRun.weights(dir), try MPIRun.weights(root + "/full"), held)
    }
}

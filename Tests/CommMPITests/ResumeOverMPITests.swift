import Foundation
import Training
import XCTest

/// `--resume` over MPI after a rank died: every rank writes its own checkpoint file, so after a
/// `kill -9` the ranks can hold different newest steps. The run must continue from the newest
/// step that every rank wrote completely, bitwise as the uninterrupted run, or say why it cannot.
final class ResumeOverMPITests: XCTestCase {
    /// 8 steps per epoch, 16 in all; checkpoints at 5, 10 and 15 (each rank keeps 10 and 15).
    let small = ["train", "--backend", "mpi", "--workers", "2", "--dataset", "synthetic", "--synthetic-train", "128",
                 "--synthetic-test", "32", "--model", "mlp", "--epochs", "2", "--batch-size", "8", "--threads", "1",
                 "--algorithm", "local", "--local-steps", "3", "--checkpoint-every", "5", "--quiet"]

    func temporaryDirectory() throws -> String {
        let dir = NSTemporaryDirectory() + "localsgd-mpi-resume-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: dir) }
        return dir
    }

    func checkpoint(_ dir: String, step: Int, rank: Int) -> String {
        dir + "/checkpoints/step-" + String(format: "%08d", step) + "-rank-\(rank).safetensors"
    }

    /// Steps of the checkpoint files of `rank` in `dir/checkpoints`, oldest first.
    func steps(_ dir: String, rank: Int) -> [Int] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir + "/checkpoints")) ?? []
        return names.compactMap { name -> Int? in
            guard name.hasPrefix("step-"), name.hasSuffix("-rank-\(rank).safetensors") else { return nil }
            return Int(name.dropFirst(5).prefix(8))
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

    /// Rank 1 missing its newest checkpoint, or holding it cut short: both ranks go on from the
    /// step before and end bitwise where the uninterrupted run ended.
    func testResumeUsesTheNewestStepEveryRankHoldsComplete() throws {
        let root = try temporaryDirectory()
        let full = try MPIRun.launch(ranks: 2, small + ["--out", root + "/full"])
        XCTAssertEqual(full.status, 0, full.output)
        XCTAssertEqual(steps(root + "/full", rank: 0), [10, 15])
        XCTAssertEqual(steps(root + "/full", rank: 1), [10, 15])
        let reference = try MPIRun.weights(root + "/full")

        let missing = try stoppedRun(root, "missing") { try FileManager.default.removeItem(atPath: self.checkpoint($0, step: 15, rank: 1)) }
        let torn = try stoppedRun(root, "torn") { dir in
            let path = self.checkpoint(dir, step: 15, rank: 1)
            let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
            try bytes.prefix(bytes.count - 100).write(to: URL(fileURLWithPath: path))
        }
        for dir in [missing, torn] {
            let resumed = try MPIRun.launch(ranks: 2, ["train", "--resume", dir, "--quiet"])
            XCTAssertEqual(resumed.status, 0, resumed.output)
            XCTAssertEqual(try MPIRun.weights(dir), reference, "\(dir) resumed from step 10")
            XCTAssertEqual(steps(dir, rank: 0), [10, 15], "step 15 written again by both ranks")
            XCTAssertEqual(steps(dir, rank: 1), [10, 15])
        }
    }

    /// Ranks holding no step in common, or started at different steps or with different
    /// settings, stop with a sentence before any collective of training, never hang or trap.
    func testRanksThatCannotAgreeStopWithASentence() throws {
        let root = try temporaryDirectory()
        let full = try MPIRun.launch(ranks: 2, small + ["--out", root + "/full"])
        XCTAssertEqual(full.status, 0, full.output)
        let apart = try stoppedRun(root, "apart") { dir in
            try FileManager.default.removeItem(atPath: self.checkpoint(dir, step: 10, rank: 0))
            try FileManager.default.removeItem(atPath: self.checkpoint(dir, step: 15, rank: 1))
        }
        let resumed = try MPIRun.launch(ranks: 2, ["train", "--resume", apart, "--quiet"], timeout: 60)
        XCTAssertNotEqual(resumed.status, 0, resumed.output)
        XCTAssertTrue(resumed.output.contains("no checkpoint step of \(apart)/checkpoints is held complete by every rank (rank 0: 15; rank 1: 10)"), resumed.output)
        XCTAssertFalse(resumed.output.contains("corruption") || resumed.output.contains("Fatal error"), resumed.output)
        XCTAssertEqual(steps(apart, rank: 0), [15], "nothing deleted")
        XCTAssertEqual(steps(apart, rank: 1), [10])

        let threeRanks = try MPIRun.launch(ranks: 3, ["train", "--resume", try stoppedRun(root, "three") { _ in }, "--workers", "3", "--quiet"], timeout: 60)
        XCTAssertNotEqual(threeRanks.status, 0, threeRanks.output)
        XCTAssertTrue(threeRanks.output.contains("rank 0: 10, 15; rank 1: 10, 15; rank 2: none); resume with as many ranks as the run had"), threeRanks.output)

        let mpirun = try MPIRun.mpirun(), localsgd = MPIRun.localsgd.path
        let mixed = try MPIRun.run(URL(fileURLWithPath: mpirun), ["--oversubscribe", "-np", "1", localsgd] + small + ["--out", root + "/mixed"]
                                   + [":", "-np", "1", localsgd] + small + ["--out", root + "/mixed", "--lr", "0.01"], timeout: 60)
        XCTAssertNotEqual(mixed.status, 0, mixed.output)
        XCTAssertTrue(mixed.output.contains("MPI rank 1 was started with other settings or another model than rank 0"), mixed.output)
    }

    /// A real `kill -9` of rank 1 at a moment when rank 0 has written a checkpoint that rank 1
    /// never wrote (rank 1 is stopped with SIGSTOP until that is so, then killed): the resumed
    /// run ends bitwise where the uninterrupted run ended.
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
        while Date() < deadline && job.isRunning && (rank1 == nil || steps(dir, rank: 1).isEmpty) {
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
                ahead = (steps(dir, rank: 0).last ?? 0) > (steps(dir, rank: 1).last ?? 0)
            }
            if ahead { kill(victim, SIGKILL) } else { kill(victim, SIGCONT); Thread.sleep(forTimeInterval: 0.02) }
        }
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        job.waitUntilExit()
        XCTAssertTrue(ahead, "rank 0 never got a checkpoint ahead of rank 1 before the job ended:\n\(output)")
        XCTAssertNotEqual(job.terminationStatus, 0, output)
        let before = (steps(dir, rank: 0), steps(dir, rank: 1))
        XCTAssertGreaterThan(before.0.last ?? 0, before.1.last ?? 0)

        let resumed = try MPIRun.launch(ranks: 2, ["train", "--resume", dir, "--quiet"])
        XCTAssertEqual(resumed.status, 0, "rank 0 held \(before.0), rank 1 \(before.1):\n" + resumed.output)
        XCTAssertEqual(try MPIRun.weights(dir), try MPIRun.weights(root + "/full"), "rank 0 held \(before.0), rank 1 \(before.1)")
    }
}

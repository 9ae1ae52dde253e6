import Foundation
import Tensor
import Training
import XCTest

/// `mpirun -np P localsgd train --backend mpi` against the in-process backend with the same K:
/// bitwise equal when every rank holds one worker and K = 2 (the reduction order is the same),
/// otherwise equal to float rounding (MPI adds partial sums in another order).
final class TrainingOverMPITests: XCTestCase {
    let base = ["train", "--dataset", "synthetic", "--synthetic-train", "128", "--synthetic-test", "32", "--model", "mlp",
                "--epochs", "2", "--batch-size", "8", "--threads", "1", "--local-steps", "2", "--quiet"]

    func algorithmArguments(_ name: String) -> [String] {
        switch name {
        case "post-local": return ["--algorithm", name, "--switch-epoch", "1"]
        case "hierarchical": return ["--algorithm", name, "--group-size", "2", "--global-every", "2"]
        default: return ["--algorithm", name]
        }
    }

    var localsgd: URL { MPIRun.localsgd }
    func run(_ executable: URL, _ arguments: [String]) throws -> (status: Int32, output: String) { try MPIRun.run(executable, arguments) }
    func weights(_ dir: String) throws -> [String: [Float]] { try MPIRun.weights(dir) }

    func compare(ranks: Int, workers: Int, algorithm: String, bitwise: Bool) throws {
        let mpirun = try MPIRun.mpirun()
        let dir = NSTemporaryDirectory() + "localsgd-mpi-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let args = base + algorithmArguments(algorithm) + ["--workers", String(workers)]
        let viaMPI = try run(URL(fileURLWithPath: mpirun), ["--oversubscribe", "-np", String(ranks), localsgd.path]
                             + args + ["--backend", "mpi", "--out", dir + "/mpi"])
        XCTAssertEqual(viaMPI.status, 0, viaMPI.output)
        XCTAssertEqual(viaMPI.output.components(separatedBy: "final:").count - 1, 1, "only rank 0 reports:\n\(viaMPI.output)")
        let inProcess = try run(localsgd, args + ["--out", dir + "/local"])
        XCTAssertEqual(inProcess.status, 0, inProcess.output)
        let a = try weights(dir + "/mpi"), b = try weights(dir + "/local")
        XCTAssertEqual(Set(a.keys), Set(b.keys))
        for (name, values) in b {
            if bitwise {
                XCTAssertEqual(a[name], values, "\(algorithm) \(name)")
            } else {
                // MPI_Allreduce adds in another order: ulp differences at each average, which
                // the ReLUs' kinks amplify over the run's 8 steps (measured up to 2.4e-5 on the
                // mlp's weights of ≈ 0.05). A wrong shard or a lost worker is off by far more.
                for (x, y) in zip(a[name]!, values) where abs(x - y) > 1e-4 + 1e-3 * abs(y) {
                    XCTFail("\(algorithm) \(name): \(x) vs \(y) beyond 1e-4 + 1e-3·|y|")
                    break
                }
            }
        }
        let summaryA = try MPIRun.summary(dir + "/mpi"), summaryB = try MPIRun.summary(dir + "/local")
        XCTAssertEqual(summaryA["syncs"] as? Int, summaryB["syncs"] as? Int)
        XCTAssertEqual(summaryA["bytes_communicated"] as? Int, summaryB["bytes_communicated"] as? Int)
        XCTAssertEqual(summaryA["train_loss"] as! Double, summaryB["train_loss"] as! Double, accuracy: 1e-4,
                       "train loss is the mean over all K workers on every backend")
    }

    /// Ranks whose oneDNN kernels differ (another instruction set, as on another host) train,
    /// and rank 0 warns naming each rank's kernels; ranks that agree give no warning.
    func testRanksOnDifferentKernelsAreNamedInAWarning() throws {
        let mpirun = try MPIRun.mpirun()
        let dir = NSTemporaryDirectory() + "localsgd-mpi-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let args = ["train", "--dataset", "synthetic", "--synthetic-train", "64", "--synthetic-test", "16", "--model", "cnn",
                    "--epochs", "1", "--batch-size", "8", "--threads", "1", "--workers", "2", "--algorithm", "local",
                    "--local-steps", "2", "--backend", "mpi"]
        let mixed = try run(URL(fileURLWithPath: mpirun), ["--oversubscribe", "-np", "1", "env", "DNNL_MAX_CPU_ISA=SSE41",
                                                           "ONEDNN_MAX_CPU_ISA=SSE41", localsgd.path] + args + ["--out", dir + "/mixed"]
                            + [":", "-np", "1", localsgd.path] + args + ["--out", dir + "/mixed"])
        XCTAssertEqual(mixed.status, 0, mixed.output)
        XCTAssertTrue(mixed.output.contains("warning: the MPI ranks run different kernels (rank 0: arithmetic version \(Arithmetic.version), OpenBLAS"),
                      mixed.output)
        XCTAssertTrue(mixed.output.contains("oneDNN on SSE41; rank 1: arithmetic version \(Arithmetic.version), OpenBLAS"), mixed.output)
        let alike = try run(URL(fileURLWithPath: mpirun), ["--oversubscribe", "-np", "2", localsgd.path] + args + ["--out", dir + "/alike"])
        XCTAssertEqual(alike.status, 0, alike.output)
        XCTAssertFalse(alike.output.contains("different kernels"), alike.output)
    }

    func testTwoRanksOneWorkerEachAreBitwiseTheInProcessRun() throws {
        for algorithm in ["minibatch", "local", "post-local", "slowmo"] {
            try compare(ranks: 2, workers: 2, algorithm: algorithm, bitwise: true)
        }
    }

    func testSeveralWorkersPerRankAndFourRanksMatchToRounding() throws {
        for algorithm in ["minibatch", "local", "post-local", "hierarchical", "slowmo"] {
            try compare(ranks: 2, workers: 4, algorithm: algorithm, bitwise: false)
        }
        try compare(ranks: 4, workers: 4, algorithm: "hierarchical", bitwise: false)
        try compare(ranks: 4, workers: 4, algorithm: "local", bitwise: false)
    }

    /// Over MPI each rank records its wait for the slowest rank at the training collectives
    /// (`sync_wait`, part of the measured communication), and the modelled communication is the
    /// modelled all-reduces plus that wait: here one of the weights per average (the mlp has no
    /// BatchNorm, and its empty statistics all-reduce is free). Relative tolerance 1e-9: Double
    /// sums of the per-step charges.
    func testRanksRecordTheirWaitAndTheModelledCommunicationAddsIt() throws {
        let dir = NSTemporaryDirectory() + "localsgd-mpi-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let network = "1gbit:1ms,overhead=1ms,efficiency=0.5"
        let result = try MPIRun.launch(ranks: 2, base + ["--algorithm", "local", "--workers", "2", "--backend", "mpi",
                                                         "--network", network, "--out", dir])
        XCTAssertEqual(result.status, 0, result.output)
        let s = try MPIRun.summary(dir)
        let wait = try XCTUnwrap(s["sync_wait"] as? Double, "summary.json has sync_wait over MPI")
        let communication = try XCTUnwrap((s["time"] as? [String: Any])?["communication"] as? Double)
        XCTAssertGreaterThanOrEqual(wait, 0)
        XCTAssertLessThanOrEqual(wait, communication, "the wait is part of the measured communication")
        let syncs = try XCTUnwrap(s["syncs"] as? Int), parameters = try XCTUnwrap(s["parameters"] as? Int)
        // o + 2(P−1)/P · n/(e·β) + 2(P−1)·α with P = 2: 1 ms + n / (0.5 · 1.25e8 B/s) + 2 · 1 ms.
        let perSync = 1e-3 + Double(4 * parameters) / (0.5 * 1.25e8) + 2e-3
        let expected = Double(syncs) * perSync + wait
        XCTAssertEqual(try XCTUnwrap(s["modelled_communication"] as? Double), expected, accuracy: 1e-9 * expected)
    }

    /// A rank that hangs (SIGSTOP) instead of dying: with `--collective-timeout 3` the other rank's
    /// watchdog aborts the job, non-zero and with a message naming the call, within seconds.
    func testHungRankAbortsTrainingAfterTheCollectiveTimeout() throws {
        try assertHungRankAborts(after: 2)
    }

    /// The same for a rank that hangs while the job starts (inside MPI_Init_thread's exchange,
    /// before any collective of ours): once, on a loaded machine, the others waited there forever.
    func testRankHungAtStartUpAbortsTheJobToo() throws {
        try assertHungRankAborts(after: 0)
    }

    /// Stops rank 1 `settle` seconds after it appears and expects the job to end non-zero within
    /// 30 s with the timeout's sentence.
    private func assertHungRankAborts(after settle: TimeInterval) throws {
        let mpirun = try MPIRun.mpirun()
        let dir = NSTemporaryDirectory() + "localsgd-mpi-hang-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let pipe = Pipe()
        let p = MPIRun.process(URL(fileURLWithPath: mpirun), [
            "--oversubscribe", "-np", "2", localsgd.path, "train", "--backend", "mpi", "--workers", "2",
            "--dataset", "synthetic", "--synthetic-train", "4096", "--synthetic-test", "32", "--model", "mlp",
            "--epochs", "1000", "--batch-size", "8", "--threads", "1", "--quiet",
            "--collective-timeout", "3", "--out", dir], output: pipe)
        try p.run()
        // Whatever happens below, nothing outlives the test.
        var rank1: pid_t?
        defer {
            if let rank1 { kill(rank1, SIGKILL) }
            if p.isRunning { p.terminate() }
        }
        let deadline = Date().addingTimeInterval(30)
        while rank1 == nil && Date() < deadline && p.isRunning {
            Thread.sleep(forTimeInterval: 0.2)
            // This job's rank (its run directory, under its mpirun), never another run's on a shared machine.
            rank1 = MPIRun.pid(withEnvironment: "OMPI_COMM_WORLD_RANK=1", commandContaining: dir,
                               descendantOf: p.processIdentifier)
        }
        guard let stopped = rank1 else { return XCTFail("rank 1 never started") }
        Thread.sleep(forTimeInterval: settle)  // 2 s: both ranks inside the training loop (if the machine is not loaded)
        XCTAssertTrue(p.isRunning, "the run ended before rank 1 was stopped")
        kill(stopped, SIGSTOP)
        let stoppedAt = Date()
        let watchdog = DispatchWorkItem { if p.isRunning { p.terminate() } }
        DispatchQueue.global().asyncAfter(deadline: .now() + 60, execute: watchdog)
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        watchdog.cancel()
        XCTAssertNotEqual(p.terminationStatus, 0, output)
        XCTAssertLessThan(Date().timeIntervalSince(stoppedAt), 30, output)
        XCTAssertTrue(output.contains("longer than the collective timeout of 3.0 s"), output)
    }
}

import Foundation
import XCTest

/// A checkpoint of K = 4 workers resumes under any layout whose rank count divides K (one
/// process, `mpirun -np 2`, `-np 4`), bitwise the uninterrupted run under `--reduction ordered`:
/// final.safetensors byte for byte, every epoch's metrics but wall-clock times, summary.json's
/// numbers, and syncs.jsonl. The checkpoint is in the middle of an epoch with the workers apart
/// (H = 3), so it carries every worker's own weights, optimizer state and epoch sums.
final class LayoutFreeResumeTests: XCTestCase {
    /// 16 iterations per epoch, 48 in all; checkpoints every 7, of which 35 and 42 are kept.
    let base = ["train", "--dataset", "synthetic", "--synthetic-train", "256", "--synthetic-test", "64", "--model", "mlp",
                "--epochs", "3", "--batch-size", "4", "--workers", "4", "--local-steps", "3", "--threads", "1", "--quiet"]
    let mpi = ["--backend", "mpi", "--reduction", "ordered"]

    func testLocalSGDResumesUnderEveryLayout() throws {
        try assertLayoutFree(["--algorithm", "local"])
    }

    /// SlowMo: its outer momentum and anchor x₀, the same on every process, are in the shared file.
    func testSlowMoResumesUnderEveryLayout() throws {
        try assertLayoutFree(["--algorithm", "slowmo", "--slowmo-momentum", "0.5"])
    }

    /// Streaming DiLoCo, P = 3, τ = 1: the checkpoint of step 35 holds fragment 2's result in
    /// flight (synchronized after t = 35, applied after t = 36); syncs.jsonl has a line per fragment.
    func testStreamingDiLoCoResumesUnderEveryLayout() throws {
        try assertLayoutFree(["--algorithm", "diloco", "--streaming-fragments", "3", "--streaming-overlap", "1"])
    }

    /// int8 with error feedback: every worker's residual and codec anchor are in its own file.
    func testCompressedRunWithErrorFeedbackResumesUnderEveryLayout() throws {
        try assertLayoutFree(["--algorithm", "local", "--compress", "int8", "--error-feedback"])
    }

    func testARankCountThatDoesNotDivideKIsAClearError() throws {
        let dir = try scratchDirectory()
        let run = try MPIRun.run(MPIRun.localsgd, base + ["--algorithm", "local", "--checkpoint-every", "7", "--out", dir + "/run"])
        XCTAssertEqual(run.status, 0, run.output)
        try cutShort(dir + "/run")
        let three = try MPIRun.launch(ranks: 3, ["train", "--resume", dir + "/run", "--quiet"] + mpi, timeout: 60)
        XCTAssertNotEqual(three.status, 0, three.output)
        XCTAssertTrue(three.output.contains("--workers 4 must be a multiple of the 3 MPI ranks, which each hold as many workers; start 1, 2 or 4 ranks (a checkpoint of the run resumes under any of them)"), three.output)
        XCTAssertEqual(steps(dir + "/run"), [35], "nothing removed")
    }

    /// The uninterrupted in-process run against: its checkpoint resumed in one process (with two
    /// threads), on 2 and on 4 ranks; and a 4-rank run (itself equal to the reference) whose
    /// checkpoint is resumed on 2 ranks and in one process.
    private func assertLayoutFree(_ algorithm: [String], file: StaticString = #filePath, line: UInt = #line) throws {
        let dir = try scratchDirectory()
        let args = base + algorithm
        let reference = dir + "/reference"
        try expectSuccess(MPIRun.run(MPIRun.localsgd, args + ["--out", reference]), file: file, line: line)
        let expected = try outcome(reference)

        let inProcess = dir + "/inprocess", fourRanks = dir + "/four-ranks"
        try expectSuccess(MPIRun.run(MPIRun.localsgd, args + ["--checkpoint-every", "7", "--out", inProcess]), file: file, line: line)
        try expectSuccess(MPIRun.launch(ranks: 4, args + mpi + ["--checkpoint-every", "7", "--out", fourRanks]), file: file, line: line)
        XCTAssertEqual(try outcome(fourRanks), expected, "\(algorithm): the 4-rank run", file: file, line: line)

        let resumes: [(from: String, ranks: Int)] = [(inProcess, 1), (inProcess, 2), (inProcess, 4), (fourRanks, 2), (fourRanks, 1)]
        for (i, (from, ranks)) in resumes.enumerated() {
            let out = dir + "/resume-\(i)"
            try FileManager.default.copyItem(atPath: from, toPath: out)
            try cutShort(out)
            let what = "\(algorithm): \((from as NSString).lastPathComponent)'s checkpoint of step 35 resumed on \(ranks == 1 ? "one process" : "\(ranks) ranks")"
            if ranks == 1 {
                try expectSuccess(MPIRun.run(MPIRun.localsgd, ["train", "--resume", out, "--backend", "inprocess", "--threads", "2", "--quiet"]),
                                  what, file: file, line: line)
            } else {
                try expectSuccess(MPIRun.launch(ranks: ranks, ["train", "--resume", out, "--quiet"] + mpi), what, file: file, line: line)
            }
            let got = try outcome(out)
            XCTAssertEqual(got.final, expected.final, "\(what): final.safetensors", file: file, line: line)
            XCTAssertEqual(got.metrics, expected.metrics, "\(what): metrics.jsonl", file: file, line: line)
            XCTAssertEqual(got.summary, expected.summary, "\(what): summary.json", file: file, line: line)
            XCTAssertEqual(got.syncs, expected.syncs, "\(what): syncs.jsonl", file: file, line: line)
            XCTAssertEqual(steps(out), [35, 42], "\(what): step 42 written again", file: file, line: line)
        }
    }

    private struct Outcome: Equatable {
        var final: Data
        var metrics: [String]
        var summary: String
        var syncs: String
    }

    /// What a run wrote that does not depend on wall-clock time or on the layout: the model, the
    /// metrics and summary without their times, the record without the codec error (each
    /// process knows only its own workers' payloads, so over MPI it is null).
    private func outcome(_ dir: String) throws -> Outcome {
        let lines = try String(contentsOfFile: dir + "/metrics.jsonl", encoding: .utf8).split(separator: "\n")
        let metrics = try lines.map { try fields(Data($0.utf8), ["epoch", "steps", "train_loss", "train_accuracy", "test_loss",
                                                                  "test_accuracy", "lr", "syncs", "bytes_communicated"]) }
        let summary = try fields(Data(contentsOf: URL(fileURLWithPath: dir + "/summary.json")),
                                 ["steps", "test_accuracy", "test_loss", "train_loss", "train_accuracy", "syncs", "bytes_communicated",
                                  "peak_bytes_per_step", "parameters"])
        let syncs = try String(contentsOfFile: dir + "/syncs.jsonl", encoding: .utf8)
            .replacingOccurrences(of: #""codec_error":[^,}]*"#, with: #""codec_error":-"#, options: .regularExpression)
        return Outcome(final: try Data(contentsOf: URL(fileURLWithPath: dir + "/final.safetensors")), metrics: metrics,
                       summary: summary, syncs: syncs)
    }

    /// The values of `keys` in a JSON object as its text writes them (JSONEncoder writes the
    /// shortest digits that read back to the same bits, so equal text is equal bits).
    private func fields(_ json: Data, _ keys: [String]) throws -> String {
        let text = String(decoding: json, as: UTF8.self)
        return keys.map { key in
            let value = text.range(of: "\"\(key)\"\\s*:\\s*[^,}\\s]+", options: .regularExpression).map { String(text[$0]) }
            return value ?? "\(key): absent"
        }.joined(separator: " ")
    }

    /// Leaves `dir` as a run killed after its older checkpoint (35) would: the newer one and the
    /// files written at the end removed.
    private func cutShort(_ dir: String) throws {
        XCTAssertEqual(steps(dir), [35, 42])
        try FileManager.default.removeItem(atPath: dir + "/checkpoints/step-00000042")
        for name in ["final.safetensors", "summary.json"] { try FileManager.default.removeItem(atPath: dir + "/" + name) }
    }

    private func steps(_ dir: String) -> [Int] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir + "/checkpoints")) ?? []
        return names.compactMap { $0.hasPrefix("step-") ? Int($0.dropFirst(5)) : nil }.sorted()
    }

    private struct RunFailed: Error {}

    private func expectSuccess(_ run: (status: Int32, output: String), _ what: String = "", file: StaticString, line: UInt) throws {
        XCTAssertEqual(run.status, 0, "\(what)\n\(run.output)", file: file, line: line)
        if run.status != 0 { throw RunFailed() }
    }

    private func scratchDirectory() throws -> String {
        _ = try MPIRun.mpirun()
        let dir = NSTemporaryDirectory() + "localsgd-layout-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: dir) }
        return dir
    }
}

import Foundation
import XCTest

/// `mpirun -np P localsgd train --backend mpi --reduction ordered` is bitwise the in-process run
/// with the same K, for every layout of the K workers over the ranks (one or several per rank)
/// and whatever the threads: the ranks run the default two threads each, the in-process
/// reference one. Compared: final.safetensors byte for byte, every epoch's test loss and the
/// record of synchronizations (syncs.jsonl) byte for byte.
final class OrderedTrainingTests: XCTestCase {
    let base = ["train", "--dataset", "synthetic", "--synthetic-train", "128", "--synthetic-test", "32", "--model", "mlp",
                "--epochs", "2", "--batch-size", "8", "--local-steps", "2", "--quiet"]

    func algorithmArguments(_ name: String) -> [String] {
        switch name {
        case "post-local": return ["--algorithm", name, "--switch-epoch", "1"]
        // K = 4: groups of 2 inside a rank (2 ranks × 2) or across two ranks (4 × 1).
        case "hierarchical": return ["--algorithm", name, "--group-size", "2", "--global-every", "2"]
        // Streaming DiLoCo: the mlp's 3 layers as 3 fragments, each result applied a step late.
        case "streaming": return ["--algorithm", "diloco", "--streaming-fragments", "3", "--streaming-overlap", "1"]
        default: return ["--algorithm", name]
        }
    }

    func testTwoRanksOfOneWorkerWithTwoThreadsEach() throws {
        for algorithm in ["local", "minibatch"] {
            try assertBitwise(algorithm: algorithm, workers: 2, ranks: [2])
        }
    }

    func testFourWorkersOnTwoRanksOfTwoAndOnFourRanksOfOne() throws {
        for algorithm in ["local", "minibatch", "hierarchical"] {
            try assertBitwise(algorithm: algorithm, workers: 4, ranks: [2, 4])
        }
    }

    func testPostLocalSlowMoAndDiLoCoOnFourRanks() throws {
        for algorithm in ["post-local", "slowmo", "diloco"] {
            try assertBitwise(algorithm: algorithm, workers: 4, ranks: [4])
        }
    }

    func testStreamingDiLoCoOnTwoRanks() throws {
        try assertBitwise(algorithm: "streaming", workers: 4, ranks: [2])
    }

    /// A language model too: gpt-micro on a small text corpus, DiLoCo with inner AdamW and outer
    /// Adam, 4 workers on 2 ranks, bitwise the in-process run.
    func testDiLoCoOnTextWithAdamWOnTwoRanks() throws {
        let dir = try scratchDirectory()
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let corpus = dir + "/corpus.txt"
        let line = "the quick brown fox jumps over the lazy dog; pack my box with five dozen liquor jugs.\n"
        try String(repeating: line, count: 12).write(toFile: corpus, atomically: true, encoding: .utf8)
        let text = ["train", "--dataset", "text", "--data-dir", corpus, "--context-length", "16", "--model", "gpt-micro",
                    "--optimizer", "adamw", "--no-scale-lr", "--lr", "0.003", "--weight-decay", "0.1", "--grad-clip", "1",
                    "--epochs", "2", "--batch-size", "4", "--local-steps", "3", "--outer-optimizer", "adam", "--outer-lr", "0.01",
                    "--quiet"]
        try assertBitwise(algorithm: "diloco", workers: 4, ranks: [2], base: text)
    }

    /// Async's concurrent mode over MPI takes the ordered non-blocking mean (the chain on the
    /// progress queue, beside evaluation's blocking calls on a second communicator); its result
    /// depends on timing, so it is only checked to run and to average.
    func testAsyncRunsWithTheOrderedReduction() throws {
        let out = try scratchDirectory()
        let run = try MPIRun.launch(ranks: 2, [
            "train", "--backend", "mpi", "--reduction", "ordered", "--algorithm", "async", "--nodes", "2",
            "--threads-per-node", "2", "--average-every", "2", "--dataset", "synthetic", "--synthetic-train", "256",
            "--synthetic-test", "32", "--model", "mlp", "--epochs", "1", "--batch-size", "4", "--threads", "1",
            "--quiet", "--out", out])
        XCTAssertEqual(run.status, 0, run.output)
        let summary = try MPIRun.summary(out)
        let syncs = try XCTUnwrap(summary["syncs"] as? Int), parameters = try XCTUnwrap(summary["parameters"] as? Int)
        XCTAssertGreaterThan(syncs, 0, run.output)
        XCTAssertEqual(summary["bytes_communicated"] as? Int, syncs * 4 * parameters, "one mean of the mlp's weights per round")
    }

    /// Compressed payloads: `--compress int8` (local SGD, and minibatch's gradients) and top-k with
    /// error feedback give the in-process bits over 2 ranks of one worker and 2 ranks of two.
    func testCompressedRunsEqualTheInProcessRun() throws {
        for codec in [["--compress", "int8"], ["--compress", "topk", "--compress-ratio", "0.05", "--error-feedback"]] {
            let base = self.base + codec
            try assertBitwise(algorithm: "local", workers: 2, ranks: [2], base: base)
            try assertBitwise(algorithm: "minibatch", workers: 4, ranks: [2], base: base)
        }
    }

    /// The control: the same comparison with `--reduction fast` (MPI_Allreduce adds the two ranks'
    /// partial sums, (w₀+w₁)+(w₂+w₃)) finds different bits, so these runs do tell the orders apart.
    func testTheFastReductionIsNotBitwiseOnTheSameRun() throws {
        let (reference, mpi) = try runBoth(algorithm: "local", workers: 4, ranks: 2, reduction: "fast")
        XCTAssertNotEqual(try finalBytes(mpi), try finalBytes(reference),
                          "local SGD, K = 4 on 2 ranks: the fast reduction gave the in-process bits; the ordered tests prove nothing")
    }

    private func assertBitwise(algorithm: String, workers: Int, ranks: [Int], base: [String]? = nil,
                               file: StaticString = #filePath, line: UInt = #line) throws {
        let dir = try scratchDirectory()
        let reference = try runInProcess(algorithm: algorithm, workers: workers, out: dir + "/inprocess", base: base)
        for p in ranks {
            let out = dir + "/mpi-\(p)"
            try runMPI(algorithm: algorithm, workers: workers, ranks: p, reduction: "ordered", out: out, base: base)
            let what = "\(algorithm), K = \(workers) on \(p) ranks of \(workers / p)"
            if try finalBytes(out) != finalBytes(reference) {
                XCTFail("\(what): final.safetensors differs from the in-process run's\(try firstDifference(out, reference))",
                        file: file, line: line)
            }
            XCTAssertEqual(try testLosses(out), try testLosses(reference), what, file: file, line: line)
            XCTAssertEqual(try syncs(out), try syncs(reference), "\(what): syncs.jsonl", file: file, line: line)
        }
    }

    /// The run's syncs.jsonl, which rank 0 wrote from every rank's partial sums (every run here
    /// keeps one: Streaming DiLoCo a line per fragment). `codec_error` is left out: it needs
    /// every worker's exact payload, which a rank has only for its own workers, so over MPI it is null.
    private func syncs(_ dir: String) throws -> String {
        let text = try String(contentsOfFile: dir + "/syncs.jsonl", encoding: .utf8)
        XCTAssertFalse(text.isEmpty, "\(dir)/syncs.jsonl is empty")
        return text.replacingOccurrences(of: #""codec_error":[^,}]*"#, with: #""codec_error":-"#, options: .regularExpression)
    }

    private func runBoth(algorithm: String, workers: Int, ranks: Int, reduction: String) throws -> (String, String) {
        let dir = try scratchDirectory()
        let reference = try runInProcess(algorithm: algorithm, workers: workers, out: dir + "/inprocess")
        try runMPI(algorithm: algorithm, workers: workers, ranks: ranks, reduction: reduction, out: dir + "/mpi")
        return (reference, dir + "/mpi")
    }

    private func runInProcess(algorithm: String, workers: Int, out: String, base: [String]? = nil) throws -> String {
        let args = (base ?? self.base) + algorithmArguments(algorithm) + ["--workers", String(workers), "--threads", "1", "--out", out]
        let run = try MPIRun.run(MPIRun.localsgd, args)
        XCTAssertEqual(run.status, 0, run.output)
        return out
    }

    private func runMPI(algorithm: String, workers: Int, ranks: Int, reduction: String, out: String,
                        base: [String]? = nil) throws {
        let args = (base ?? self.base) + algorithmArguments(algorithm)
            + ["--workers", String(workers), "--backend", "mpi", "--reduction", reduction, "--out", out]
        let run = try MPIRun.launch(ranks: ranks, args)
        XCTAssertEqual(run.status, 0, run.output)
    }

    private func scratchDirectory() throws -> String {
        let dir = NSTemporaryDirectory() + "localsgd-ordered-\(UUID().uuidString)"
        addTeardownBlock { try? FileManager.default.removeItem(atPath: dir) }
        return dir
    }

    private func finalBytes(_ dir: String) throws -> Data {
        try Data(contentsOf: URL(fileURLWithPath: dir + "/final.safetensors"))
    }

    private func testLosses(_ dir: String) throws -> [Double] {
        let text = try String(contentsOfFile: dir + "/metrics.jsonl", encoding: .utf8)
        return try text.split(separator: "\n").map { line in
            let record = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            return try XCTUnwrap(record?["test_loss"] as? Double, "no test_loss in \(line)")
        }
    }

    /// ": the first differing tensor, element and values", for the failure message.
    private func firstDifference(_ a: String, _ b: String) throws -> String {
        let x = try MPIRun.weights(a), y = try MPIRun.weights(b)
        for name in y.keys.sorted() {
            guard let u = x[name], let v = y[name], u.count == v.count else { return ": tensor \(name) is missing or resized" }
            if let i = u.indices.first(where: { u[$0].bitPattern != v[$0].bitPattern }) {
                return ": \(name)[\(i)] is \(u[i]) over MPI, \(v[i]) in process"
            }
        }
        return " (in bytes outside the weights)"
    }
}

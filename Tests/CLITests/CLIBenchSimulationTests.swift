import Foundation
import XCTest

/// `localsgd bench --simulation`: K simulated workers' throughput against one, each in a child
/// process. No speed is asserted, only that the numbers are there and consistent.
extension CLITests {
    func testBenchSimulationPrintsARowPerWorkerCountWithKOneAsTheReference() throws {
        let r = try run(["bench", "--simulation", "--models", "mlp", "--workers", "2", "--batches", "8", "--threads", "1",
                         "--local-steps", "2", "--iterations", "2", "--warmup", "1", "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let rows = try r.stdout.split(separator: "\n").map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
        XCTAssertEqual(rows.map { $0["workers"] as? Int }, [1, 2], "K = 1 comes first even when not asked for")
        for row in rows {
            for key in ["model", "batch", "threads", "local_steps", "iterations", "warmup", "parameters", "train_samples", "seconds",
                        "samples_per_s", "ms_per_worker_step", "of_one_worker", "peak_rss_bytes"] {
                XCTAssertNotNil(row[key], key)
            }
            XCTAssertEqual(row["model"] as? String, "mlp")
            XCTAssertEqual(row["iterations"] as? Int, 2)
            XCTAssertEqual(row["local_steps"] as? Int, 2)
            let samplesPerS = try XCTUnwrap(row["samples_per_s"] as? Double), seconds = try XCTUnwrap(row["seconds"] as? Double)
            let workers = try XCTUnwrap(row["workers"] as? Int)
            XCTAssertGreaterThan(samplesPerS, 0)
            XCTAssertTrue(samplesPerS.isFinite)
            // samples/s and ms per worker-step are the same seconds over 2 iterations of K workers × 8 samples.
            XCTAssertEqual(samplesPerS, Double(2 * workers * 8) / seconds, accuracy: samplesPerS * 1e-9)
            XCTAssertEqual(try XCTUnwrap(row["ms_per_worker_step"] as? Double), seconds / Double(2 * workers) * 1e3,
                           accuracy: 1e-9)
            XCTAssertGreaterThan(try XCTUnwrap(row["peak_rss_bytes"] as? Int), 1 << 20)
            XCTAssertGreaterThan(try XCTUnwrap(row["parameters"] as? Int), 0)
        }
        XCTAssertEqual(rows[0]["of_one_worker"] as? Double, 1, "K = 1 against itself: exactly 1")
        let ratio = try XCTUnwrap(rows[1]["of_one_worker"] as? Double)
        XCTAssertEqual(ratio, (rows[1]["samples_per_s"] as! Double) / (rows[0]["samples_per_s"] as! Double), accuracy: ratio * 1e-12)

        let table = try run(["bench", "--simulation", "--models", "mlp", "--workers", "1", "--batches", "8", "--threads", "1",
                             "--iterations", "1", "--warmup", "0"])
        XCTAssertEqual(table.status, 0, table.stderr)
        XCTAssertTrue(table.stdout.contains("of K=1"), table.stdout)
        XCTAssertTrue(table.stdout.contains("100.0%"), table.stdout)
    }

    func testBenchSimulationRefusesBadSettingsWithASentence() throws {
        let cases: [([String], String)] = [
            (["--workers", "0"], "--workers takes integers between 1 and 1024 separated by commas, got '0'"),
            (["--workers", "1,2048"], "--workers takes integers between 1 and 1024 separated by commas, got '1,2048'"),
            (["--workers", "x"], "--workers takes integers between 1 and 1024"),
            (["--models", "mlp,nosuchmodel"], "unknown model 'nosuchmodel'; choose from"),
            (["--models", "gpt-tiny"], "--simulation trains on synthetic images; gpt-tiny reads text"),
            (["--iterations", "0"], "--iterations must be between 1 and 1000, got 0"),
            (["--iterations", "9223372036854775807"], "--iterations must be between 1 and 1000"),
            (["--local-steps", "0"], "--local-steps must be between 1 and 10^6, got 0"),
            (["--warmup", "1001"], "--warmup with --simulation must be between 0 and 1000 iterations, got 1001"),
            (["--batches", "0"], "--batches takes integers between 1 and 4096"),
            (["--threads", "300"], "--threads takes integers between 1 and 256"),
            (["--averaging"], "give --averaging or --simulation, not both"),
            (["--layers"], "--simulation times whole iterations in wall-clock time; --compare-pytorch, --layers"),
            (["--models", "resnet50", "--workers", "1024", "--batches", "4096"], 
             "--simulation with 1024 resnet50 workers at batch 4096 needs about"),
        ]
        for (arguments, expected) in cases {
            let r = try run(["bench", "--simulation", "--models", "mlp", "--iterations", "1"] + arguments)
            XCTAssertEqual(r.status, 1, "\(arguments): \(r.stderr)")
            XCTAssertTrue(r.stderr.contains("localsgd: error: " + expected), "\(arguments): \(r.stderr)")
            XCTAssertEqual(r.stdout, "", "\(arguments): nothing measured before the error")
        }
    }
}

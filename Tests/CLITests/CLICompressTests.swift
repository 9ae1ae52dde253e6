import Foundation
import XCTest

/// `--compress`, `--compress-ratio` and `--error-feedback` from the command line: in config.json,
/// in `--help`, and every bad value a sentence naming the flag with a non-zero exit.
extension CLITests {
    var compressRun: [String] {
        ["train", "--dataset", "synthetic", "--synthetic-train", "128", "--synthetic-test", "32", "--model", "mlp",
         "--epochs", "1", "--workers", "2", "--algorithm", "local", "--local-steps", "2", "--threads", "1", "--quiet"]
    }

    func testCompressFlagsReachTheConfigAndBadValuesAreSentences() throws {
        let dir = try temporaryDirectory()
        let r = try run(compressRun + ["--compress", "topk", "--compress-ratio", "0.05", "--error-feedback", "--out", dir + "/run"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let config = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/run/config.json"))) as! [String: Any]
        XCTAssertEqual(config["compress"] as? String, "topk")
        XCTAssertEqual((config["compress_ratio"] as? NSNumber)?.doubleValue, 0.05)
        XCTAssertEqual(config["error_feedback"] as? Bool, true)
        let cases: [([String], String)] = [
            (["--compress", "topk", "--compress-ratio", "0"], "--compress-ratio must be greater than 0 and at most 1, got 0"),
            (["--compress", "topk", "--compress-ratio", "1.5"], "--compress-ratio must be greater than 0 and at most 1, got 1.5"),
            (["--compress", "int4"], "'int4' is invalid for '--compress <compress>'"),
            (["--error-feedback"], "--error-feedback needs a codec: give --compress fp16, bf16, int8, topk (with --compress none nothing is compressed)"),
            (["--compress", "int8", "--compress-ratio", "0.1"], "--compress-ratio applies to --compress topk (the codec is int8)"),
        ]
        for (flags, sentence) in cases {
            let bad = try run(compressRun + flags + ["--out", dir + "/bad"])
            XCTAssertNotEqual(bad.status, 0, "\(flags)")
            XCTAssertTrue(bad.stderr.contains(sentence), "\(flags): \(bad.stderr)")
            XCTAssertFalse(bad.stderr.contains("Fatal error"), bad.stderr)
        }
        let async = try run(["train", "--algorithm", "async", "--compress", "int8", "--dataset", "synthetic", "--out", dir + "/async"])
        XCTAssertNotEqual(async.status, 0)
        XCTAssertTrue(async.stderr.contains("--compress applies to the lockstep algorithms"), async.stderr)
        let help = try run(["train", "--help"])
        for flag in ["--compress <compress>", "--compress-ratio", "--error-feedback"] {
            XCTAssertTrue(help.stdout.contains(flag), "\(flag) missing from --help")
        }
    }
}

import Foundation
import XCTest

/// `--optimizer adam|adamw`, the Adam flags and `--grad-clip` from the command line: they reach
/// config.json, are range-checked under their own names, and an AdamW run killed after a
/// checkpoint resumes to the uninterrupted run's model, byte for byte.
extension CLITests {
    var adamRun: [String] {
        ["train", "--dataset", "synthetic", "--synthetic-train", "512", "--synthetic-test", "64", "--model", "mlp",
         "--epochs", "4", "--workers", "2", "--algorithm", "local", "--local-steps", "3", "--momentum-sync", "average",
         "--threads", "1", "--quiet", "--optimizer", "adamw", "--no-scale-lr", "--lr", "0.01", "--weight-decay", "0.01",
         "--adam-beta2", "0.99", "--grad-clip", "1", "--checkpoint-every", "1e"]
    }

    func testAdamWFlagsReachTheConfigAndAreRangeChecked() throws {
        let dir = try temporaryDirectory()
        let r = try run(adamRun + ["--epochs", "1", "--out", dir + "/run"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let config = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/run/config.json"))) as! [String: Any]
        XCTAssertEqual(config["optimizer"] as? String, "adamw")
        XCTAssertEqual((config["adam_beta2"] as? NSNumber)?.floatValue, 0.99)
        XCTAssertEqual((config["adam_beta1"] as? NSNumber)?.floatValue, 0.9, "default")
        XCTAssertEqual((config["grad_clip"] as? NSNumber)?.floatValue, 1)
        for (flag, value, sentence) in [("--adam-beta1", "1", "--adam-beta1 must be at least 0 and under 1, got 1"),
                                        ("--adam-epsilon", "-1", "--adam-epsilon must be greater than 0 and at most 1, got -1"),
                                        ("--adam-epsilon", "0", "--adam-epsilon must be greater than 0 and at most 1, got 0"),
                                        ("--grad-clip", "-0.5", "--grad-clip must be between 0 and 1e+30, got -0.5")] {
            let bad = try run(adamRun + [flag, value, "--out", dir + "/bad"])
            XCTAssertEqual(bad.status, 1)
            XCTAssertTrue(bad.stderr.contains(sentence), bad.stderr)
        }
    }

    func testAKilledAdamWRunResumesToTheSameModel() throws {
        let dir = try temporaryDirectory(), out = dir + "/killed"
        let full = try run(adamRun + ["--out", dir + "/full"])
        XCTAssertEqual(full.status, 0, full.stderr)
        let p = Process()
        p.executableURL = executable
        p.arguments = adamRun + ["--out", out]
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        func checkpoints() -> [String] {  // complete ones: their manifest is written last
            ((try? FileManager.default.contentsOfDirectory(atPath: out + "/checkpoints")) ?? [])
                .filter { FileManager.default.fileExists(atPath: out + "/checkpoints/" + $0 + "/manifest.json") }
        }
        while checkpoints().isEmpty && p.isRunning { usleep(2000) }
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        let resumed = try run(["train", "--resume", out])
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
        let expected = try Data(contentsOf: URL(fileURLWithPath: dir + "/full/final.safetensors"))
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: out + "/final.safetensors")), expected)
    }
}

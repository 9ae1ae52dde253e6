import Foundation
import RunFiles
import XCTest
@testable import Training

/// `--lr 1000 --checkpoint-every 1` on resnet20 once left only checkpoints with infinite
/// BatchNorm statistics and NaN weights, or failed encoding a NaN test loss.
extension CLITests {
    func testADivergingRunStopsWithASentenceAndLeavesOnlyFiniteFiles() throws {
        let dir = try temporaryDirectory()
        let run1 = ["train", "--model", "resnet20", "--dataset", "synthetic", "--synthetic-train", "64", "--synthetic-test", "16",
                    "--batch-size", "16", "--epochs", "2", "--threads", "1", "--lr", "1000", "--checkpoint-every", "1",
                    "--quiet", "--out", dir + "/run"]
        let first = try run(run1)
        XCTAssertEqual(first.status, 1, first.stderr)
        XCTAssertTrue(first.stderr.contains("lower --lr, add --warmup-epochs"), first.stderr)
        XCTAssertTrue(first.stderr.contains("at epoch 1") || first.stderr.contains("of epoch 1") || first.stderr.contains("by epoch 1"),
                      first.stderr)
        XCTAssertFalse(first.stderr.contains("EncodingError"), first.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/run/final.safetensors"))
        try assertFiniteRun(dir + "/run")
        XCTAssertFalse(CheckpointFiles.allCheckpoints(in: dir + "/run/checkpoints").isEmpty, "the finite checkpoints stay")

        let resumed = try run(["train", "--resume", dir + "/run", "--quiet"])
        XCTAssertEqual(resumed.status, 1, "resuming repeats the same steps: \(resumed.stderr)")
        XCTAssertTrue(resumed.stderr.contains("lower --lr, add --warmup-epochs"), resumed.stderr)
        try assertFiniteRun(dir + "/run")
    }

    /// Every tensor of every model file is finite, metrics hold no NaN, and no temporary file is left.
    func assertFiniteRun(_ directory: String, line: UInt = #line) throws {
        let files = FileManager.default.enumerator(atPath: directory)?.compactMap { $0 as? String } ?? []
        for name in files {
            XCTAssertFalse(name.hasSuffix(".tmp"), name, line: line)
            if name.hasSuffix(".safetensors") {
                for (tensor, t) in try Safetensors.read(path: directory + "/" + name).tensors where t.dtype == "F32" {
                    XCTAssertTrue(try Safetensors.floatArray(t).allSatisfy(\.isFinite), "\(name): \(tensor)", line: line)
                }
            }
            if name.hasSuffix(".jsonl") || name.hasSuffix(".json") {
                let text = try String(contentsOfFile: directory + "/" + name, encoding: .utf8)
                XCTAssertFalse(text.contains("nan") || text.contains("inf\""), name, line: line)
            }
        }
    }
}

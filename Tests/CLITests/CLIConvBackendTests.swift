import Foundation
import NN
import XCTest

/// oneDNN's convolutions, the default: a short training run gives the same model on any thread
/// count and every time, with the flag or without, and not the model of our own kernels
/// (`--conv-backend blas`, so the flag reaches the layers); config.json records the backend and
/// the instruction set of oneDNN's kernels.
extension CLITests {
    func testOneDNNRunIsBitwiseTheSameOnAnyThreadsAndEveryTime() throws {
        let dir = try temporaryDirectory()
        // resnet20 on 28×28: 18 of its 21 convolutions are oneDNN's; K = 2 local SGD, 4 steps of 8 each.
        let args = ["train", "--dataset", "synthetic", "--synthetic-train", "64", "--synthetic-test", "16",
                    "--model", "resnet20", "--epochs", "1", "--batch-size", "8", "--algorithm", "local", "--workers", "2",
                    "--local-steps", "2"]
        var models: [String: Data] = [:]
        for (name, extra) in [("t1", ["--threads", "1", "--conv-backend", "onednn"]),
                              ("t2", ["--threads", "2", "--conv-backend", "onednn"]),
                              ("t4", ["--threads", "4", "--conv-backend", "onednn"]), ("t2-default", ["--threads", "2"])] {
            let r = try run(args + extra + ["--out", dir + "/" + name])
            XCTAssertEqual(r.status, 0, r.stderr)
            models[name] = FileManager.default.contents(atPath: dir + "/" + name + "/final.safetensors")
        }
        XCTAssertNotNil(models["t1"])
        for name in ["t2", "t4", "t2-default"] { XCTAssertEqual(models[name], models["t1"], "\(name) against t1") }
        let config = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/t1/config.json"))) as! [String: Any]
        XCTAssertEqual(config["conv_backend"] as? String, "onednn")
        let derived = try XCTUnwrap(config["derived"] as? [String: Any])
        XCTAssertEqual(derived["onednn_isa"] as? String, ConvBackend.onednnInstructionSet)
        XCTAssertEqual(derived["onednn_winograd"] as? Bool, ConvBackend.onednnWinograd)

        let ours = try run(args + ["--threads", "2", "--conv-backend", "blas", "--out", dir + "/blas"])
        XCTAssertEqual(ours.status, 0, ours.stderr)
        XCTAssertNotEqual(FileManager.default.contents(atPath: dir + "/blas/final.safetensors"), models["t1"],
                          "oneDNN's bits equal ours: the flag did not reach the convolutions")
        let bad = try run(args + ["--conv-backend", "mkl", "--out", dir + "/bad"])
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue(bad.stderr.contains("--conv-backend"), bad.stderr)
    }
}

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
        // Groups of 2 images in training and 4 in evaluation (16 test images): oneDNN's Winograd
        // kernels take none (they need groups of 8 images), ours do (2 images of 28×28 are 98 tiles).
        XCTAssertEqual(derived["onednn_winograd"] as? Bool, WinogradKernels.available == .ours)

        let ours = try run(args + ["--threads", "2", "--conv-backend", "blas", "--out", dir + "/blas"])
        XCTAssertEqual(ours.status, 0, ours.stderr)
        XCTAssertNotEqual(FileManager.default.contents(atPath: dir + "/blas/final.safetensors"), models["t1"],
                          "oneDNN's bits equal ours: the flag did not reach the convolutions")
        let bad = try run(args + ["--conv-backend", "mkl", "--out", dir + "/bad"])
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue(bad.stderr.contains("--conv-backend"), bad.stderr)
    }
}

/// A run made with oneDNN's direct kernels on a machine with Winograd ones (as every run before
/// they were used: oneDNN's on AVX-512, ours on AVX2): resumed as it is, it warns and names LOCALSGD_ONEDNN_WINOGRAD=0;
/// resumed with it, it warns of nothing and ends bitwise where the uninterrupted direct run ends.
extension CLITests {
    func testADirectRunResumesBitwiseWithWinogradTurnedOff() throws {
        guard ConvBackend.onednnWinograd else { throw XCTSkip("this process has no Winograd kernels") }
        let dir = try temporaryDirectory()
        let fm = FileManager.default
        // cnn: conv2 (32→64, 14×14 outputs) in groups of 8 images takes Winograd where allowed.
        let args = ["train", "--dataset", "synthetic", "--synthetic-train", "128", "--synthetic-test", "32", "--model", "cnn",
                    "--epochs", "2", "--batch-size", "32", "--threads", "1", "--quiet"]
        let off = ["LOCALSGD_ONEDNN_WINOGRAD": "0"]
        XCTAssertEqual(try run(args + ["--out", dir + "/direct"], environment: off).status, 0)
        XCTAssertEqual(try run(args + ["--out", dir + "/winograd"], environment: [:]).status, 0)
        XCTAssertNotEqual(fm.contents(atPath: dir + "/direct/final.safetensors"), fm.contents(atPath: dir + "/winograd/final.safetensors"),
                          "LOCALSGD_ONEDNN_WINOGRAD=0 changed nothing")
        let recorded = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/winograd/config.json")))
            as? [String: Any])
        XCTAssertEqual((recorded["derived"] as? [String: Any])?["onednn_winograd"] as? Bool, true)
        for name in ["old", "old-resumed-as-is"] {
            let run0 = try run(args + ["--checkpoint-every", "1e", "--out", dir + "/" + name], environment: off)
            XCTAssertEqual(run0.status, 0, run0.stderr)
            // Back to a record made before the field, stopped after epoch 1.
            let path = dir + "/" + name + "/config.json"
            var config = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any])
            var derived = try XCTUnwrap(config["derived"] as? [String: Any])
            XCTAssertEqual(derived.removeValue(forKey: "onednn_winograd") as? Bool, false)
            config["derived"] = derived
            try JSONSerialization.data(withJSONObject: config).write(to: URL(fileURLWithPath: path))
            let checkpoints = dir + "/" + name + "/checkpoints"
            for entry in try fm.contentsOfDirectory(atPath: checkpoints).sorted().dropFirst() {
                try fm.removeItem(atPath: checkpoints + "/" + entry)
            }
            for file in ["final.safetensors", "summary.json"] { try? fm.removeItem(atPath: dir + "/" + name + "/" + file) }
        }
        let quiet = try run(["train", "--resume", dir + "/old"], environment: off)
        XCTAssertEqual(quiet.status, 0, quiet.stderr)
        XCTAssertFalse(quiet.stderr.contains("warning"), quiet.stderr)
        XCTAssertEqual(fm.contents(atPath: dir + "/old/final.safetensors"), fm.contents(atPath: dir + "/direct/final.safetensors"))
        let warned = try run(["train", "--resume", dir + "/old-resumed-as-is"], environment: [:])
        XCTAssertEqual(warned.status, 0, warned.stderr)
        XCTAssertTrue(warned.stderr.contains("resumes with Winograd ones") && warned.stderr.contains("LOCALSGD_ONEDNN_WINOGRAD=0"),
                      warned.stderr)
    }
}

/// A record that says Winograd for a run none of whose convolutions could take it (the meaning
/// `derived.onednn_winograd` had before it was per run: the process had the kernels) resumes
/// without a warning, and the record is mended to false.
extension CLITests {
    func testAnOlderWinogradRecordOfASmallBatchRunResumesWithoutAWarning() throws {
        let dir = try temporaryDirectory() + "/run"
        let fm = FileManager.default
        // resnet18 on 28×28 images at batch 1, one test image: its 3×3 stride-1 convolutions see
        // 7×7 (4 tiles of 4×4) and smaller: no group of 8 images nor of 16 tiles anywhere.
        let first = try run(["train", "--dataset", "synthetic", "--synthetic-train", "4", "--synthetic-test", "1", "--model", "resnet18",
                             "--epochs", "2", "--batch-size", "1", "--threads", "1", "--quiet", "--checkpoint-every", "1e",
                             "--out", dir])
        XCTAssertEqual(first.status, 0, first.stderr)
        let path = dir + "/config.json"
        var config = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any])
        var derived = try XCTUnwrap(config["derived"] as? [String: Any])
        XCTAssertEqual(derived["onednn_winograd"] as? Bool, false)
        derived["onednn_winograd"] = true
        config["derived"] = derived
        try JSONSerialization.data(withJSONObject: config).write(to: URL(fileURLWithPath: path))
        for entry in try fm.contentsOfDirectory(atPath: dir + "/checkpoints").sorted().dropFirst() {
            try fm.removeItem(atPath: dir + "/checkpoints/" + entry)
        }
        for file in ["final.safetensors", "summary.json"] { try? fm.removeItem(atPath: dir + "/" + file) }
        let resumed = try run(["train", "--resume", dir])
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
        XCTAssertFalse(resumed.stderr.contains("Winograd"), resumed.stderr)
        let mended = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any])
        XCTAssertEqual((mended["derived"] as? [String: Any])?["onednn_winograd"] as? Bool, false)
    }
}

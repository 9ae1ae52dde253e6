import Config
import Foundation
import NN
import RunFiles
import XCTest
@testable import Training

/// End-to-end: the `localsgd` executable on synthetic data, its files, and its errors.
final class CLITests: XCTestCase {
    /// The built `localsgd` next to the test bundle.
    var executable: URL {
        var dir = Bundle(for: CLITests.self).bundleURL.deletingLastPathComponent()
        if !FileManager.default.fileExists(atPath: dir.appendingPathComponent("localsgd").path) {
            dir = URL(fileURLWithPath: FileManager.default.currentDirectoryPath).appendingPathComponent(".build/debug")
        }
        return dir.appendingPathComponent("localsgd")
    }

    func temporaryDirectory() throws -> String {
        let path = NSTemporaryDirectory() + "localsgd-cli-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: path) }
        return path
    }

    @discardableResult
    func run(_ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
        let p = Process()
        p.executableURL = executable
        p.arguments = arguments
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile(), e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
    }

    let small = ["--dataset", "synthetic", "--synthetic-train", "128", "--synthetic-test", "64", "--model", "mlp",
                 "--epochs", "2", "--workers", "2", "--algorithm", "local", "--local-steps", "2", "--threads", "1"]

    func testTrainWritesEveryResultFileAndIsDeterministic() throws {
        let dir = try temporaryDirectory()
        let first = try run(["train"] + small + ["--out", dir + "/a"])
        XCTAssertEqual(first.status, 0, first.stderr)
        XCTAssertTrue(first.stdout.contains("epoch 2:"), first.stdout)
        XCTAssertTrue(first.stderr.contains("samples/s"), "progress line")
        let summary = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/a/summary.json"))) as! [String: Any]
        for key in ["test_accuracy", "test_loss", "train_loss", "epochs", "steps", "samples_per_second", "time",
                    "algorithm", "workers", "local_steps", "syncs", "bytes_communicated"] {
            XCTAssertNotNil(summary[key], key)
        }
        XCTAssertEqual(summary["steps"] as? Int, 2 * 128 / 2 / 32)
        XCTAssertEqual(summary["syncs"] as? Int, 4 / 2)
        let time = summary["time"] as! [String: Any]
        XCTAssertEqual(Set(time.keys), ["data", "forward", "backward", "optimizer", "communication", "evaluation"])
        let lines = try String(contentsOfFile: dir + "/a/metrics.jsonl", encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(lines.count, 2)
        let epoch = try JSONSerialization.jsonObject(with: Data(lines[1].utf8)) as! [String: Any]
        for key in ["epoch", "train_loss", "train_accuracy", "test_loss", "test_accuracy", "lr", "seconds"] {
            XCTAssertNotNil(epoch[key], key)
        }
        let config = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/a/config.json"))) as! [String: Any]
        XCTAssertEqual(config["local_steps"] as? Int, 2)
        XCTAssertNotNil((config["derived"] as? [String: Any])?["normalization"])
        let model = try Safetensors.read(path: dir + "/a/final.safetensors").tensors
        XCTAssertEqual(model["fc1.weight"]?.shape, [256, 784])
        XCTAssertEqual(model["fc3.bias"]?.shape, [10])

        let second = try run(["train"] + small + ["--out", dir + "/b", "--threads", "2"])
        XCTAssertEqual(second.status, 0, second.stderr)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: dir + "/a/final.safetensors")),
                       try Data(contentsOf: URL(fileURLWithPath: dir + "/b/final.safetensors")),
                       "same config and seed give identical weights")
        let third = try run(["train"] + small + ["--out", dir + "/c", "--seed", "2"])
        XCTAssertEqual(third.status, 0, third.stderr)
        XCTAssertNotEqual(try Data(contentsOf: URL(fileURLWithPath: dir + "/a/final.safetensors")),
                          try Data(contentsOf: URL(fileURLWithPath: dir + "/c/final.safetensors")))
    }

    func testConfigFileAndFlagsCombine() throws {
        let dir = try temporaryDirectory()
        let file = dir + "/run.toml"
        try "dataset = \"synthetic\"\nsynthetic-train = 64\nsynthetic_test = 32\nmodel = \"logreg\"\nepochs = 3\nbatch_size = 16\n"
            .write(toFile: file, atomically: true, encoding: .utf8)
        let r = try run(["train", "--config", file, "--epochs", "1", "--out", dir + "/run", "--threads", "1"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let config = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/run/config.json"))) as! [String: Any]
        XCTAssertEqual(config["epochs"] as? Int, 1, "flag wins over file")
        XCTAssertEqual(config["batch_size"] as? Int, 16, "file wins over default")
        XCTAssertEqual(config["model"] as? String, "logreg")
    }

    func testBadInputGivesOneSentenceAndNonZeroExitWithoutTouchingFiles() throws {
        let dir = try temporaryDirectory()
        let cases: [([String], String)] = [
            (["--epochs", "0"], "--epochs"),
            (["--batch-size", "-1"], "--batch-size"),
            (["--data-dir", dir + "/missing", "--dataset", "fashion-mnist"], "dataset-fashion-mnist"),
            (["--workers", "4", "--algorithm", "hierarchical", "--group-size", "3"], "group_size"),
            (["--algorithm", "post-local"], "switch"),
            (["--switch-epoch", "9", "--algorithm", "post-local"], "--switch-epoch"),
            (["--synthetic-test", "0"], "--synthetic-test must be between 1 and"),
            (["--synthetic-train", "0"], "--synthetic-train must be between 1 and"),
        ]
        for (arguments, expected) in cases {
            let r = try run(["train"] + small + arguments)
            XCTAssertEqual(r.status, 1, "\(arguments)")
            XCTAssertTrue(r.stderr.contains(expected), "\(arguments): \(r.stderr)")
            XCTAssertFalse(r.stderr.contains("Fatal error"), r.stderr)
        }
        let unknown = try run(["train", "--model", "resnet99"])
        XCTAssertNotEqual(unknown.status, 0)
        XCTAssertTrue(unknown.stderr.contains("resnet99"), unknown.stderr)

        try "epochs = [1,\n".write(toFile: dir + "/bad.toml", atomically: true, encoding: .utf8)
        let malformed = try run(["train", "--config", dir + "/bad.toml"])
        XCTAssertEqual(malformed.status, 1)
        XCTAssertTrue(malformed.stderr.contains("bad.toml"), malformed.stderr)

        let out = dir + "/existing"
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        try "keep me".write(toFile: out + "/summary.json", atomically: true, encoding: .utf8)
        let refused = try run(["train"] + small + ["--out", out])
        XCTAssertEqual(refused.status, 1)
        XCTAssertTrue(refused.stderr.contains("already holds a run"), refused.stderr)
        XCTAssertEqual(try String(contentsOfFile: out + "/summary.json", encoding: .utf8), "keep me")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: out), ["summary.json"])
    }

    func testResumeContinuesFromTheNewestCheckpoint() throws {
        let dir = try temporaryDirectory()
        let full = try run(["train"] + small + ["--out", dir + "/full"])
        XCTAssertEqual(full.status, 0, full.stderr)
        let first = try run(["train"] + small + ["--epochs", "1", "--out", dir + "/part", "--checkpoint-every", "1e"])
        XCTAssertEqual(first.status, 0, first.stderr)
        // Extending a finished run is a different configuration (epochs), which resume refuses...
        let refused = try run(["train", "--resume", dir + "/part", "--epochs", "2"])
        XCTAssertEqual(refused.status, 1)
        XCTAssertTrue(refused.stderr.contains("different configuration (epochs: 1 there, 2 now)"), refused.stderr)
        // ...while resuming the same configuration rewrites the same results.
        let again = try run(["train", "--resume", dir + "/part"])
        XCTAssertEqual(again.status, 0, again.stderr)
        let missing = try run(["train", "--resume", dir + "/nothing-here"])
        XCTAssertEqual(missing.status, 1)
        XCTAssertTrue(missing.stderr.contains("nothing-here"), missing.stderr)
    }

    func testBenchPrintsJSONWithThePeerScriptsKeys() throws {
        let r = try run(["bench", "--models", "logreg", "--batches", "8", "--threads", "1", "--steps", "2", "--warmup", "1", "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let object = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as! [String: Any]
        for key in ["model", "batch", "threads", "ms_per_step", "samples_per_s"] { XCTAssertNotNil(object[key], key) }
        XCTAssertEqual(object["conv_backend"] as? String, "onednn")
        XCTAssertNil(object["onednn_isa"], "logreg has no convolution")
        let cnn = try run(["bench", "--models", "cnn", "--batches", "2", "--threads", "1", "--steps", "1", "--warmup", "0", "--json"])
        XCTAssertEqual(cnn.status, 0, cnn.stderr)
        let row = try JSONSerialization.jsonObject(with: Data(cnn.stdout.utf8)) as! [String: Any]
        XCTAssertEqual(row["onednn_isa"] as? String, ConvBackend.onednnInstructionSet)
        // A run's meaning, not the process's kernels: groups of one image take ours (AVX2; 16 tiles
        // of conv2's 14×14), never oneDNN's (AVX-512; groups of 8 images and more).
        XCTAssertEqual(row["onednn_winograd"] as? Bool, WinogradKernels.available == .ours)
    }

    /// A "Python" that exits at once (not a Python at all) is named in an error, not a SIGPIPE
    /// that kills the bench silently when it sends the first request.
    func testBenchNamesAPeerThatExitsBeforeAnswering() throws {
        let r = try run(["bench", "--compare-pytorch", "/bin/false", "--models", "logreg", "--batches", "8", "--threads", "1",
                         "--steps", "1", "--warmup", "0", "--rounds", "1"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("the PyTorch peer (/bin/false ") && r.stderr.contains("it exited with status 1"),
                      "status \(r.status): \(r.stderr)")
    }

    /// Peers that misbehave are stopped, with everything they started, and bench fails with a
    /// sentence: silent ones after --peer-timeout (also a wrapper script whose child holds the
    /// pipes, and one that ignores SIGTERM), and at once one that answers something else, or
    /// writes on without a line end.
    func testBenchStopsAPeerThatNeverAnswersOrAnswersNonsense() throws {
        let dir = try temporaryDirectory()
        let marker = 100_000 + Int(getpid() % 50_000)  // a sleep of ours, found by its argument
        let peers = [
            ("#!/bin/sh\nsleep \(marker)\n", "gave no answer within 1 s (--peer-timeout); it was stopped"),
            ("#!/bin/sh\ntrap '' TERM\nwhile :; do sleep 1; done\n", "gave no answer within 1 s (--peer-timeout); it was stopped"),
            ("#!/bin/sh\nread line\necho garbage\nsleep \(marker)\n",
             "answered 'garbage' where 1 step time was due"),
            ("#!/bin/sh\nread line\necho '{\"seconds\": [-1], \"cpu_seconds\": [1]}'\nsleep \(marker)\n", "where 1 step time was due"),
            ("#!/bin/sh\nread line\nwhile :; do printf xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx; done\n",
             "answered 'xxxxxxxx"),
            ("#!/bin/sh\nexec >&-\nsleep \(marker)\n", "closed its output before answering; it was stopped"),
        ]
        for (n, (script, expected)) in peers.enumerated() {
            let peer = dir + "/python-\(n)"
            try script.write(toFile: peer, atomically: true, encoding: .utf8)
            chmod(peer, 0o755)
            let start = Date()
            let r = try run(["bench", "--compare-pytorch", peer, "--peer-timeout", "1", "--models", "logreg", "--batches", "8",
                             "--threads", "1", "--steps", "1", "--warmup", "0", "--rounds", "1"])
            XCTAssertNotEqual(r.status, 0, script)
            XCTAssertTrue(r.stderr.contains("the PyTorch peer (\(peer) ") && r.stderr.contains(expected), "\(script): \(r.stderr)")
            XCTAssertLessThan(Date().timeIntervalSince(start), 60, "a 1 s timeout and a 5 s grace")
            XCTAssertLessThan(r.stderr.utf8.count, 2000, "one sentence, not the peer's megabytes")
            let pgrep = Process()
            pgrep.executableURL = URL(fileURLWithPath: "/usr/bin/pgrep")
            pgrep.arguments = ["-f", "sleep \(marker)"]
            pgrep.standardOutput = FileHandle.nullDevice
            try pgrep.run()
            pgrep.waitUntilExit()
            XCTAssertEqual(pgrep.terminationStatus, 1, "the peer's child outlived bench (\(script))")
        }
        let bad = try run(["bench", "--compare-pytorch", dir + "/python-0", "--peer-timeout", "0", "--models", "logreg"])
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue(bad.stderr.contains("--peer-timeout must be 1 to 86400 seconds, got 0"), bad.stderr)
        let directory = try run(["bench", "--compare-pytorch", dir, "--models", "logreg"])
        XCTAssertTrue(directory.stderr.contains("--compare-pytorch: \(dir) is not an executable file"), directory.stderr)
    }
}

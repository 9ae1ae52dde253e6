import Foundation
import NN
import Optim
import RunFiles
import Tensor
import TestSupport
import XCTest

/// Our GPTs against the same model in PyTorch (Benchmarks/pytorch_models.py, driven by
/// Benchmarks/check_gpt_equivalence.py) on the same weights: our model file loaded into PyTorch,
/// one batch, the loss before and after two of the bench's steps (Nesterov SGD, weight decay
/// 5e-4). Skipped when the interpreter named by the PYTHON environment variable (default
/// `python3`) cannot import torch.
final class GPTPyTorchEquivalenceTests: XCTestCase {
    private var python: String { ProcessInfo.processInfo.environment["PYTHON"] ?? "python3" }
    private let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().path

    private func run(_ arguments: [String]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [python] + arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        try process.run()
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: output, as: UTF8.self))
    }

    override func setUpWithError() throws {
        let probe = try run(["-c", "import torch"])
        try XCTSkipUnless(probe.status == 0, "\(python) cannot import torch")
        BLAS.setThreads(1)
    }

    /// Our losses of `tokens` with `labels`: before each of `steps` steps at `lr`, then after the last.
    private func ourLosses(_ net: Network, _ replica: Replica, tokens: Tensor, labels: [Int32], lr: Float,
                           steps: Int) -> [Float] {
        var config = OptimizerConfig()
        config.weightDecay = 5e-4
        let optimizer = Optimizer(layout: net.layout, config: config)
        let state = OptimizerState(count: net.layout.count)
        return labels.withUnsafeBufferPointer { l in
            var losses: [Float] = []
            for _ in 0..<steps {
                replica.gradients.zero()
                losses.append(net.trainStep(images: tokens, labels: l.baseAddress!, replica.view,
                                            .training(seed: 0, epoch: 0, worker: 0, step: 0)).loss)
                optimizer.step(parameters: replica.parameters.pointer, gradients: replica.gradients.pointer,
                               state: state, learningRate: lr)
            }
            return losses + [net.evaluate(images: tokens, labels: l.baseAddress!, replica.view).loss]
        }
    }

    /// gpt-micro (2 heads of 16) and gpt-tiny (4 layers, 4 heads of 32) on the bench's sequences
    /// (T = 64, V = 65), N = 3: every loss within 1e-5 of PyTorch's (float32 both, ~4.1 nats; measured
    /// 4.8e-7, one ulp; the differences are printed).
    func testLossesMatchPyTorchOnOurWeights() throws {
        let (n, t, v, lr, steps) = (3, 64, 65, Float(0.5), 2)
        for kind in [ModelKind.gptMicro, .gptTiny] {
            let net = try Network(ModelSpec(kind: kind, channels: 1, height: 1, width: t, classes: v))
            let replica = Replica(for: net)
            net.initialize(replica, seed: 5)
            let directory = try makeTemporaryDirectory(self)
            try ModelFile.write(replica, network: net, batchesTracked: 0, to: directory + "/model.safetensors")
            var rng = RandomGenerator(seed: 11)
            let ids = (0..<(n * t)).map { _ in rng.nextInt(below: v) }
            let labels = (0..<(n * t)).map { _ in Int32(rng.nextInt(below: v)) }
            let batch: [String: Any] = [
                "tokens": (0..<n).map { Array(ids[($0 * t)..<(($0 + 1) * t)]) },
                "labels": (0..<n).map { labels[($0 * t)..<(($0 + 1) * t)].map(Int.init) },
                "learning_rate": Double(lr), "steps": steps,
            ]
            try JSONSerialization.data(withJSONObject: batch).write(to: URL(fileURLWithPath: directory + "/batch.json"))
            let ours = ourLosses(net, replica, tokens: Tensor(Shape(1, n, 1, t), values: ids.map(Float.init)),
                                 labels: labels, lr: lr, steps: steps)
            let result = try run([repository + "/Benchmarks/check_gpt_equivalence.py", directory + "/model.safetensors",
                                  directory + "/batch.json", "--model", kind.rawValue])
            XCTAssertEqual(result.status, 0, "check_gpt_equivalence.py failed for \(kind.rawValue)")
            let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any])
            let theirs = try XCTUnwrap(json["losses"] as? [Double]), exact = try XCTUnwrap(json["losses_float64"] as? [Double])
            XCTAssertEqual(theirs.count, ours.count)
            for (i, (a, b)) in zip(ours, theirs).enumerated() {
                XCTAssertEqual(Double(a), b, accuracy: 1e-5, "\(kind.rawValue) loss \(i)")
            }
            print("\(kind.rawValue): ours \(ours), PyTorch \(theirs), float64 \(exact); largest difference "
                  + "\(zip(ours, theirs).map { abs(Double($0) - $1) }.max()!)")
        }
    }
}

import Foundation
import NN
import Optim
import Tensor

/// Training-step timing of one model (forward + cross-entropy + backward + Nesterov SGD step
/// with weight decay), the same work as `../shared/peers/pytorch_bench.py` times in PyTorch.
public struct StepBenchmark: Codable, Sendable {
    public var model: String
    public var batch: Int
    public var threads: Int
    public var msPerStep: Double
    public var samplesPerS: Double
    /// 3 × forward FLOPs per sample × batch / step time.
    public var gflops: Double
    public var sgemmGflops: Double?

    enum CodingKeys: String, CodingKey {
        case model, batch, threads, msPerStep = "ms_per_step", samplesPerS = "samples_per_s", gflops
        case sgemmGflops = "sgemm_gflops"
    }

    /// Times `steps` steps after `warmup` on random 1×28×28 inputs (the step time does not depend on the data).
    public static func measure(model: ModelKind, batch: Int, threads: Int, channels: Int = 1, size: Int = 28,
                               classes: Int = 10, warmup: Int = 5, steps: Int = 30) throws -> StepBenchmark {
        BLAS.setThreads(threads)
        let net = try Network(ModelSpec(kind: model, channels: channels, height: size, width: size, classes: classes))
        let replica = Replica(for: net)
        net.initialize(replica, seed: 0)
        var config = OptimizerConfig()
        config.weightDecay = 5e-4
        let optimizer = Optimizer(layout: net.layout, config: config)
        let state = OptimizerState(count: net.layout.count)
        var rng = RandomGenerator(seed: 0)
        let images = Tensor(Shape(channels, batch, size, size),
                            values: (0..<(channels * batch * size * size)).map { _ in rng.nextNormal() })
        let labels = (0..<batch).map { _ in Int32(rng.nextInt(below: classes)) }
        var times: [Double] = []
        labels.withUnsafeBufferPointer { l in
            for i in 0..<(warmup + steps) {
                let t0 = DispatchTime.now().uptimeNanoseconds
                replica.gradients.zero()
                _ = net.trainStep(images: images, labels: l.baseAddress!, replica.view)
                optimizer.step(parameters: replica.parameters.pointer, gradients: replica.gradients.pointer,
                               state: state, learningRate: 0.01)
                if i >= warmup { times.append(Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9) }
            }
        }
        let median = times.sorted()[times.count / 2]
        return StepBenchmark(model: model.rawValue, batch: batch, threads: threads, msPerStep: median * 1e3,
                             samplesPerS: Double(batch) / median,
                             gflops: 3 * Double(net.flopsPerSample * batch) / median / 1e9, sgemmGflops: nil)
    }

    /// GFLOP/s of `cblas_sgemm` on square n×n matrices (median of `repeats`).
    public static func sgemm(size n: Int = 512, threads: Int, repeats: Int = 10) -> Double {
        BLAS.setThreads(threads)
        let a = FloatBuffer(count: n * n), b = FloatBuffer(count: n * n), c = FloatBuffer(count: n * n)
        var rng = RandomGenerator(seed: 1)
        for i in 0..<(n * n) { a[i] = rng.nextNormal(); b[i] = rng.nextNormal() }
        var times: [Double] = []
        for _ in 0..<(repeats + 2) {
            let t0 = DispatchTime.now().uptimeNanoseconds
            BLAS.gemm(m: n, n: n, k: n, a: a.pointer, lda: n, b: b.pointer, ldb: n, c: c.pointer, ldc: n)
            times.append(Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9)
        }
        let median = times.dropFirst(2).sorted()[repeats / 2]
        return 2 * Double(n * n * n) / median / 1e9
    }
}

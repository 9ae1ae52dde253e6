import Foundation
import NN
import Optim
import Tensor

/// Training-step timing of one model (forward + cross-entropy + backward + Nesterov SGD step
/// with weight decay), the same work as `Benchmarks/pytorch_bench.py` times in PyTorch.
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
    public static func measure(model: ModelKind, shortcut: ShortcutKind = .a, batch: Int, threads: Int,
                               channels: Int = 1, size: Int = 28, classes: Int = 10, warmup: Int = 5,
                               steps: Int = 30) throws -> StepBenchmark {
        let runner = try StepRunner(model: model, shortcut: shortcut, batch: batch, threads: threads,
                                    channels: channels, size: size, classes: classes)
        _ = runner.run(steps: warmup)
        let median = StepRunner.median(runner.run(steps: steps))
        return StepBenchmark(model: model.rawValue, batch: batch, threads: threads, msPerStep: median * 1e3,
                             samplesPerS: Double(batch) / median, gflops: runner.flopsPerStep / median / 1e9,
                             sgemmGflops: nil)
    }

    /// GFLOP/s of `cblas_sgemm` on square n×n matrices (median of `repeats`): with several
    /// threads, one single-threaded sgemm per thread at once, as our layers call OpenBLAS (its
    /// own threads would go on spinning after the call and take the cores from what is timed next).
    public static func sgemm(size n: Int = 512, threads: Int, repeats: Int = 10, clock: BenchClock = .wall) -> Double {
        BLAS.setThreads(1)
        let pool = WorkerPool(threads: threads)
        let buffers = (0..<threads).map { _ in
            (a: FloatBuffer(count: n * n), b: FloatBuffer(count: n * n), c: FloatBuffer(count: n * n))
        }
        var rng = RandomGenerator(seed: 1)
        for (a, b, _) in buffers { for i in 0..<(n * n) { a[i] = rng.nextNormal(); b[i] = rng.nextNormal() } }
        var times: [Double] = []
        for _ in 0..<(repeats + 2) {
            let t0 = clock.now()
            pool.run(threads) { lane, _ in
                let (a, b, c) = buffers[lane]
                BLAS.gemm(m: n, n: n, k: n, a: a.pointer, lda: n, b: b.pointer, ldb: n, c: c.pointer, ldc: n)
            }
            times.append(clock.now() - t0)
        }
        return Double(threads) * 2 * Double(n * n * n) / StepRunner.median(Array(times.dropFirst(2))) / 1e9
    }
}

/// One model's training step, set up once and run in as many timed rounds as wanted (so that a
/// benchmark can alternate rounds with a peer on a shared machine).
public final class StepRunner {
    /// Who uses the threads: OpenBLAS alone (our kernels on one thread), or our layers, which
    /// then call OpenBLAS on one thread from each of theirs.
    public enum Parallelism: String, CaseIterable, Sendable { case blas, layers }

    public let network: Network
    public let batch: Int, threads: Int
    public let parallelism: Parallelism
    private let replica: Replica
    private let optimizer: Optimizer
    private let optimizerState: OptimizerState
    private let images: Tensor
    private let labels: [Int32]

    /// Random size×size images of `classes`; for a language model (a GPT), random sequences of
    /// `size` token ids of a vocabulary of `classes`, one label per token.
    /// `convBackend`: the kernels of the convolutions (`ConvBackend`).
    public init(model: ModelKind, shortcut: ShortcutKind = .a, batch: Int, threads: Int,
                parallelism: Parallelism = .layers, channels: Int = 1, size: Int = 28, classes: Int = 10,
                convBackend: ConvBackend = .default) throws {
        let sequences = model.isLanguageModel
        network = try Network(ModelSpec(kind: model, shortcut: shortcut, channels: channels, height: sequences ? 1 : size,
                                        width: size, classes: classes, convBackend: convBackend))
        self.batch = batch
        self.threads = threads
        self.parallelism = parallelism
        replica = Replica(for: network)
        network.initialize(replica, seed: 0)
        var config = OptimizerConfig()
        config.weightDecay = 5e-4
        optimizer = Optimizer(layout: network.layout, config: config)
        optimizerState = OptimizerState(count: network.layout.count)
        var rng = RandomGenerator(seed: 0)
        if sequences {
            images = Tensor(Shape(1, batch, 1, size), values: (0..<(batch * size)).map { _ in
                Float(rng.nextInt(below: classes))
            })
        } else {
            images = Tensor(Shape(channels, batch, size, size),
                            values: (0..<(channels * batch * size * size)).map { _ in rng.nextNormal() })
        }
        labels = (0..<(batch * network.outputsPerSample)).map { _ in Int32(rng.nextInt(below: classes)) }
    }

    /// 3 × forward FLOPs of one step (the usual estimate of forward + backward).
    public var flopsPerStep: Double { 3 * Double(network.flopsPerSample * batch) }

    /// Time in seconds of each of `steps` training steps.
    public func run(steps: Int, clock: BenchClock = .wall) -> [Double] {
        useThreads()
        var times: [Double] = []
        times.reserveCapacity(steps)
        labels.withUnsafeBufferPointer { l in
            for _ in 0..<steps {
                let t0 = clock.now()
                step(labels: l.baseAddress!)
                times.append(clock.now() - t0)
            }
        }
        return times
    }

    /// Sets OpenBLAS's and the network's threads for `parallelism` (OpenBLAS's are process-wide).
    private func useThreads() {
        BLAS.setThreads(parallelism == .blas ? threads : 1)
        network.threads = parallelism == .layers ? threads : 1
    }

    private func step(labels l: UnsafePointer<Int32>) {
        replica.gradients.zero()
        _ = network.trainStep(images: images, labels: l, replica.view, .training(seed: 0, epoch: 0, worker: 0, step: 0))
        optimizer.step(parameters: replica.parameters.pointer, gradients: replica.gradients.pointer,
                       state: optimizerState, learningRate: 0.01)
    }

    /// Forward + backward time (median of `repeats`) of each convolution and linear layer of the
    /// network on its own, on random data of the step's shapes, with the FLOPs it did; of a GPT
    /// also each attention (its c_attn and c_proj included), LayerNorm, GELU and the tied head
    /// (not the embedding, whose input is token ids).
    public func layerTimings(repeats: Int, clock: BenchClock = .wall) -> [LayerTiming] {
        useThreads()
        var rng = RandomGenerator(seed: 2)
        func random(_ shape: Shape) -> Tensor {
            Tensor(shape, values: (0..<shape.count).map { _ in rng.nextNormal() })
        }
        let view = replica.view
        return network.leafLayers(batch: batch).compactMap { leaf -> LayerTiming? in
            guard StepRunner.isTimedAlone(leaf.layer) else { return nil }
            let x = random(leaf.input), dy = random(leaf.layer.outputShape(for: leaf.input))
            var times: [Double] = []
            for _ in 0...repeats {
                let t0 = clock.now()
                _ = leaf.layer.forward(x, view, StepContext(mode: .training, workspace: network.workspace))
                _ = leaf.layer.backward(dy, view, StepContext(mode: .training, workspace: network.workspace))
                times.append(clock.now() - t0)
            }
            // Forward, weight gradient and (unless nothing reads it: `needsInputGradient`) input gradient. Convolutions
            // and linear layers count the FLOPs of one sample (one column, a token in a GPT); a
            // GPT's other layers those of their whole input.
            let passes = leaf.layer.needsInputGradient ? 3 : 2
            let perColumn = leaf.layer is Conv2d || leaf.layer is Linear
            let flops = Double(passes * leaf.layer.flops(for: leaf.input) * (perColumn ? leaf.input.n : 1))
            // A GELU is its MLP's unnamed child (nanoGPT's `mlp.gelu`).
            let name = leaf.layer is GELU ? leaf.name + ".gelu" : leaf.name
            return LayerTiming(name: name, flops: flops, seconds: StepRunner.median(Array(times.dropFirst())))
        }
    }

    private static func isTimedAlone(_ layer: Layer) -> Bool {
        layer is Conv2d || layer is Linear || layer is LayerNorm || layer is GELU || layer is CausalSelfAttention
            || layer is TiedHead
    }

    public static func median(_ values: [Double]) -> Double {
        precondition(!values.isEmpty, "median of no values")
        let sorted = values.sorted()
        let mid = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
    }
}

/// Time of one layer's forward + backward in `StepRunner.layerTimings`.
public struct LayerTiming: Codable, Sendable {
    public var name: String
    public var flops: Double
    public var seconds: Double
    public var gflops: Double { flops / seconds / 1e9 }
}

/// What a benchmark measures: wall-clock time, or the CPU time of the whole process (robust
/// against other processes sharing the cores; with one thread the two agree on an idle machine).
public enum BenchClock: Sendable {
    case wall, processCPU

    public func now() -> Double {
        var t = timespec()
        clock_gettime(self == .wall ? CLOCK_MONOTONIC : CLOCK_PROCESS_CPUTIME_ID, &t)
        return Double(t.tv_sec) + 1e-9 * Double(t.tv_nsec)
    }
}

import XCTest
import Comm
import Tensor
import TestSupport

/// Compressed reductions on the in-process backend: a hand-computed case per codec (first
/// quantization, Float sum in worker order, mean, second quantization), the bytes counted and
/// modelled, error feedback's bookkeeping, and the codec error.
final class PayloadCompressorTests: XCTestCase {
    /// Reduces `inputs` (one per worker, all workers in one group) and returns every worker's result.
    func reduce(_ kind: PayloadCodecKind, ratio: Double = 0.01, _ inputs: [[Float]], feedback: Bool = false,
                communicator: Communicator? = nil) throws -> (results: [[Float]], compressor: PayloadCompressor) {
        let comm = communicator ?? InProcessCommunicator(workers: inputs.count, threads: 1)
        let compressor = PayloadCompressor(codec: try PayloadCodec(kind: kind, ratio: ratio), errorFeedback: feedback,
                                           count: inputs[0].count, workers: inputs.count, localWorkers: 0..<inputs.count,
                                           streams: [.gradients])
        let buffers = inputs.map { FloatBuffer($0) }
        try compressor.allReduce(buffers.map(\.pointer), groupSize: inputs.count, stream: .gradients, communicator: comm)
        return (buffers.map(\.array), compressor)
    }

    func testFp16ByHand() throws {
        // 2049 → 2048 (halfway, to even); mean of [1, 2048, −4] and [3, 2, 6] is [2, 1025, 1], all halves.
        let (r, _) = try reduce(.fp16, [[1, 2049, -4], [3, 2, 6]])
        XCTAssertEqual(r, [[2, 1025, 1], [2, 1025, 1]])
    }

    func testBf16ByHand() throws {
        // 257 → 256; the mean [1.5, 128.5, 1.5] is quantized again: 128.5 → 128 (to even).
        let (r, _) = try reduce(.bf16, [[1, 257, 3], [2, 1, 0]])
        XCTAssertEqual(r, [[1.5, 128, 1.5], [1.5, 128, 1.5]])
    }

    func testInt8ByHand() throws {
        // Scales 127/127 = 1: codes [127, 1, 50] (1.4 → 1, 50.5 → 50) and [127, 2, −0] (2.4 → 2,
        // −0.5 → −0); sum [254, 3, 50], mean [127, 1.5, 25], again at scale 1: 1.5 → 2.
        let (r, c) = try reduce(.int8, [[127, 1.4, 50.5], [127, 2.4, -0.5]])
        XCTAssertEqual(r, [[127, 2, 25], [127, 2, 25]])
        // Exact mean [127, 1.9, 25]: error 0.1 over its norm.
        let exact = (127.0 * 127 + 1.9 * 1.9 + 25 * 25).squareRoot()
        XCTAssertEqual(try XCTUnwrap(c.lastRelativeError), 0.1 / exact, accuracy: 1e-7)
    }

    func testTopKByHand() throws {
        // Half of 4: worker 0 keeps −5 (1) and 4 (3); worker 1 the tie |3| at 0 and 2 (not 1).
        let (r, c) = try reduce(.topk, ratio: 0.5, [[1, -5, 2, 4], [3, 0, -3, 1]])
        XCTAssertEqual(r, [[1.5, -2.5, -1.5, 2], [1.5, -2.5, -1.5, 2]])
        // Exact mean [2, −2.5, −0.5, 2.5]: error [−0.5, 0, −1, −0.5].
        let expected = (0.25 + 1 + 0.25).squareRoot() / (4 + 6.25 + 0.25 + 6.25).squareRoot()
        XCTAssertEqual(try XCTUnwrap(c.lastRelativeError), expected, accuracy: 1e-12)
    }

    func testCountersAndModelChargeTheEncodedSize() throws {
        let n = 1000
        let network = NetworkModel(latency: 1e-4, bandwidth: 1.25e8)
        let int8Seconds: Double = 2 * 3.0 / 4 * 1016 / 1.25e8 + 6 * 1e-4  // ring all-reduce of n_enc, G = 4
        let topkSeconds: Double = 3 * 80 / 1.25e8 + 3 * 1e-4               // ring all-gather of n_enc
        let cases: [(PayloadCodecKind, Int, Double)] = [(.int8, 1016, int8Seconds), (.topk, 8 * 10, topkSeconds)]
        for (kind, bytes, seconds) in cases {
            let modelled = ModelledCommunicator(InProcessCommunicator(workers: 4, threads: 1), network: network)
            _ = try reduce(kind, (0..<4).map { PayloadCodecTests.random(n, seed: UInt64($0)) }, communicator: modelled)
            XCTAssertEqual(modelled.counters, CommCounters(rounds: 1, bytes: bytes), "\(kind)")
            XCTAssertEqual(modelled.modelledSeconds, seconds, accuracy: 1e-15, "\(kind)")
        }
    }

    /// Σ_t D(q_t) = Σ_t p_t − e_T per worker: with top-k (no second quantization) the mean of the
    /// results over steps is the mean of the exact payloads minus the mean last residual.
    func testErrorFeedbackLosesNothingButTheLastResidual() throws {
        let n = 3000, steps = 20, workers = 2
        let comm = InProcessCommunicator(workers: workers, threads: 1)
        let compressor = PayloadCompressor(codec: try PayloadCodec(kind: .topk, ratio: 0.02), errorFeedback: true, count: n,
                                           workers: workers, localWorkers: 0..<workers, streams: [.gradients])
        let buffers = (0..<workers).map { _ in FloatBuffer(count: n) }
        var exact = [Double](repeating: 0, count: n), decoded = [Double](repeating: 0, count: n)
        for t in 0..<steps {
            for k in 0..<workers {
                let p = PayloadCodecTests.random(n, seed: UInt64(100 * t + k))
                buffers[k].load(p)
                for i in 0..<n { exact[i] += Double(p[i]) / Double(workers) }
            }
            try compressor.allReduce(buffers.map(\.pointer), groupSize: workers, stream: .gradients, communicator: comm)
            XCTAssertEqual(buffers[0].array, buffers[1].array)
            for i in 0..<n { decoded[i] += Double(buffers[0].pointer[i]) }
        }
        let residuals = compressor.checkpointBuffers.map { $0.buffer.array }
        XCTAssertEqual(residuals.count, workers)
        for i in 0..<n {
            let lastResidual = residuals.reduce(0) { $0 + Double($1[i]) } / Double(workers)
            XCTAssertEqual(decoded[i], exact[i] - lastResidual, accuracy: 1e-4, "element \(i)")
        }
        XCTAssertGreaterThan(residuals[0].map { abs($0) }.max()!, 1, "the residual carries real mass, so the check is not vacuous")
    }

    func testWeightAveragingMovesEveryWorkerToItsAnchorPlusTheMeanDelta() throws {
        let comm = InProcessCommunicator(workers: 2, threads: 1)
        let compressor = PayloadCompressor(codec: try PayloadCodec(kind: .int8), errorFeedback: false, count: 2, workers: 2,
                                           localWorkers: 0..<2, streams: [.weights])
        let x = [FloatBuffer([10, 20]), FloatBuffer([10, 20])]
        compressor.setAnchors(x.map(\.pointer))
        x[0].load([10 + 127, 20 + 1]); x[1].load([10 + 127, 20 + 3])  // deltas [127, 1] and [127, 3], scale 1
        try compressor.averageWeights(x.map(\.pointer), groupSize: 2, communicator: comm)
        XCTAssertEqual(x[0].array, [137, 22])
        XCTAssertEqual(x[1].array, [137, 22])
        XCTAssertEqual(compressor.checkpointBuffers.map { $0.buffer.array }, [[137, 22], [137, 22]], "anchors ← the average")
    }

    func testChunksCoverTheBufferOnTheBlockGrid() {
        let count = 10 * 256 + 7, g = 3
        let chunks = (0..<g).map { CompressedReduction.chunk($0, count: count, groupSize: g) }
        XCTAssertEqual(chunks, [0..<1024, 1024..<2048, 2048..<count], "11 blocks: 4, 4, 3, the last block short")
    }

    /// Dense error feedback: each residual is x − D(C(x)) of its own worker, once, also when the
    /// group has more workers than blocks (some chunks empty).
    func testDenseResidualIsTheWorkersOwnQuantizationError() throws {
        let inputs: [[Float]] = (0..<4).map { PayloadCodecTests.random(3, seed: UInt64(40 + $0)) }
        let (_, c) = try reduce(.int8, inputs, feedback: true)
        let codec = try PayloadCodec(kind: .int8)
        let expected = inputs.map { x in zip(x, PayloadCodecTests.roundTrip(codec, x)).map { $0 - $1 } }
        XCTAssertEqual(c.checkpointBuffers.map { $0.buffer.array }, expected)
        XCTAssertNotEqual(expected[0], [0, 0, 0])
    }
}

import Foundation
import Tensor
import XCTest
@testable import NN
import TestSupport

/// Token ids [1, N, 1, T] drawn uniformly from 0..<vocabulary.
func randomTokens(sequences n: Int, length t: Int, vocabulary: Int, seed: UInt64) -> Tensor {
    var rng = RandomGenerator(seed: seed)
    return Tensor(Shape(1, n, 1, t), values: (0..<(n * t)).map { _ in Float(rng.nextInt(below: vocabulary)) })
}

/// The tied head on its own: registers the embedding (whose `wte` the head reads) and runs the
/// head alone, so the harnesses can check it like any layer.
final class TiedHeadAlone: Layer {
    let embedding: Embedding, head: TiedHead

    init(vocabulary: Int, features: Int) {
        embedding = Embedding(vocabulary: vocabulary, contextLength: 1, features: features)
        head = TiedHead(tiedTo: embedding)
    }

    var needsInputGradient: Bool {
        get { head.needsInputGradient }
        set { head.needsInputGradient = newValue }
    }

    func register(prefix: String, parameters: inout ParameterLayout, state: inout ParameterLayout) {
        embedding.register(prefix: prefix, parameters: &parameters, state: &state)
        head.register(prefix: prefix, parameters: &parameters, state: &state)
    }

    func outputShape(for x: Shape) -> Shape { head.outputShape(for: x) }
    func forward(_ x: Tensor, _ r: ReplicaView, _ context: StepContext) -> Tensor { head.forward(x, r, context) }
    func backward(_ dy: Tensor, _ r: ReplicaView, _ context: StepContext) -> Tensor { head.backward(dy, r, context) }
}

/// Finite-difference checks of the transformer's layers on odd shapes (D = 6, T = 5, N = 3,
/// 2 heads, vocabulary 7), a naive reference of the attention, and their thread independence.
final class TransformerLayerTests: XCTestCase {
    override func setUp() { BLAS.setThreads(1) }

    func testEmbedding() {
        let embedding = Embedding(vocabulary: 7, contextLength: 5, features: 6)
        checkLayerGradients(embedding, input: Shape(1, 3, 1, 5),
                            values: randomTokens(sequences: 3, length: 5, vocabulary: 7, seed: 1))
        XCTAssertFalse(embedding.needsInputGradient, "token ids have no gradient")
    }

    /// x[d, n·T + t] = wte[token, d] + wpe[t, d], exactly.
    func testEmbeddingLooksUpRows() {
        let embedding = Embedding(vocabulary: 7, contextLength: 5, features: 6), harness = LayerHarness(embedding)
        let tokens = randomTokens(sequences: 3, length: 5, vocabulary: 7, seed: 2)
        let y = embedding.forward(tokens, harness.replica.view, .testing())
        XCTAssertEqual(y.shape, Shape(6, 15))
        let p = harness.replica.parameters, wpe = harness.layout.slot(named: "wpe.weight")!.offset
        for m in 0..<15 {
            for d in 0..<6 {
                XCTAssertEqual(y[d * 15 + m], p[Int(tokens[m]) * 6 + d] + p[wpe + (m % 5) * 6 + d])
            }
        }
    }

    func testLayerNorm() {
        checkLayerGradients(LayerNorm(6), input: Shape(6, 15), relative: 3e-2, absolute: 3e-3)
    }

    /// PyTorch's semantics: each column has mean β and (biased) variance γ²·var/(var + ε).
    func testLayerNormNormalisesEachColumn() {
        let norm = LayerNorm(6), harness = LayerHarness(norm)
        for i in 0..<6 { harness.replica.parameters[i] = 1; harness.replica.parameters[6 + i] = 0 }
        let x = randomTensor(Shape(6, 15), seed: 3, scale: 4)
        let y = norm.forward(x, harness.replica.view, .testing())
        for m in 0..<15 {
            let column = (0..<6).map { Double(y[$0 * 15 + m]) }, input = (0..<6).map { Double(x[$0 * 15 + m]) }
            let mean = column.reduce(0, +) / 6, variance = column.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / 6
            let xMean = input.reduce(0, +) / 6
            let xVariance = input.map { ($0 - xMean) * ($0 - xMean) }.reduce(0, +) / 6
            XCTAssertEqual(mean, 0, accuracy: 1e-6)
            XCTAssertEqual(variance, xVariance / (xVariance + 1e-5), accuracy: 1e-5)
        }
    }

    func testGELU() {
        checkLayerGradients(GELU(), input: Shape(6, 15), epsilon: 1e-2)
    }

    /// GELU(x) = ½x(1 + tanh(√(2/π)(x + 0.044715x³))) at a few points, in Double.
    func testGELUValues() {
        let xs: [Float] = [-9, -3, -1, -0.5, -1e-4, 0, 3e-4, 0.5, 1, 3, 9]
        let harness = LayerHarness(GELU())
        let y = harness.layer.forward(Tensor(Shape(xs.count, 1), values: xs), harness.replica.view, .testing()).array
        let expected = xs.map { x -> Float in
            let v = Double(x)
            return Float(0.5 * v * (1 + tanh((2 / Double.pi).squareRoot() * (v + 0.044715 * v * v * v))))
        }
        assertClose(y, expected, relative: 1e-6, absolute: 3e-7)
    }

    /// GELU and its derivative with the lane tanh (Eigen's rational approximation) against Double
    /// on [−10, 10] in steps of 0.001.
    func testVectorTanhIsCloseToTanh() {
        let n = 20001, xs = (0..<n).map { Float($0 - n / 2) * 1e-3 }
        var y = [Float](repeating: 0, count: n), dy = [Float](repeating: 1, count: n)
        let ones = dy
        xs.withUnsafeBufferPointer { x in
            y.withUnsafeMutableBufferPointer { Vector.gelu(x.baseAddress!, into: $0.baseAddress!, count: n) }
            ones.withUnsafeBufferPointer { o in
                dy.withUnsafeMutableBufferPointer {
                    Vector.geluBackward(o.baseAddress!, input: x.baseAddress!, into: $0.baseAddress!, count: n)
                }
            }
        }
        var worst = 0.0, worstDerivative = 0.0
        for (i, x) in xs.enumerated() {
            let v = Double(x), u = (2 / Double.pi).squareRoot() * (v + 0.044715 * v * v * v), t = tanh(u)
            worst = max(worst, abs(Double(y[i]) - 0.5 * v * (1 + t)))
            let derivative = 0.5 * (1 + t) + 0.5 * v * (1 - t * t) * (2 / Double.pi).squareRoot() * (1 + 3 * 0.044715 * v * v)
            worstDerivative = max(worstDerivative, abs(Double(dy[i]) - derivative))
        }
        XCTAssertLessThan(worst, 3e-6, "GELU, absolute (|x| ≤ 10)")
        // 1 − t² cancels in Float near |t| = 1 (with libm's tanhf too).
        XCTAssertLessThan(worstDerivative, 1e-5, "GELU′, absolute")
    }

    func testCausalSelfAttention() {
        checkLayerGradients(CausalSelfAttention(features: 6, heads: 2, contextLength: 5), input: Shape(6, 15),
                            relative: 3e-2, absolute: 3e-3)
    }

    /// ε = 3e-3: at 1e-2 the sharp softmaxes (the harness's weights are large) give a central
    /// difference 5 % off in one coordinate, which shrinks with ε.
    func testTransformerBlock() {
        checkLayerGradients(TransformerBlock(features: 6, heads: 2, contextLength: 5, layers: 2), input: Shape(6, 15),
                            epsilon: 3e-3, relative: 3e-2, absolute: 3e-3)
    }

    func testTiedHead() {
        checkLayerGradients(TiedHeadAlone(vocabulary: 7, features: 6), input: Shape(6, 15))
    }
}

extension TransformerLayerTests {
    /// The attention's forward against loops in Double: qkv = W·x + b, per sequence and head
    /// softmax(q·k/√d) over the positions up to each one, y = Σ att·v, then c_proj.
    func testAttentionMatchesANaiveReference() {
        let d = 6, heads = 2, t = 5, n = 2, m = n * t, hs = d / heads
        let attention = CausalSelfAttention(features: d, heads: heads, contextLength: t)
        let harness = LayerHarness(attention, seed: 4)
        let x = randomTensor(Shape(d, m), seed: 5)
        let y = attention.forward(x, harness.replica.view, .testing()).array
        let p = harness.replica.parameters.array.map(Double.init), xs = x.array.map(Double.init)
        let wAttn = 0, bAttn = 3 * d * d, wProj = bAttn + 3 * d, bProj = wProj + d * d
        XCTAssertEqual(harness.layout.slots.map(\.name), ["c_attn.weight", "c_attn.bias", "c_proj.weight", "c_proj.bias"])
        var qkv = [Double](repeating: 0, count: 3 * d * m)
        for o in 0..<(3 * d) {
            for j in 0..<m {
                qkv[o * m + j] = p[bAttn + o] + (0..<d).reduce(0) { $0 + p[wAttn + o * d + $1] * xs[$1 * m + j] }
            }
        }
        var merged = [Double](repeating: 0, count: d * m)
        for s in 0..<n {
            for h in 0..<heads {
                func q(_ c: Int, _ i: Int) -> Double { qkv[(h * hs + c) * m + s * t + i] }
                func k(_ c: Int, _ i: Int) -> Double { qkv[(d + h * hs + c) * m + s * t + i] }
                func v(_ c: Int, _ i: Int) -> Double { qkv[(2 * d + h * hs + c) * m + s * t + i] }
                for i in 0..<t {
                    let scores = (0...i).map { j in (0..<hs).reduce(0) { $0 + q($1, i) * k($1, j) } / Double(hs).squareRoot() }
                    let top = scores.max()!, e = scores.map { exp($0 - top) }, total = e.reduce(0, +)
                    for c in 0..<hs {
                        merged[(h * hs + c) * m + s * t + i] = (0...i).reduce(0) { $0 + e[$1] / total * v(c, $1) }
                    }
                }
            }
        }
        var expected = [Float](repeating: 0, count: d * m)
        for o in 0..<d {
            for j in 0..<m {
                expected[o * m + j] = Float(p[bProj + o] + (0..<d).reduce(0) { $0 + p[wProj + o * d + $1] * merged[$1 * m + j] })
            }
        }
        assertClose(y, expected, relative: 1e-5, absolute: 1e-5)
    }

    /// Forward output, input gradient and parameter gradients on 1, 2 and 3 lanes, at sizes where
    /// each layer splits its work into several parts.
    func testLayersAreThreadIndependent() {
        func pass(_ make: () -> Layer, input: Shape, values: Tensor? = nil, threads: Int) -> [Float] {
            let context = StepContext.testing(threads: threads), layer = make()
            let harness = LayerHarness(layer, seed: 3)
            let x = values ?? randomTensor(input, seed: 4)
            let y = layer.forward(x, harness.replica.view, context)
            let dy = randomTensor(y.shape, seed: 5)
            let dx = layer.backward(dy, harness.replica.view, context)
            return y.array + dx.array + harness.replica.gradients.array
        }
        let tokens = randomTokens(sequences: 8, length: 64, vocabulary: 65, seed: 6)
        let layers: [(String, () -> Layer, Shape, Tensor?)] = [
            ("embedding", { Embedding(vocabulary: 65, contextLength: 64, features: 128) }, tokens.shape, tokens),
            ("layer norm", { LayerNorm(128) }, Shape(128, 512), nil),
            ("gelu", { GELU() }, Shape(512, 512), nil),
            ("attention", { CausalSelfAttention(features: 128, heads: 4, contextLength: 64) }, Shape(128, 512), nil),
            ("block", { TransformerBlock(features: 64, heads: 4, contextLength: 32, layers: 2) }, Shape(64, 256), nil),
            ("tied head", { TiedHeadAlone(vocabulary: 65, features: 128) }, Shape(128, 512), nil),
        ]
        for (name, make, input, values) in layers {
            let one = pass(make, input: input, values: values, threads: 1)
            for threads in 2...3 {
                let other = pass(make, input: input, values: values, threads: threads)
                XCTAssertEqual(one.count, other.count)
                XCTAssertEqual(zip(one, other).filter { $0 != $1 }.count, 0, "\(name): 1 against \(threads) threads")
            }
        }
    }
}

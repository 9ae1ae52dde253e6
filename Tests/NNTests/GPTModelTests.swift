import Foundation
import Tensor
import XCTest
@testable import NN
import TestSupport

/// The GPTs as whole models: nanoGPT's names and initialisation, P = T outputs per sample, the
/// gradient of the mean loss over all tokens, causality, thread independence, and learning.
final class GPTModelTests: XCTestCase {
    override func setUp() { BLAS.setThreads(1) }

    func micro(vocabulary: Int = 7, context: Int = 5) throws -> Network {
        try Network(ModelSpec(kind: .gptMicro, channels: 1, height: 1, width: context, classes: vocabulary))
    }

    /// nanoGPT's `state_dict` keys in its order, minus `lm_head.weight` (tied to wte).
    func testNamesAndShapesAreNanoGPTs() throws {
        let net = try micro()
        var expected = ["transformer.wte.weight", "transformer.wpe.weight"]
        for i in 0..<2 {
            expected += ["ln_1.weight", "ln_1.bias", "attn.c_attn.weight", "attn.c_attn.bias", "attn.c_proj.weight",
                         "attn.c_proj.bias", "ln_2.weight", "ln_2.bias", "mlp.c_fc.weight", "mlp.c_fc.bias",
                         "mlp.c_proj.weight", "mlp.c_proj.bias"].map { "transformer.h.\(i).\($0)" }
        }
        expected += ["transformer.ln_f.weight", "transformer.ln_f.bias"]
        XCTAssertEqual(net.layout.slots.map(\.name), expected)
        XCTAssertEqual(net.stateLayout.count, 0)
        let shapes = ["transformer.wte.weight": [7, 32], "transformer.wpe.weight": [5, 32],
                      "transformer.h.1.attn.c_attn.weight": [96, 32], "transformer.h.1.attn.c_proj.weight": [32, 32],
                      "transformer.h.0.mlp.c_fc.weight": [128, 32], "transformer.h.0.mlp.c_proj.weight": [32, 128],
                      "transformer.ln_f.bias": [32]]
        for (name, shape) in shapes { XCTAssertEqual(net.layout.slot(named: name)?.shape, shape, name) }
    }

    /// nanoGPT's count (`get_num_params(non_embedding=False)`): 12·L·D² + 13·L·D + 2·D + (V + T)·D.
    func testParameterCountOfGPTTiny() throws {
        let net = try Network(ModelSpec(kind: .gptTiny, channels: 1, height: 1, width: 64, classes: 65))
        let l = 4, d = 128, v = 65, t = 64
        XCTAssertEqual(net.layout.count, 12 * l * d * d + 13 * l * d + 2 * d + (v + t) * d)
        XCTAssertEqual(net.outputsPerSample, 64)
        // Per token: 2·(12·L·D² + V·D) for the weights, 4·L·T·D for attention (full T×T), plus
        // the element-wise estimates (LayerNorm 8·D each, GELU 8·4D).
        let perToken = 2 * (12 * l * d * d + v * d) + 4 * l * t * d + 8 * d * (2 * l + 1) + 8 * 4 * d * l
        XCTAssertEqual(net.flopsPerSample, perToken * t)
    }

    /// Image models keep one output per sample; a GPT's input must be a sequence.
    func testOutputsPerSampleAndInputChecks() throws {
        XCTAssertEqual(try Network(ModelSpec(kind: .mlp, channels: 1, height: 4, width: 4, classes: 3)).outputsPerSample, 1)
        XCTAssertEqual(try micro(context: 9).outputsPerSample, 9)
        XCTAssertThrowsError(try Network(ModelSpec(kind: .gptMicro, channels: 1, height: 8, width: 8, classes: 3))) {
            XCTAssertTrue("\($0)".contains("token sequences"), "\($0)")
        }
    }

    /// nanoGPT's `_init_weights`: weights N(0, 0.02²), both c_proj N(0, (0.02/√(2L))²), biases 0,
    /// LayerNorm 1 and 0.
    func testInitialisationIsNanoGPTs() throws {
        let net = try Network(ModelSpec(kind: .gptTiny, channels: 1, height: 1, width: 64, classes: 65))
        let replica = Replica(for: net)
        net.initialize(replica, seed: 1)
        func values(_ name: String) -> [Float] { Array(replica.parameters.array[net.layout.slot(named: name)!.range]) }
        func std(_ name: String) -> Float {
            let v = values(name)
            return (v.map { $0 * $0 }.reduce(0, +) / Float(v.count)).squareRoot()
        }
        for name in ["transformer.wte.weight", "transformer.wpe.weight", "transformer.h.0.attn.c_attn.weight",
                     "transformer.h.3.mlp.c_fc.weight"] {
            XCTAssertEqual(std(name), 0.02, accuracy: 0.001, name)
        }
        for name in ["transformer.h.0.attn.c_proj.weight", "transformer.h.2.mlp.c_proj.weight"] {
            XCTAssertEqual(std(name), 0.02 / Float(8).squareRoot(), accuracy: 0.0005, name)
        }
        XCTAssert(values("transformer.h.1.ln_2.weight").allSatisfy { $0 == 1 })
        XCTAssert(values("transformer.ln_f.bias").allSatisfy { $0 == 0 })
        XCTAssert(values("transformer.h.1.attn.c_attn.bias").allSatisfy { $0 == 0 })
    }

    /// Central differences of the mean cross-entropy over all N·T tokens, for 3 coordinates of
    /// every tensor of gpt-micro (D = 32, 2 heads, T = 5, N = 3, vocabulary 7).
    func testWholeModelGradient() throws {
        let net = try micro(), replica = Replica(for: net)
        net.initialize(replica, seed: 11)
        // Larger weights than at initialisation, so that every path carries gradient.
        var rng = RandomGenerator(seed: 12)
        for i in 0..<replica.parameters.count { replica.parameters[i] += 0.2 * rng.nextNormal() }
        let tokens = randomTokens(sequences: 3, length: 5, vocabulary: 7, seed: 13)
        let labels = (0..<15).map { _ in Int32(rng.nextInt(below: 7)) }
        let context = StepContext.training(seed: 1, epoch: 0, worker: 0, step: 0)
        try labels.withUnsafeBufferPointer { lp in
            let l = try XCTUnwrap(lp.baseAddress)
            _ = net.trainStep(images: tokens, labels: l, replica.view, context)
            let analytic = replica.gradients.array
            func loss() -> Float {
                SoftmaxCrossEntropy.evaluate(logits: net.forward(tokens, replica.view, context), labels: l,
                                             gradient: nil).loss
            }
            var got: [Float] = [], want: [Float] = [], picks = RandomGenerator(seed: 14)
            let epsilon: Float = 3e-3
            for slot in net.layout.slots {
                for _ in 0..<3 {
                    let i = slot.offset + picks.nextInt(below: slot.count), saved = replica.parameters[i]
                    replica.parameters[i] = saved + epsilon
                    let plus = loss()
                    replica.parameters[i] = saved - epsilon
                    let minus = loss()
                    replica.parameters[i] = saved
                    got.append(analytic[i])
                    want.append((plus - minus) / (2 * epsilon))
                }
            }
            assertClose(got, want, relative: 5e-2, absolute: 1e-3, "gpt-micro")
        }
    }

    /// Changing the token at t′ changes no logit at a position t < t′ (in any sequence), and some
    /// at t′.
    func testLogitsAreCausal() throws {
        let net = try micro(vocabulary: 7, context: 6), replica = Replica(for: net), t = 6, n = 3, v = 7
        net.initialize(replica, seed: 2)
        var rng = RandomGenerator(seed: 3)
        for i in 0..<replica.parameters.count { replica.parameters[i] += 0.2 * rng.nextNormal() }
        let tokens = randomTokens(sequences: n, length: t, vocabulary: v, seed: 4)
        let before = net.forward(tokens, replica.view, .evaluation).array
        for changed in [0, 2, 5] {
            let edited = Tensor(tokens.shape, values: tokens.array)
            edited[1 * t + changed] = Float((Int(tokens[1 * t + changed]) + 1) % v)
            let after = net.forward(edited, replica.view, .evaluation).array
            for s in 0..<n {
                for position in 0..<t where s != 1 || position < changed {
                    let column = s * t + position
                    XCTAssertEqual((0..<v).map { after[$0 * n * t + column] }, (0..<v).map { before[$0 * n * t + column] },
                                   "sequence \(s), position \(position), token \(changed) changed")
                }
            }
            let column = 1 * t + changed
            XCTAssertNotEqual((0..<v).map { after[$0 * n * t + column] }, (0..<v).map { before[$0 * n * t + column] })
        }
    }
}

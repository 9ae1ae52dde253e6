import Tensor

/// GPT-2's input embedding (Radford et al. 2019; nanoGPT's `transformer.wte` and
/// `transformer.wpe`): token n·T + t of a batch of N sequences of T token ids becomes the
/// column x[:, n·T + t] = wte[token] + wpe[t] of the hidden activations [D, N·T].
///
/// Input [1, N, 1, T]: Float values holding integer token ids in 0..<vocabulary (exact up to
/// 2²⁴). Parameters `wte.weight` [vocabulary, D] and `wpe.weight` [T, D] (PyTorch's
/// `nn.Embedding` layout, one row per token or position). The input is data, never
/// differentiated: the layer has no input gradient. `TiedHead` reads and adds into `wte`.
public final class Embedding: Layer {
    public let vocabulary: Int, contextLength: Int, features: Int
    /// Always false: token ids have no gradient.
    public var needsInputGradient: Bool { get { false } set {} }
    /// Where `wte.weight` is in the replica's buffers, once registered (the tied head's weight).
    public private(set) var tokenWeightOffset = -1
    private var positionWeightOffset = 0
    private let output = Tensor(Shape(0, 0)), noGradient = Tensor(Shape(0, 0))
    private var input = Tensor(Shape(0, 0))
    /// A call's arguments: the replica, the output gradient (nil forward) and the split of the features.
    private struct Call { let r: ReplicaView, dy: Tensor?, split: Split }
    private lazy var forwardFeatures = Parts<Call> { [unowned self] call, part, _ in
        self.forward(features: call.split.range(part), call.r)
    }
    private lazy var backwardFeatures = Parts<Call> { [unowned self] call, part, _ in
        self.backward(features: call.split.range(part), call.r, call.dy!)
    }

    public init(vocabulary: Int, contextLength: Int, features: Int) {
        precondition(vocabulary > 0 && contextLength > 0 && features > 0, "Embedding needs positive sizes")
        self.vocabulary = vocabulary
        self.contextLength = contextLength
        self.features = features
    }

    public func register(prefix: String, parameters: inout ParameterLayout, state: inout ParameterLayout) {
        tokenWeightOffset = parameters.append(name: joinName(prefix, "wte.weight"), shape: [vocabulary, features],
                                              role: .embedding)
        positionWeightOffset = parameters.append(name: joinName(prefix, "wpe.weight"),
                                                 shape: [contextLength, features], role: .embedding)
    }

    public func outputShape(for x: Shape) -> Shape {
        precondition(x.c == 1 && x.h == 1 && x.w == contextLength,
                     "Embedding expects token ids [1, N, 1, \(contextLength)], got \(x)")
        return Shape(features, x.n * contextLength)
    }

    /// Additions only: no multiply-adds.
    public func flops(for x: Shape) -> Int { 0 }

    public func forward(_ x: Tensor, _ r: ReplicaView, _ context: StepContext) -> Tensor {
        input = x
        output.reshape(outputShape(for: x.shape))
        checkTokens(x)
        run(forwardFeatures, r, nil, context)
        return output
    }

    /// Splits the features: each part reads every token and owns its rows of the output and
    /// its columns of both gradients, so the scatter of the backward needs no atomics and adds
    /// in token order whatever the lanes.
    private func run(_ parts: Parts<Call>, _ r: ReplicaView, _ dy: Tensor?, _ context: StepContext) {
        let split = Split(features, minimum: max(1, 16 * 1024 / max(1, input.count)), alignment: 1)
        parts.run(split.parts, Call(r: r, dy: dy, split: split), context)
    }

    /// Token ids must be integers in 0..<vocabulary (the dataset guarantees it; a wrong one is a
    /// programmer error, reported with its position).
    private func checkTokens(_ x: Tensor) {
        let tokens = x.pointer
        for i in 0..<x.count {
            let value = tokens[i]
            precondition(value >= 0 && value < Float(vocabulary) && value == value.rounded(.towardZero),
                         "token id \(value) at index \(i) (sequence \(i / contextLength), position \(i % contextLength)) is not an integer in 0..<\(vocabulary)")
        }
    }

    /// y[d, m] = wte[token(m), d] + wpe[m mod T, d] for d in `features`.
    private func forward(features: Range<Int>, _ r: ReplicaView) {
        let m = input.count, t = contextLength, tokens = input.pointer, y = output.pointer
        let wte = r.parameters + tokenWeightOffset, wpe = r.parameters + positionWeightOffset
        for d in features {
            let row = y + d * m
            for i in 0..<m { row[i] = wte[Int(tokens[i]) * self.features + d] + wpe[(i % t) * self.features + d] }
        }
    }

    /// Token ids have no gradient: the result is an empty tensor.
    public func backward(_ dy: Tensor, _ r: ReplicaView, _ context: StepContext) -> Tensor {
        run(backwardFeatures, r, dy, context)
        return noGradient
    }

    /// dwte[token(m), d] += dy[d, m] and dwpe[m mod T, d] += dy[d, m], over m in order.
    private func backward(features: Range<Int>, _ r: ReplicaView, _ dy: Tensor) {
        let m = input.count, t = contextLength, tokens = input.pointer, g = dy.pointer
        let dwte = r.gradients + tokenWeightOffset, dwpe = r.gradients + positionWeightOffset
        for d in features {
            let row = g + d * m
            for i in 0..<m {
                dwte[Int(tokens[i]) * self.features + d] += row[i]
                dwpe[(i % t) * self.features + d] += row[i]
            }
        }
    }
}

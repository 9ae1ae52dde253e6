import Tensor

/// Inverted dropout (Srivastava et al. 2014, as PyTorch's `nn.Dropout`): in training, each
/// element of x (any shape) is zeroed with probability `rate` and the others are scaled by
/// 1/(1 − rate), so the expected output is x; in evaluation the layer is the identity.
///
/// The mask comes from the step's random stream (`StepContext.random`) under a stream named
/// after the layer, in blocks of `block` elements with one generator each, so the same (seed,
/// epoch, worker, step) and layer name give the same mask on any number of threads, and two
/// dropout layers of a network need distinct names (as PyTorch's module paths are).
public final class Dropout: Layer {
    /// Probability of zeroing an element, in [0, 1).
    public let rate: Float
    public var needsInputGradient = true
    /// Elements per generator. Parts of the work are whole blocks, so a block's values do not
    /// depend on how the work is split.
    static let block = 1024
    private var stream: UInt64 = streamID("")
    private let output = Tensor(Shape(0, 0)), inputGradient = Tensor(Shape(0, 0))
    /// The last training forward's multipliers: 0 or 1/(1 − rate), one per element.
    private let mask = Tensor(Shape(0, 0))
    /// A call's arguments: input and output (x, y forward; dy, dx backward), the split, the context.
    private struct Call {
        let from: UnsafePointer<Float>, into: UnsafeMutablePointer<Float>, split: Split, context: StepContext
    }
    private lazy var forwardParts = Parts<Call> { [unowned self] call, part, _ in self.forward(call, part) }
    private lazy var backwardParts = Parts<Call> { [unowned self] call, part, _ in self.backward(call, part) }

    public init(rate: Float) {
        precondition(rate >= 0 && rate < 1, "dropout rate \(rate) is not in [0, 1)")
        self.rate = rate
    }

    /// No tensors; the name only picks the random stream.
    public func register(prefix: String, parameters: inout ParameterLayout, state: inout ParameterLayout) {
        stream = streamID(prefix)
    }

    public func outputShape(for x: Shape) -> Shape { x }

    /// Training with a positive rate; otherwise the layer is the identity, forward and backward.
    private func drops(_ context: StepContext) -> Bool { context.isTraining && rate > 0 }

    private func split(_ count: Int) -> Split { Split(count, minimum: 16 * 1024, alignment: Dropout.block) }

    public func forward(_ x: Tensor, _ r: ReplicaView, _ context: StepContext) -> Tensor {
        guard drops(context) else { return x }
        output.reshape(x.shape)
        mask.reshape(x.shape)
        let split = split(x.count)
        forwardParts.run(split.parts, Call(from: x.pointer, into: output.pointer, split: split, context: context), context)
        return output
    }

    /// Draws the mask of the part's blocks and applies it: one uniform per element, kept below 1 − rate.
    private func forward(_ call: Call, _ part: Int) {
        let range = call.split.range(part), keep = 1 - rate, scale = 1 / keep, m = mask.pointer
        var start = range.lowerBound
        while start < range.upperBound {
            let end = min(range.upperBound, start + Dropout.block)
            var rng = call.context.random(stream: stream, block: start / Dropout.block)
            for i in start..<end { m[i] = rng.nextFloat() < keep ? scale : 0 }
            start = end
        }
        for i in range { call.into[i] = call.from[i] * m[i] }
    }

    /// dx = dy · mask (the forward is linear in x given the mask).
    public func backward(_ dy: Tensor, _ r: ReplicaView, _ context: StepContext) -> Tensor {
        guard drops(context) else { return dy }
        guard needsInputGradient else { return inputGradient }
        inputGradient.reshape(dy.shape)
        let split = split(dy.count)
        backwardParts.run(split.parts, Call(from: dy.pointer, into: inputGradient.pointer, split: split,
                                            context: context), context)
        return inputGradient
    }

    private func backward(_ call: Call, _ part: Int) {
        let m = mask.pointer
        for i in call.split.range(part) { call.into[i] = call.from[i] * m[i] }
    }
}

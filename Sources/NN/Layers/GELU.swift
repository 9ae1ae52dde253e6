import Tensor

/// The Gaussian error linear unit in the tanh approximation GPT-2 uses (Hendrycks & Gimpel 2016;
/// PyTorch's `nn.GELU(approximate='tanh')`, nanoGPT's MLP activation):
/// y = ½·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))), element-wise on any shape (`Vector.gelu`,
/// whose tanh is a rational approximation a few ulp from tanh).
public final class GELU: Layer {
    public var needsInputGradient = true
    private let output = Tensor(Shape(0, 0)), inputGradient = Tensor(Shape(0, 0))
    private var input = Tensor(Shape(0, 0))
    /// A call's arguments: source and destination (x → y forward, dy → dx backward) and the split.
    private struct Call { let from: UnsafePointer<Float>, into: UnsafeMutablePointer<Float>, split: Split }
    private lazy var forwardParts = Parts<Call> { call, part, _ in
        let r = call.split.range(part)
        Vector.gelu(call.from + r.lowerBound, into: call.into + r.lowerBound, count: r.count)
    }
    private lazy var backwardParts = Parts<Call> { [unowned self] call, part, _ in
        let r = call.split.range(part)
        Vector.geluBackward(call.from + r.lowerBound, input: self.input.pointer + r.lowerBound,
                            into: call.into + r.lowerBound, count: r.count)
    }

    public init() {}

    public func register(prefix: String, parameters: inout ParameterLayout, state: inout ParameterLayout) {}
    public func outputShape(for x: Shape) -> Shape { x }

    /// About 4 multiply-adds and a tanh per element (counted as 8 FLOPs).
    public func flops(for x: Shape) -> Int { 8 * x.count }

    public func forward(_ x: Tensor, _ r: ReplicaView, _ context: StepContext) -> Tensor {
        input = x
        output.reshape(x.shape)
        let split = Split(x.count)
        forwardParts.run(split.parts, Call(from: x.pointer, into: output.pointer, split: split), context)
        return output
    }

    public func backward(_ dy: Tensor, _ r: ReplicaView, _ context: StepContext) -> Tensor {
        guard needsInputGradient else { return inputGradient }
        inputGradient.reshape(dy.shape)
        let split = Split(dy.count)
        backwardParts.run(split.parts, Call(from: dy.pointer, into: inputGradient.pointer, split: split), context)
        return inputGradient
    }
}

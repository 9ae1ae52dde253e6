import Tensor

/// y = max(x, 0).
public final class ReLU: Layer {
    public var needsInputGradient = true
    private let output = Tensor(Shape(0, 0)), inputGradient = Tensor(Shape(0, 0))
    private let elementwise = Elementwise()

    public init() {}

    public func register(prefix: String, parameters: inout ParameterLayout, state: inout ParameterLayout) {}
    public func outputShape(for x: Shape) -> Shape { x }

    public func forward(_ x: Tensor, _ r: ReplicaView, _ context: StepContext) -> Tensor {
        output.reshape(x.shape)
        elementwise.run(.relu, x.pointer, into: output.pointer, count: x.count, context)
        return output
    }

    public func backward(_ dy: Tensor, _ r: ReplicaView, _ context: StepContext) -> Tensor {
        guard needsInputGradient else { return inputGradient }
        inputGradient.reshape(dy.shape)
        elementwise.run(.reluBackward, dy.pointer, output.pointer, into: inputGradient.pointer, count: dy.count,
                        context)
        return inputGradient
    }
}

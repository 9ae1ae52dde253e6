import Tensor

/// y = max(x, 0).
public final class ReLU: Layer {
    public var needsInputGradient = true
    private let output = Tensor(Shape(0, 0)), inputGradient = Tensor(Shape(0, 0))

    public init() {}

    public func register(prefix: String, parameters: inout ParameterLayout, state: inout ParameterLayout) {}
    public func outputShape(for x: Shape) -> Shape { x }

    public func forward(_ x: Tensor, _ r: ReplicaView, training: Bool) -> Tensor {
        output.reshape(x.shape)
        Vector.relu(x.pointer, into: output.pointer, count: x.count)
        return output
    }

    public func backward(_ dy: Tensor, _ r: ReplicaView) -> Tensor {
        inputGradient.reshape(dy.shape)
        Vector.reluBackward(dy.pointer, output: output.pointer, into: inputGradient.pointer, count: dy.count)
        return inputGradient
    }
}

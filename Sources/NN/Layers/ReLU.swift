import Tensor

/// y = max(x, 0).
public final class ReLU: Layer {
    public var needsInputGradient = true
    private let output = Tensor(Shape(0, 0)), inputGradient = Tensor(Shape(0, 0))
    private var workspace: Workspace?
    private let elementwise = Elementwise()

    public init() {}

    public func use(_ workspace: Workspace) { self.workspace = workspace }

    public func register(prefix: String, parameters: inout ParameterLayout, state: inout ParameterLayout) {}
    public func outputShape(for x: Shape) -> Shape { x }

    public func forward(_ x: Tensor, _ r: ReplicaView, training: Bool) -> Tensor {
        output.reshape(x.shape)
        elementwise.run(.relu, x.pointer, into: output.pointer, count: x.count, on: workspace)
        return output
    }

    public func backward(_ dy: Tensor, _ r: ReplicaView) -> Tensor {
        inputGradient.reshape(dy.shape)
        elementwise.run(.reluBackward, dy.pointer, output.pointer, into: inputGradient.pointer, count: dy.count,
                        on: workspace)
        return inputGradient
    }
}

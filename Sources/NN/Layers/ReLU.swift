import Tensor

/// y = max(x, 0).
public final class ReLU: Layer {
    public var needsInputGradient = true
    private let output = Tensor(Shape(0, 0)), inputGradient = Tensor(Shape(0, 0))
    private var workspace: Workspace?

    public init() {}

    public func use(_ workspace: Workspace) { self.workspace = workspace }

    public func register(prefix: String, parameters: inout ParameterLayout, state: inout ParameterLayout) {}
    public func outputShape(for x: Shape) -> Shape { x }

    public func forward(_ x: Tensor, _ r: ReplicaView, training: Bool) -> Tensor {
        output.reshape(x.shape)
        let src = x.pointer, dst = output.pointer
        workspace.forEachRange(x.count) { r in
            Vector.relu(src + r.lowerBound, into: dst + r.lowerBound, count: r.count)
        }
        return output
    }

    public func backward(_ dy: Tensor, _ r: ReplicaView) -> Tensor {
        inputGradient.reshape(dy.shape)
        let g = dy.pointer, y = output.pointer, dx = inputGradient.pointer
        workspace.forEachRange(dy.count) { r in
            Vector.reluBackward(g + r.lowerBound, output: y + r.lowerBound, into: dx + r.lowerBound, count: r.count)
        }
        return inputGradient
    }
}

import Tensor

/// Layers applied in order; children are named as in PyTorch's `state_dict` (`layer1.0.conv1`).
/// An empty name adds no path component (activation functions, which own no tensors).
public final class Sequential: Layer {
    public let children: [(name: String, layer: Layer)]

    public init(_ children: [(String, Layer)]) {
        precondition(!children.isEmpty, "Sequential needs at least one layer")
        self.children = children.map { (name: $0.0, layer: $0.1) }
    }

    public var needsInputGradient: Bool {
        get { children[0].layer.needsInputGradient }
        set { children[0].layer.needsInputGradient = newValue }
    }

    public func register(prefix: String, parameters: inout ParameterLayout, state: inout ParameterLayout) {
        for child in children {
            child.layer.register(prefix: joinName(prefix, child.name), parameters: &parameters, state: &state)
        }
    }

    public func outputShape(for x: Shape) -> Shape {
        children.reduce(x) { $1.layer.outputShape(for: $0) }
    }

    public func flops(for x: Shape) -> Int {
        var shape = x, total = 0
        for child in children {
            total += child.layer.flops(for: shape)
            shape = child.layer.outputShape(for: shape)
        }
        return total
    }

    public func forward(_ x: Tensor, _ r: ReplicaView, _ context: StepContext) -> Tensor {
        var a = x
        for child in children { a = child.layer.forward(a, r, context) }
        return a
    }

    public func backward(_ dy: Tensor, _ r: ReplicaView, _ context: StepContext) -> Tensor {
        var d = dy
        for child in children.reversed() { d = child.layer.backward(d, r, context) }
        return d
    }
}

import Tensor

/// Layers applied in order; children are named as in PyTorch's `state_dict` (`layer1.0.conv1`).
/// An empty name adds no path component (activation functions, which own no tensors).
public final class Sequential: Layer {
    public let children: [(name: String, layer: Layer)]
    /// Whether each child registered parameters (all true until `register`).
    private var childOwnsParameters: [Bool]

    public init(_ children: [(String, Layer)]) {
        precondition(!children.isEmpty, "Sequential needs at least one layer")
        self.children = children.map { (name: $0.0, layer: $0.1) }
        childOwnsParameters = Array(repeating: true, count: children.count)
    }

    /// Set false (the first layer of a network), the leading children skip their input gradient
    /// up to and including the first that owns parameters: the gradient with respect to a
    /// parameter-free layer's output is needed by nothing then (the mlp's `Flatten` makes `fc1`
    /// the layer whose input gradient nobody reads). Set before `register`, only the first child.
    /// The parameters' gradients keep their values; a `Conv2d` that skips sums its weight
    /// gradient in another order (its bits differ from computing dInput too), which matters only
    /// for networks that put parameter-free layers before a convolution (none of `ModelKind`'s).
    public var needsInputGradient: Bool {
        get { children[0].layer.needsInputGradient }
        set {
            var needed = newValue
            for (child, ownsParameters) in zip(children, childOwnsParameters) {
                child.layer.needsInputGradient = needed
                needed = needed || ownsParameters
            }
        }
    }

    public func register(prefix: String, parameters: inout ParameterLayout, state: inout ParameterLayout) {
        for (i, child) in children.enumerated() {
            let before = parameters.count
            child.layer.register(prefix: joinName(prefix, child.name), parameters: &parameters, state: &state)
            childOwnsParameters[i] = parameters.count > before
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

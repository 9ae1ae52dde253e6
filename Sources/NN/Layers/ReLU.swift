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
        let src = x.pointer, dst = output.pointer
        for i in 0..<x.count { dst[i] = max(src[i], 0) }
        return output
    }

    public func backward(_ dy: Tensor, _ r: ReplicaView) -> Tensor {
        inputGradient.reshape(dy.shape)
        reluBackward(dy.pointer, output: output.pointer, into: inputGradient.pointer, count: dy.count)
        return inputGradient
    }
}

/// dx = dy where the ReLU's output was positive, else 0.
@inline(__always)
func reluBackward(_ dy: UnsafePointer<Float>, output y: UnsafePointer<Float>, into dx: UnsafeMutablePointer<Float>,
                  count: Int) {
    for i in 0..<count { dx[i] = y[i] > 0 ? dy[i] : 0 }
}

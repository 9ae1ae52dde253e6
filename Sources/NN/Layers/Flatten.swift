import Tensor

/// [C, N, H, W] → [C·H·W, N], features in PyTorch's `flatten(1)` order (c, h, w).
public final class Flatten: Layer {
    public var needsInputGradient = true
    private let output = Tensor(Shape(0, 0)), inputGradient = Tensor(Shape(0, 0))
    private var inputShape = Shape(0, 0)

    public init() {}

    public func register(prefix: String, parameters: inout ParameterLayout, state: inout ParameterLayout) {}
    public func outputShape(for x: Shape) -> Shape { Shape(x.c * x.h * x.w, x.n) }

    public func forward(_ x: Tensor, _ r: ReplicaView, training: Bool) -> Tensor {
        inputShape = x.shape
        output.reshape(outputShape(for: x.shape))
        let s = x.shape, hw = s.h * s.w
        if hw == 1 { output.pointer.update(from: x.pointer, count: x.count); return output }
        for c in 0..<s.c {
            for n in 0..<s.n {
                let src = x.pointer + (c * s.n + n) * hw
                for p in 0..<hw { output.pointer[(c * hw + p) * s.n + n] = src[p] }
            }
        }
        return output
    }

    public func backward(_ dy: Tensor, _ r: ReplicaView) -> Tensor {
        guard needsInputGradient else { return inputGradient }
        let s = inputShape, hw = s.h * s.w
        inputGradient.reshape(s)
        if hw == 1 { inputGradient.pointer.update(from: dy.pointer, count: dy.count); return inputGradient }
        for c in 0..<s.c {
            for n in 0..<s.n {
                let dst = inputGradient.pointer + (c * s.n + n) * hw
                for p in 0..<hw { dst[p] = dy.pointer[(c * hw + p) * s.n + n] }
            }
        }
        return inputGradient
    }
}

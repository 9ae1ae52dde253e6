import Tensor

/// [C, N, H, W] → [C·H·W, N], features in PyTorch's `flatten(1)` order (c, h, w): per channel,
/// a transpose of [N, H·W] into [H·W, N] (`BLAS.transpose`), split over the features across the threads.
public final class Flatten: Layer {
    public var needsInputGradient = true
    private let output = Tensor(Shape(0, 0)), inputGradient = Tensor(Shape(0, 0))
    private var input = Tensor(Shape(0, 0))
    /// A call's arguments: the output gradient (nil forward) and the split of the features.
    private struct Call { let dy: Tensor?, split: Split }
    private lazy var parts = Parts<Call> { [unowned self] call, part, _ in
        self.transpose(features: call.split.range(part), call.dy)
    }

    public init() {}

    public func register(prefix: String, parameters: inout ParameterLayout, state: inout ParameterLayout) {}
    public func outputShape(for x: Shape) -> Shape { Shape(x.c * x.h * x.w, x.n) }

    public func forward(_ x: Tensor, _ r: ReplicaView, _ context: StepContext) -> Tensor {
        input = x
        output.reshape(outputShape(for: x.shape))
        if x.shape.h * x.shape.w == 1 { output.pointer.update(from: x.pointer, count: x.count); return output }
        run(backward: nil, context)
        return output
    }

    public func backward(_ dy: Tensor, _ r: ReplicaView, _ context: StepContext) -> Tensor {
        guard needsInputGradient else { return inputGradient }
        inputGradient.reshape(input.shape)
        if input.shape.h * input.shape.w == 1 { inputGradient.pointer.update(from: dy.pointer, count: dy.count); return inputGradient }
        run(backward: dy, context)
        return inputGradient
    }

    private func run(backward dy: Tensor?, _ context: StepContext) {
        let split = Split(output.shape.c, minimum: max(8, 16 * 1024 / max(1, input.shape.n)), alignment: 8)
        parts.run(split.parts, Call(dy: dy, split: split), context)
    }

    /// The features f = (c, p) in `features`, channel by channel: forward, or backward from `dy`.
    private func transpose(features: Range<Int>, _ dy: Tensor?) {
        let s = input.shape, hw = s.h * s.w, n = s.n
        var f = features.lowerBound
        while f < features.upperBound {
            let c = f / hw, p = f - c * hw, count = min(hw - p, features.upperBound - f)
            let images = c * n * hw + p, flat = (c * hw + p) * n  // x[c, 0, p] and out[f, 0]
            if let dy {
                BLAS.transpose(dy.pointer + flat, rows: count, cols: n, srcStride: n,
                                 into: inputGradient.pointer + images, dstStride: hw)
            } else {
                BLAS.transpose(input.pointer + images, rows: n, cols: count, srcStride: hw,
                                 into: output.pointer + flat, dstStride: n)
            }
            f += count
        }
    }
}

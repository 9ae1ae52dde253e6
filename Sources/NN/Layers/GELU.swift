import Foundation
import Tensor

/// The Gaussian error linear unit in the tanh approximation GPT-2 uses (Hendrycks & Gimpel 2016;
/// PyTorch's `nn.GELU(approximate='tanh')`, nanoGPT's MLP activation):
/// y = ½·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))), element-wise on any shape.
public final class GELU: Layer {
    public var needsInputGradient = true
    private let output = Tensor(Shape(0, 0)), inputGradient = Tensor(Shape(0, 0))
    private var input = Tensor(Shape(0, 0))
    /// A call's arguments: source and destination (x → y forward, dy → dx backward) and the split.
    private struct Call { let from: UnsafePointer<Float>, into: UnsafeMutablePointer<Float>, split: Split }
    private lazy var forwardParts = Parts<Call> { [unowned self] call, part, _ in
        GELU.forward(self.input.pointer, into: call.into, call.split.range(part))
    }
    private lazy var backwardParts = Parts<Call> { [unowned self] call, part, _ in
        GELU.backward(call.from, self.input.pointer, into: call.into, call.split.range(part))
    }

    static let sqrtTwoOverPi: Float = (2 / Float.pi).squareRoot()
    static let cubic: Float = 0.044715

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
        inputGradient.reshape(dy.shape)
        let split = Split(dy.count)
        backwardParts.run(split.parts, Call(from: dy.pointer, into: inputGradient.pointer, split: split), context)
        return inputGradient
    }

    private static func forward(_ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, _ range: Range<Int>) {
        for i in range {
            let v = x[i]
            y[i] = 0.5 * v * (1 + tanhf(sqrtTwoOverPi * (v + cubic * v * v * v)))
        }
    }

    /// dx = dy·(½(1 + tanh u) + ½x·(1 − tanh²u)·√(2/π)(1 + 3·0.044715·x²)), u = √(2/π)(x + 0.044715x³).
    private static func backward(_ dy: UnsafePointer<Float>, _ x: UnsafePointer<Float>,
                                 into dx: UnsafeMutablePointer<Float>, _ range: Range<Int>) {
        for i in range {
            let v = x[i], t = tanhf(sqrtTwoOverPi * (v + cubic * v * v * v))
            let local = 0.5 * (1 + t) + 0.5 * v * (1 - t * t) * sqrtTwoOverPi * (1 + 3 * cubic * v * v)
            dx[i] = dy[i] * local
        }
    }
}

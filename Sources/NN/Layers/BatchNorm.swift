import Foundation
import Tensor

/// Batch normalization over the channels of [C, N, H, W] activations (vectors [F, N] are the
/// 1-d case). Training uses the batch's statistics and updates the running ones with
/// `momentum` (PyTorch semantics: new = (1 − m)·old + m·batch, unbiased batch variance);
/// evaluation uses the running statistics. Parameters `weight` (γ) and `bias` (β); state
/// `running_mean` and `running_var`, as PyTorch's `nn.BatchNorm2d`. With `relu`, the layer is
/// BatchNorm followed by ReLU in one pass (and its backward masks by the output in one pass);
/// `forward(_:addingReLU:_:_:)` also adds a residual before the ReLU (the end of a residual block).
public final class BatchNorm: Layer {
    public let channels: Int
    public let epsilon: Float
    public let momentum: Float
    /// The last BatchNorm of a residual block starts with γ = 0 (Goyal et al., §3 of the study).
    public let zeroInitScale: Bool
    /// Applies max(·, 0) to the output.
    public let relu: Bool
    public var needsInputGradient = true
    private var weightOffset = 0, biasOffset = 0, meanOffset = 0, varianceOffset = 0
    private let output = Tensor(Shape(0, 0)), inputGradient = Tensor(Shape(0, 0))
    private var input = Tensor(Shape(0, 0))
    /// The last forward added a residual and applied ReLU, so backward masks dy by the output.
    private var addedResidual = false
    /// Per channel: batch mean and 1/sqrt(var + ε) of the last forward.
    private let savedMean: FloatBuffer, savedInverseStd: FloatBuffer
    /// A call's arguments, for the per-channel loops (each channel's sums stay on one lane).
    private struct Call { let r: ReplicaView, dy: Tensor?, training: Bool; var residual: UnsafePointer<Float>? = nil }
    private lazy var forwardChannels = Parts<Call> { [unowned self] call, c, _ in self.forward(channel: c, call) }
    private lazy var backwardChannels = Parts<Call> { [unowned self] call, c, _ in self.backward(channel: c, call) }

    public init(_ channels: Int, epsilon: Float = 1e-5, momentum: Float = 0.1, zeroInitScale: Bool = false,
                relu: Bool = false) {
        self.channels = channels
        self.relu = relu
        self.epsilon = epsilon
        self.momentum = momentum
        self.zeroInitScale = zeroInitScale
        savedMean = FloatBuffer(count: channels)
        savedInverseStd = FloatBuffer(count: channels)
    }

    public func register(prefix: String, parameters: inout ParameterLayout, state: inout ParameterLayout) {
        weightOffset = parameters.append(name: joinName(prefix, "weight"), shape: [channels], role: .normScale,
                                         initializer: zeroInitScale ? .zeros : .ones)
        biasOffset = parameters.append(name: joinName(prefix, "bias"), shape: [channels], role: .normShift)
        meanOffset = state.append(name: joinName(prefix, "running_mean"), shape: [channels], role: .runningMean)
        varianceOffset = state.append(name: joinName(prefix, "running_var"), shape: [channels], role: .runningVariance)
    }

    public func outputShape(for x: Shape) -> Shape {
        precondition(x.c == channels, "BatchNorm expects \(channels) channels, got \(x.c)")
        return x
    }

    public func flops(for x: Shape) -> Int { 4 * x.c * x.h * x.w }

    /// Training (batch statistics) or evaluation (running ones) as `context` says.
    public func forward(_ x: Tensor, _ r: ReplicaView, _ context: StepContext) -> Tensor {
        input = x
        output.reshape(x.shape)
        addedResidual = false
        forwardChannels.run(channels, Call(r: r, dy: nil, training: context.isTraining), context)
        return output
    }

    /// y = max(BN(x) + residual, 0) in one pass (`residual` of x's shape), for a layer built
    /// without `relu`: the end of a residual block (`ResidualBlock`), bitwise what BatchNorm then
    /// `Vector.addReLU` give. Its backward returns dL/dx of the normalisation with dy masked by
    /// y > 0; the residual's own gradient (that masked dy) is the caller's to form.
    public func forward(_ x: Tensor, addingReLU residual: Tensor, _ r: ReplicaView, _ context: StepContext) -> Tensor {
        precondition(!relu && residual.shape == x.shape, "a residual of \(x.shape) into a BatchNorm without ReLU")
        input = x
        output.reshape(x.shape)
        addedResidual = true
        forwardChannels.run(channels, Call(r: r, dy: nil, training: context.isTraining, residual: residual.pointer), context)
        return output
    }

    private func forward(channel c: Int, _ call: Call) {
        let r = call.r, m = input.shape.plane
        let gamma = r.parameters + weightOffset, beta = r.parameters + biasOffset
        let runningMean = r.state + meanOffset, runningVar = r.state + varianceOffset
        let x = input.pointer + c * m
        var mean: Float, inverseStd: Float
        if call.training {
            mean = Vector.sum(x, count: m) / Float(m)
            let squares = Vector.squaredDeviations(x, from: mean, count: m)
            let variance = squares / Float(m)
            inverseStd = 1 / (variance + epsilon).squareRoot()
            let unbiased = m > 1 ? squares / Float(m - 1) : variance
            runningMean[c] = (1 - momentum) * runningMean[c] + momentum * mean
            runningVar[c] = (1 - momentum) * runningVar[c] + momentum * unbiased
        } else {
            mean = runningMean[c]
            inverseStd = 1 / (runningVar[c] + epsilon).squareRoot()
        }
        savedMean[c] = mean
        savedInverseStd[c] = inverseStd
        let scale = gamma[c] * inverseStd, shift = beta[c] - mean * scale
        if let residual = call.residual {
            Vector.affineAddReLU(x, scale: scale, shift: shift, residual: residual + c * m, into: output.pointer + c * m, count: m)
        } else {
            Vector.affine(x, scale: scale, shift: shift, relu: relu, into: output.pointer + c * m, count: m)
        }
    }

    public func backward(_ dy: Tensor, _ r: ReplicaView, _ context: StepContext) -> Tensor {
        if needsInputGradient { inputGradient.reshape(input.shape) }
        backwardChannels.run(channels, Call(r: r, dy: dy, training: context.isTraining), context)
        return inputGradient
    }

    private func backward(channel c: Int, _ call: Call) {
        let r = call.r, m = input.shape.plane
        let gamma = r.parameters + weightOffset
        let dGamma = r.gradients + weightOffset, dBeta = r.gradients + biasOffset
        let x = input.pointer + c * m, g = call.dy!.pointer + c * m
        // With the fused ReLU (or residual and ReLU), the gradient reaching the normalisation is dy where the output is positive.
        let mask: UnsafePointer<Float>? = relu || addedResidual ? UnsafePointer(output.pointer + c * m) : nil
        let mean = savedMean[c], inverseStd = savedInverseStd[c]
        let (sumDy, sumDyX) = Vector.gradientSums(g, reluOutput: mask, x, count: m)
        // Σ dy·x̂ = (Σ dy·x − mean·Σ dy)·invstd
        let sumDyXhat = (sumDyX - mean * sumDy) * inverseStd
        dGamma[c] += sumDyXhat
        dBeta[c] += sumDy
        guard needsInputGradient else { return }
        let dx = inputGradient.pointer + c * m
        if !call.training {
            // Running statistics are constants: the layer is affine, dx = γ·invstd·dy.
            Vector.gradientAffine(g, reluOutput: mask, x, a: gamma[c] * inverseStd, b: 0, c: 0, into: dx, count: m)
            return
        }
        // dx = γ·invstd/M · (M·dy − Σdy − x̂·Σ(dy·x̂)) = a·dy + d·x + (b − d·mean)
        let k = gamma[c] * inverseStd / Float(m)
        let a = k * Float(m), b = -k * sumDy, d = -k * sumDyXhat * inverseStd
        Vector.gradientAffine(g, reluOutput: mask, x, a: a, b: d, c: b - d * mean, into: dx, count: m)
    }
}

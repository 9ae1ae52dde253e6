import Foundation
import Tensor

/// Batch normalization over the channels of [C, N, H, W] activations (vectors [F, N] are the
/// 1-d case). Training uses the batch's statistics and updates the running ones with
/// `momentum` (PyTorch semantics: new = (1 − m)·old + m·batch, unbiased batch variance);
/// evaluation uses the running statistics. Parameters `weight` (γ) and `bias` (β); state
/// `running_mean` and `running_var`, as PyTorch's `nn.BatchNorm2d`. With `relu`, the layer is
/// BatchNorm followed by ReLU in one pass (and its backward masks by the output in one pass).
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
    /// Whether the last forward used batch statistics (training) or the running ones.
    private var lastForwardTrained = true
    /// Per channel: batch mean and 1/sqrt(var + ε) of the last forward.
    private let savedMean: FloatBuffer, savedInverseStd: FloatBuffer
    private var workspace: Workspace?

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

    /// Channels are spread over the workspace's threads (each channel's sums stay on one thread).
    public func use(_ workspace: Workspace) { self.workspace = workspace }

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

    public func forward(_ x: Tensor, _ r: ReplicaView, training: Bool) -> Tensor {
        input = x
        lastForwardTrained = training
        output.reshape(x.shape)
        let m = x.shape.plane
        let gamma = r.parameters + weightOffset, beta = r.parameters + biasOffset
        let runningMean = r.state + meanOffset, runningVar = r.state + varianceOffset
        let src = x.pointer, dst = output.pointer, means = savedMean.pointer, inverseStds = savedInverseStd.pointer
        let (epsilon, momentum, relu) = (self.epsilon, self.momentum, self.relu)
        workspace.pool.run(channels) { c, _ in
            let x = src + c * m
            var mean: Float, inverseStd: Float
            if training {
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
            means[c] = mean
            inverseStds[c] = inverseStd
            let scale = gamma[c] * inverseStd
            Vector.affine(x, scale: scale, shift: beta[c] - mean * scale, relu: relu, into: dst + c * m, count: m)
        }
        return output
    }

    public func backward(_ dy: Tensor, _ r: ReplicaView) -> Tensor {
        let m = dy.shape.plane
        let gamma = r.parameters + weightOffset
        let dGamma = r.gradients + weightOffset, dBeta = r.gradients + biasOffset
        if needsInputGradient { inputGradient.reshape(input.shape) }
        let xs = input.pointer, dys = dy.pointer, ys = output.pointer, dxs = inputGradient.pointer
        let means = savedMean.pointer, inverseStds = savedInverseStd.pointer
        let (relu, trained, needsInputGradient) = (self.relu, lastForwardTrained, self.needsInputGradient)
        workspace.pool.run(channels) { c, _ in
            let x = xs + c * m, g = dys + c * m
            // With the fused ReLU, the gradient reaching the normalisation is dy where the output is positive.
            let mask: UnsafePointer<Float>? = relu ? UnsafePointer(ys + c * m) : nil
            let mean = means[c], inverseStd = inverseStds[c]
            let (sumDy, sumDyX) = Vector.gradientSums(g, reluOutput: mask, x, count: m)
            // Σ dy·x̂ = (Σ dy·x − mean·Σ dy)·invstd
            let sumDyXhat = (sumDyX - mean * sumDy) * inverseStd
            dGamma[c] += sumDyXhat
            dBeta[c] += sumDy
            guard needsInputGradient else { return }
            let dx = dxs + c * m
            if !trained {
                // Running statistics are constants: the layer is affine, dx = γ·invstd·dy.
                Vector.gradientAffine(g, reluOutput: mask, x, a: gamma[c] * inverseStd, b: 0, c: 0, into: dx, count: m)
                return
            }
            // dx = γ·invstd/M · (M·dy − Σdy − x̂·Σ(dy·x̂)) = a·dy + d·x + (b − d·mean)
            let k = gamma[c] * inverseStd / Float(m)
            let a = k * Float(m), b = -k * sumDy, d = -k * sumDyXhat * inverseStd
            Vector.gradientAffine(g, reluOutput: mask, x, a: a, b: d, c: b - d * mean, into: dx, count: m)
        }
        return inputGradient
    }
}

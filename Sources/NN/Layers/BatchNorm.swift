import Foundation
import Tensor

/// Batch normalization over the channels of [C, N, H, W] activations (vectors [F, N] are the
/// 1-d case). Training uses the batch's statistics and updates the running ones with
/// `momentum` (PyTorch semantics: new = (1 − m)·old + m·batch, unbiased batch variance);
/// evaluation uses the running statistics. Parameters `weight` (γ) and `bias` (β); state
/// `running_mean` and `running_var`, as PyTorch's `nn.BatchNorm2d`.
public final class BatchNorm: Layer {
    public let channels: Int
    public let epsilon: Float
    public let momentum: Float
    /// The last BatchNorm of a residual block starts with γ = 0 (Goyal et al., §3 of the study).
    public let zeroInitScale: Bool
    public var needsInputGradient = true
    private var weightOffset = 0, biasOffset = 0, meanOffset = 0, varianceOffset = 0
    private let output = Tensor(Shape(0, 0)), inputGradient = Tensor(Shape(0, 0))
    private var input = Tensor(Shape(0, 0))
    /// Whether the last forward used batch statistics (training) or the running ones.
    private var lastForwardTrained = true
    /// Per channel: batch mean and 1/sqrt(var + ε) of the last training forward.
    private var savedMean: [Float], savedInverseStd: [Float]

    public init(_ channels: Int, epsilon: Float = 1e-5, momentum: Float = 0.1, zeroInitScale: Bool = false) {
        self.channels = channels
        self.epsilon = epsilon
        self.momentum = momentum
        self.zeroInitScale = zeroInitScale
        savedMean = [Float](repeating: 0, count: channels)
        savedInverseStd = [Float](repeating: 1, count: channels)
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

    public func forward(_ x: Tensor, _ r: ReplicaView, training: Bool) -> Tensor {
        input = x
        lastForwardTrained = training
        output.reshape(x.shape)
        let m = x.shape.plane
        let gamma = r.parameters + weightOffset, beta = r.parameters + biasOffset
        let runningMean = r.state + meanOffset, runningVar = r.state + varianceOffset
        for c in 0..<channels {
            let src = x.pointer + c * m
            var mean: Float, inverseStd: Float
            if training {
                mean = Vector.sum(src, count: m) / Float(m)
                var squares: Float = 0
                for i in 0..<m { let d = src[i] - mean; squares += d * d }
                let variance = squares / Float(m)
                inverseStd = 1 / (variance + epsilon).squareRoot()
                savedMean[c] = mean
                savedInverseStd[c] = inverseStd
                let unbiased = m > 1 ? squares / Float(m - 1) : variance
                runningMean[c] = (1 - momentum) * runningMean[c] + momentum * mean
                runningVar[c] = (1 - momentum) * runningVar[c] + momentum * unbiased
            } else {
                mean = runningMean[c]
                inverseStd = 1 / (runningVar[c] + epsilon).squareRoot()
                savedMean[c] = mean
                savedInverseStd[c] = inverseStd
            }
            let scale = gamma[c] * inverseStd
            let shift = beta[c] - mean * scale
            let dst = output.pointer + c * m
            for i in 0..<m { dst[i] = src[i] * scale + shift }
        }
        return output
    }

    public func backward(_ dy: Tensor, _ r: ReplicaView) -> Tensor {
        let m = dy.shape.plane
        let gamma = r.parameters + weightOffset
        let dGamma = r.gradients + weightOffset, dBeta = r.gradients + biasOffset
        if needsInputGradient { inputGradient.reshape(input.shape) }
        for c in 0..<channels {
            let x = input.pointer + c * m, g = dy.pointer + c * m
            let mean = savedMean[c], inverseStd = savedInverseStd[c]
            let sumDy = Vector.sum(g, count: m)
            // Σ dy·x̂ = (Σ dy·x − mean·Σ dy)·invstd
            let sumDyXhat = (Vector.dot(g, x, count: m) - mean * sumDy) * inverseStd
            dGamma[c] += sumDyXhat
            dBeta[c] += sumDy
            guard needsInputGradient else { continue }
            let dx = inputGradient.pointer + c * m
            if !lastForwardTrained {
                // Running statistics are constants: the layer is affine, dx = γ·invstd·dy.
                let a = gamma[c] * inverseStd
                for i in 0..<m { dx[i] = a * g[i] }
                continue
            }
            // dx = γ·invstd/M · (M·dy − Σdy − x̂·Σ(dy·x̂))
            let k = gamma[c] * inverseStd / Float(m)
            let a = k * Float(m), b = -k * sumDy, d = -k * sumDyXhat * inverseStd
            for i in 0..<m { dx[i] = a * g[i] + b + d * (x[i] - mean) }
        }
        return inputGradient
    }
}

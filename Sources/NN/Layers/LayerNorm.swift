import Tensor

/// Layer normalization (Ba et al. 2016) of each column of [D, M] activations over its D
/// features, with PyTorch's `nn.LayerNorm(D)` semantics: y = (x − mean)/sqrt(var + ε)·weight + bias,
/// var the biased variance, ε = 1e-5; parameters `weight` [D] (γ, starts at 1) and `bias` [D]
/// (β, starts at 0). Used by GPT-2 / nanoGPT before each sub-layer and at the end (`ln_f`).
/// The same in training and evaluation.
public final class LayerNorm: Layer {
    public let features: Int
    public let epsilon: Float
    public var needsInputGradient = true
    private var weightOffset = 0, biasOffset = 0
    private let output = Tensor(Shape(0, 0)), inputGradient = Tensor(Shape(0, 0))
    private var input = Tensor(Shape(0, 0))
    /// Per column: mean and 1/sqrt(var + ε) of the last forward; in backward, the column's
    /// mean of dy·γ and of dy·γ·x̂.
    private let mean = Tensor(Shape(0, 0)), inverseStd = Tensor(Shape(0, 0))
    private let meanGradient = Tensor(Shape(0, 0)), meanGradientXhat = Tensor(Shape(0, 0))
    /// Per part of the columns: its partial Σ dy·x̂ (γ's gradient) then Σ dy (β's), added into the
    /// gradients in part order after the parts are done.
    private let partials = Tensor(Shape(0, 0))
    /// A call's arguments: the replica, the output gradient (nil forward) and the split of the columns.
    private struct Call { let r: ReplicaView, dy: Tensor?, split: Split }
    private lazy var forwardColumns = Parts<Call> { [unowned self] call, part, _ in
        self.forward(columns: call.split.range(part), call.r)
    }
    private lazy var backwardColumns = Parts<Call> { [unowned self] call, part, _ in
        self.backward(columns: call.split.range(part), part: part, call.r, call.dy!)
    }

    public init(_ features: Int, epsilon: Float = 1e-5) {
        self.features = features
        self.epsilon = epsilon
    }

    public func register(prefix: String, parameters: inout ParameterLayout, state: inout ParameterLayout) {
        weightOffset = parameters.append(name: joinName(prefix, "weight"), shape: [features], role: .normScale)
        biasOffset = parameters.append(name: joinName(prefix, "bias"), shape: [features], role: .normShift)
    }

    public func outputShape(for x: Shape) -> Shape {
        precondition(x.c == features && x.h == 1 && x.w == 1, "LayerNorm expects [\(features), M], got \(x)")
        return x
    }

    /// About 4 multiply-adds per element (statistics, normalisation, affine map); one sample's
    /// input is [D, T], its T tokens.
    public func flops(for x: Shape) -> Int { 8 * x.c * x.n }

    /// Parts of the columns, fixed by the sizes; every column's statistics are summed over d in
    /// order, so they do not depend on the split either.
    private func split(columns: Int) -> Split {
        Split(columns, minimum: max(16, 16 * 1024 / features), alignment: 16)
    }

    public func forward(_ x: Tensor, _ r: ReplicaView, _ context: StepContext) -> Tensor {
        input = x
        output.reshape(outputShape(for: x.shape))
        let columns = x.shape.n, split = split(columns: columns)
        mean.reshape(Shape(columns, 1))
        inverseStd.reshape(Shape(columns, 1))
        forwardColumns.run(split.parts, Call(r: r, dy: nil, split: split), context)
        return output
    }

    private func forward(columns: Range<Int>, _ r: ReplicaView) {
        let m = input.shape.n, x = input.pointer, y = output.pointer, mu = mean.pointer, s = inverseStd.pointer
        let gamma = r.parameters + weightOffset, beta = r.parameters + biasOffset
        let scale = 1 / Float(features)
        for j in columns { mu[j] = 0; s[j] = 0 }
        for d in 0..<features { for j in columns { mu[j] += x[d * m + j] } }
        for j in columns { mu[j] *= scale }
        for d in 0..<features {
            for j in columns { let e = x[d * m + j] - mu[j]; s[j] += e * e }
        }
        for j in columns { s[j] = 1 / (s[j] * scale + epsilon).squareRoot() }
        for d in 0..<features {
            let g = gamma[d], b = beta[d]
            for j in columns { y[d * m + j] = (x[d * m + j] - mu[j]) * s[j] * g + b }
        }
    }

    public func backward(_ dy: Tensor, _ r: ReplicaView, _ context: StepContext) -> Tensor {
        let columns = dy.shape.n, split = split(columns: columns)
        if needsInputGradient { inputGradient.reshape(input.shape) }
        meanGradient.reshape(Shape(columns, 1))
        meanGradientXhat.reshape(Shape(columns, 1))
        partials.reshape(Shape(split.parts, 2 * features))
        backwardColumns.run(split.parts, Call(r: r, dy: dy, split: split), context)
        let dGamma = r.gradients + weightOffset, dBeta = r.gradients + biasOffset
        for part in 0..<split.parts {
            let p = partials.pointer + part * 2 * features
            for d in 0..<features {
                dGamma[d] += p[d]
                dBeta[d] += p[features + d]
            }
        }
        return inputGradient
    }

    /// x̂ = (x − mean)·invstd; dγ += Σ dy·x̂, dβ += Σ dy (into the part's partials) and
    /// dx = (dy·γ − mean(dy·γ) − x̂·mean(dy·γ·x̂))·invstd (llm.c's layernorm_backward).
    private func backward(columns: Range<Int>, part: Int, _ r: ReplicaView, _ dy: Tensor) {
        let m = input.shape.n, x = input.pointer, g = dy.pointer, mu = mean.pointer, s = inverseStd.pointer
        let gamma = r.parameters + weightOffset, p = partials.pointer + part * 2 * features
        let a = meanGradient.pointer, b = meanGradientXhat.pointer
        for j in columns { a[j] = 0; b[j] = 0 }
        for d in 0..<features {
            var sumXhat: Float = 0, sum: Float = 0
            let gd = gamma[d]
            for j in columns {
                let xhat = (x[d * m + j] - mu[j]) * s[j], dyj = g[d * m + j]
                sumXhat += dyj * xhat
                sum += dyj
                a[j] += dyj * gd
                b[j] += dyj * gd * xhat
            }
            p[d] = sumXhat
            p[features + d] = sum
        }
        guard needsInputGradient else { return }
        let scale = 1 / Float(features), dx = inputGradient.pointer
        for j in columns { a[j] *= scale; b[j] *= scale }
        for d in 0..<features {
            let gd = gamma[d]
            for j in columns {
                let xhat = (x[d * m + j] - mu[j]) * s[j]
                dx[d * m + j] = (g[d * m + j] * gd - a[j] - xhat * b[j]) * s[j]
            }
        }
    }
}

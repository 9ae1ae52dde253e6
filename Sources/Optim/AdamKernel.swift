import Foundation

/// The element-wise Adam / AdamW update of `Optimizer`, with the scalars of one step fixed,
/// in the arithmetic order of PyTorch's `_single_tensor_adam` (torch/optim/adam.py, amsgrad and
/// maximize off; adamw.py's `param.mul_(1 - lr * weight_decay)` first for AdamW):
///
///     w ← w·(1 − lr·λ)                          AdamW only
///     g ← grad + λ·w                            Adam only (with λ = 0 nothing is added)
///     m ← β₁·m + (1 − β₁)·g                     exp_avg.mul_(beta1).add_(grad, alpha=1 - beta1)
///     v ← β₂·v + ((1 − β₂)·g)·g                 exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
///     w ← (w − (lr/(1 − β₁ᵗ))·m / (√v / √(1 − β₂ᵗ) + ε))·s
///
/// PyTorch works out the scalars (1 − β, the bias corrections, the step size, 1 − lr·λ) in
/// Python's doubles and its kernels take them as floats; so do these. Newer PyTorch writes the
/// first moment as `exp_avg.lerp_(grad, 1 - beta1)`, equal up to rounding. `s` is the step's
/// `parameterScale`.
struct AdamKernel {
    /// β₁ and β₂, and 1 − β₁, 1 − β₂ rounded once from their exact values.
    let beta1: Float, beta2: Float, oneMinusBeta1: Float, oneMinusBeta2: Float
    /// lr / (1 − β₁ᵗ).
    let stepSize: Float
    /// √(1 − β₂ᵗ).
    let biasCorrection2Root: Float
    let epsilon: Float
    /// λ added to the gradient (Adam); 0 for AdamW.
    let coupledDecay: Float
    /// 1 − lr·λ on the weights before the update (AdamW); 1 for Adam.
    let decoupledFactor: Float
    /// s, the factor on the new weights (1, or an exact reciprocal).
    let parameterScale: Float

    /// The kernel of step `t` (1 for the first) at learning rate `lr`.
    init(config: OptimizerConfig, learningRate lr: Float, step t: Int, parameterScale: Float) {
        let b1 = Double(config.beta1), b2 = Double(config.beta2), lambda = Double(config.weightDecay)
        beta1 = config.beta1
        beta2 = config.beta2
        oneMinusBeta1 = Float(1 - b1)
        oneMinusBeta2 = Float(1 - b2)
        stepSize = Float(Double(lr) / (1 - pow(b1, Double(t))))
        biasCorrection2Root = Float((1 - pow(b2, Double(t))).squareRoot())
        epsilon = config.epsilon
        let decoupled = config.kind == .adamw
        coupledDecay = decoupled ? 0 : config.weightDecay
        decoupledFactor = decoupled ? Float(1 - Double(lr) * lambda) : 1
        self.parameterScale = parameterScale
    }

    /// One pass over `n` elements of w, m, v with gradient `grad` (specialised per source).
    @inline(__always)
    func apply<G: GradientSource>(w: UnsafeMutablePointer<Float>, grad: G, m: UnsafeMutablePointer<Float>,
                                  v: UnsafeMutablePointer<Float>, count n: Int) {
        let b1 = beta1, b2 = beta2, c1 = oneMinusBeta1, c2 = oneMinusBeta2, size = stepSize
        let root = biasCorrection2Root, eps = epsilon, decay = coupledDecay, keep = decoupledFactor, s = parameterScale
        for i in 0..<n {
            let weight = w[i]
            let g = decay == 0 ? grad[i] : grad[i] + decay * weight
            let first = m[i] * b1 + c1 * g
            let second = v[i] * b2 + (c2 * g) * g
            m[i] = first
            v[i] = second
            let denominator = second.squareRoot() / root + eps
            w[i] = (weight * keep - (size * first) / denominator) * s
        }
    }
}

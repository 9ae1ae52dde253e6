import Tensor

/// SGD with momentum (Nesterov or plain), L2 weight decay, momentum correction and optional
/// LARS, over one flat parameter buffer (§3 "Training", Appendix A.1).
///
/// The update is Goyal et al. (2017)'s form, with the learning rate inside the buffer:
///
///     g ← grad + λ·w
///     u ← β·c·u + lr·g          c = lr / previous lr with momentum correction, else 1
///     w ← w − (β·u + lr·g)      Nesterov
///     w ← w − u                 plain
///
/// With momentum correction this equals PyTorch's `SGD(momentum:nesterov:weight_decay:)` for
/// any learning-rate sequence; without it the two part ways when the learning rate changes.
///
/// `config.momentumForm = .pytorch` keeps the learning rate out of the buffer, as PyTorch's SGD
/// (and SlowMo's outer step, Wang et al. 2020, Algorithm 1) writes it, with no correction:
///
///     u ← β·u + g
///     w ← w − lr·(β·u + g)      Nesterov
///     w ← w − lr·u              plain
///
/// LARS is APEX's LARC with clipping, per slot of the layout (each named tensor): with
/// p = ‖w‖ and q = ‖grad‖ both non-zero, the slot's gradient becomes (grad + λ·w)·local with
/// local = trust·p / (q + λ·p + ε), clipped to min(local / lr, 1); a slot with p or q zero keeps
/// grad + λ·w. The momentum update above then runs on that gradient.
public struct Optimizer: Sendable {
    public let layout: ParameterLayout
    public let config: OptimizerConfig
    // Slot extents, copied out of the layout once so the step never touches strings.
    private let slotOffsets: [Int]
    private let slotCounts: [Int]

    /// `config` should have passed `validate()`.
    public init(layout: ParameterLayout, config: OptimizerConfig) {
        self.layout = layout
        self.config = config
        slotOffsets = layout.slots.map(\.offset)
        slotCounts = layout.slots.map(\.count)
    }

    /// One update of `parameters` from `gradients` / `gradientDivisor`, at learning rate `lr`.
    /// Both buffers have the layout's `count`. The divisor lets an algorithm hand over a sum of
    /// K gradients and have the mean taken in this pass instead of one of its own; each element is
    /// divided exactly as a separate pass would (a correctly rounded division, done as a product
    /// when the divisor is a power of two), so the result is bitwise that of stepping on the
    /// mean. SGD only reads `gradients`; LARS divides each slot in place before its norms.
    ///
    /// `parameterScale` multiplies the new weights in the same pass: an algorithm that sums K
    /// workers' weights right after this step passes 1/K (a power of two, so that the sum of the
    /// scaled weights is bitwise the mean) and saves the all-reduce a scaling pass.
    /// Sets `state.previousLearningRate` to `lr`. No allocation.
    public func step(
        parameters: UnsafeMutablePointer<Float>, gradients: UnsafeMutablePointer<Float>,
        state: OptimizerState, learningRate lr: Float, gradientDivisor: Float = 1, parameterScale: Float = 1
    ) {
        precondition(gradientDivisor > 0 && gradientDivisor.isFinite,
                     "Optimizer.step: gradient divisor \(gradientDivisor) must be positive and finite")
        precondition(state.momentum.count == layout.count,
                     "Optimizer.step: momentum buffer has \(state.momentum.count) floats, layout \(layout.count)")
        var correction: Float = 1
        if config.momentumForm == .goyal, config.momentumCorrection, let previous = state.previousLearningRate, previous != 0 {
            correction = lr / previous
        }
        let decay = config.weightDecay
        let kernel = MomentumKernel(
            learningRate: lr, momentum: config.momentum, bufferScale: config.momentum * correction,
            nesterov: config.nesterov, parameterScale: parameterScale, form: config.momentumForm)
        let u = state.momentum.pointer
        switch config.kind {
        case .sgd:
            if let reciprocal = gradientDivisor.exactReciprocal {
                kernel.apply(w: parameters, grad: ScaledGradient(values: gradients, factor: reciprocal), u: u,
                             count: layout.count, decay: decay, gradScale: 1)
            } else {
                kernel.apply(w: parameters, grad: DividedGradient(values: gradients, divisor: gradientDivisor), u: u,
                             count: layout.count, decay: decay, gradScale: 1)
            }
        case .lars:
            let reciprocal = gradientDivisor.exactReciprocal
            for s in 0..<slotOffsets.count {
                let o = slotOffsets[s], n = slotCounts[s]
                if gradientDivisor != 1 {  // the slot is then in cache for the norms and the update
                    let g = gradients + o
                    if let reciprocal { for i in 0..<n { g[i] *= reciprocal } } else { for i in 0..<n { g[i] /= gradientDivisor } }
                }
                let scale = larsLocalRate(w: parameters + o, grad: gradients + o, count: n, learningRate: lr)
                kernel.apply(w: parameters + o, grad: ScaledGradient(values: gradients + o, factor: 1), u: u + o,
                             count: n, decay: decay, gradScale: scale)
            }
        }
        state.previousLearningRate = lr
    }

    /// LARC's local learning rate of one slot; 1 where ‖w‖ or ‖grad‖ is zero.
    func larsLocalRate(w: UnsafePointer<Float>, grad: UnsafePointer<Float>, count n: Int,
                       learningRate lr: Float) -> Float {
        let p = Vector.sumOfSquares(w, count: n).squareRoot()
        let q = Vector.sumOfSquares(grad, count: n).squareRoot()
        guard p != 0, q != 0 else { return 1 }
        let local = config.larsTrustCoefficient * p / (q + config.weightDecay * p + config.larsEpsilon)
        // With lr = 0, local / lr is +∞ and the clip gives 1; the step is zero either way.
        return config.larsClip ? min(local / lr, 1) : local
    }
}

/// The element-wise momentum update of `Optimizer`, with the scalars fixed for one step.
struct MomentumKernel {
    let learningRate: Float
    let momentum: Float
    /// β·c, the factor on the old buffer (c the momentum correction).
    let bufferScale: Float
    let nesterov: Bool
    /// s, the factor on the new weights (1, or an exact reciprocal).
    let parameterScale: Float
    /// Where the learning rate enters (`MomentumForm`).
    let form: MomentumForm

    /// g = (grad + decay·w)·gradScale; u ← bufferScale·u + lr·g; w ← (w − (β·u + lr·g))·s or (w − u)·s.
    /// Two branch-free loops so each one vectorises; `grad` is specialised per source.
    @inline(__always)
    func apply<G: GradientSource>(w: UnsafeMutablePointer<Float>, grad: G, u: UnsafeMutablePointer<Float>,
                                  count n: Int, decay: Float, gradScale: Float) {
        let lr = learningRate, m = momentum, mc = bufferScale, s = parameterScale
        if form == .pytorch {
            applyOutside(w: w, grad: grad, u: u, count: n, decay: decay, gradScale: gradScale)
            return
        }
        if nesterov {
            for i in 0..<n {
                let step = lr * ((grad[i] + decay * w[i]) * gradScale)
                let v = mc * u[i] + step
                u[i] = v
                w[i] = (w[i] - (m * v + step)) * s
            }
        } else {
            for i in 0..<n {
                let step = lr * ((grad[i] + decay * w[i]) * gradScale)
                let v = mc * u[i] + step
                u[i] = v
                w[i] = (w[i] - v) * s
            }
        }
    }

    /// The `.pytorch` form: g = (grad + decay·w)·gradScale (with decay 0 not even 0·w is added,
    /// so a −0 gradient stays −0); u ← bufferScale·u + g; w ← (w − lr·(β·u + g))·s or (w − lr·u)·s.
    @inline(never)
    func applyOutside<G: GradientSource>(w: UnsafeMutablePointer<Float>, grad: G, u: UnsafeMutablePointer<Float>,
                                         count n: Int, decay: Float, gradScale: Float) {
        let lr = learningRate, m = momentum, mc = bufferScale, s = parameterScale
        for i in 0..<n {
            let g = decay == 0 ? grad[i] * gradScale : (grad[i] + decay * w[i]) * gradScale
            let v = mc * u[i] + g
            u[i] = v
            w[i] = (w[i] - lr * (nesterov ? m * v + g : v)) * s
        }
    }
}

/// Where the momentum kernel reads gradient element `i` from.
protocol GradientSource {
    subscript(i: Int) -> Float { get }
}

/// grad[i]·factor (factor 1 or an exact reciprocal).
struct ScaledGradient: GradientSource {
    let values: UnsafePointer<Float>
    let factor: Float
    init(values: UnsafeMutablePointer<Float>, factor: Float) {
        self.values = UnsafePointer(values)
        self.factor = factor
    }
    @inline(__always) subscript(i: Int) -> Float { values[i] * factor }
}

/// grad[i] / divisor, correctly rounded.
struct DividedGradient: GradientSource {
    let values: UnsafePointer<Float>
    let divisor: Float
    init(values: UnsafeMutablePointer<Float>, divisor: Float) {
        self.values = UnsafePointer(values)
        self.divisor = divisor
    }
    @inline(__always) subscript(i: Int) -> Float { values[i] / divisor }
}

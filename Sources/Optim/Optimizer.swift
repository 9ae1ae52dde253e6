import Tensor

/// SGD with momentum (Nesterov or plain), L2 weight decay, momentum correction and optional
/// LARS (§3 "Training", Appendix A.1), or Adam / AdamW, over one flat parameter buffer.
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
/// Adam and AdamW are PyTorch's `torch.optim.Adam` / `AdamW` (`AdamKernel`), one fused pass
/// over w, m and v; the momentum settings (β, Nesterov, correction, form) do not apply to them.
///
/// LARS is APEX's LARC with clipping, per slot of the layout (each named tensor): with
/// p = ‖w‖ and q = ‖grad‖ both non-zero, the slot's gradient becomes (grad + λ·w)·local with
/// local = trust·p / (q + λ·p + ε), clipped to min(local / lr, 1); a slot with p or q zero keeps
/// grad + λ·w. The momentum update above then runs on that gradient.
///
/// Any kind may clip the gradient to a global L2 norm first (`OptimizerConfig.gradClip`).
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
    /// mean. SGD and Adam only read `gradients`; LARS divides (and clips) each slot in place
    /// before its norms.
    ///
    /// `parameterScale` multiplies the new weights in the same pass: an algorithm that sums K
    /// workers' weights right after this step passes 1/K (a power of two, so that the sum of the
    /// scaled weights is bitwise the mean) and saves the all-reduce a scaling pass.
    ///
    /// With `config.gradClip` c > 0, a first pass takes the global L2 norm of the divided
    /// gradient, ‖g‖, over the whole buffer in index order (in `Double`, so independent of
    /// threads); if c / (‖g‖ + 10⁻⁶) < 1 the step uses the divided gradient times that factor, as
    /// PyTorch's `clip_grad_norm_(max_norm: c)` on the mean gradient before `optimizer.step()`.
    ///
    /// Adam and AdamW count the step in `state.stepCount` before it (t = 1 for the first) and
    /// need a state made for their kind (`OptimizerState(count:kind:)`). Sets
    /// `state.previousLearningRate` to `lr`. No allocation.
    public func step(
        parameters: UnsafeMutablePointer<Float>, gradients: UnsafeMutablePointer<Float>,
        state: OptimizerState, learningRate lr: Float, gradientDivisor: Float = 1, parameterScale: Float = 1
    ) {
        precondition(gradientDivisor > 0 && gradientDivisor.isFinite,
                     "Optimizer.step: gradient divisor \(gradientDivisor) must be positive and finite")
        precondition(state.momentum.count == layout.count,
                     "Optimizer.step: momentum buffer has \(state.momentum.count) floats, layout \(layout.count)")
        precondition(!config.kind.isAdaptive || state.secondMoment?.count == layout.count,
                     "Optimizer.step: \(config.kind.rawValue) needs a state with a second moment of \(layout.count) floats")
        let reciprocal = gradientDivisor.exactReciprocal
        if config.kind == .lars {
            let clip = reciprocal.map { clipFactor(ScaledGradient(values: gradients, factor: $0)) }
                ?? clipFactor(DividedGradient(values: gradients, divisor: gradientDivisor))
            stepLARS(parameters: parameters, gradients: gradients, state: state, learningRate: lr,
                     gradientDivisor: gradientDivisor, reciprocal: reciprocal, clip: clip, parameterScale: parameterScale)
        } else if let reciprocal {
            clipAndUpdate(parameters, ScaledGradient(values: gradients, factor: reciprocal), state, lr, parameterScale)
        } else {
            clipAndUpdate(parameters, DividedGradient(values: gradients, divisor: gradientDivisor), state, lr, parameterScale)
        }
        state.previousLearningRate = lr
    }

    /// The update of SGD or Adam on `grad`, clipped first if `config.gradClip` asks.
    @inline(__always)
    private func clipAndUpdate<G: GradientSource>(_ w: UnsafeMutablePointer<Float>, _ grad: G, _ state: OptimizerState,
                                                  _ lr: Float, _ parameterScale: Float) {
        if let factor = clipFactor(grad) {
            update(w, ClippedGradient(base: grad, factor: factor), state, lr, parameterScale)
        } else {
            update(w, grad, state, lr, parameterScale)
        }
    }

    @inline(__always)
    private func update<G: GradientSource>(_ w: UnsafeMutablePointer<Float>, _ grad: G, _ state: OptimizerState,
                                           _ lr: Float, _ parameterScale: Float) {
        if config.kind.isAdaptive {
            state.stepCount += 1
            AdamKernel(config: config, learningRate: lr, step: state.stepCount, parameterScale: parameterScale)
                .apply(w: w, grad: grad, m: state.momentum.pointer, v: state.secondMoment!.pointer, count: layout.count)
        } else {
            momentumKernel(state: state, learningRate: lr, parameterScale: parameterScale)
                .apply(w: w, grad: grad, u: state.momentum.pointer, count: layout.count, decay: config.weightDecay, gradScale: 1)
        }
    }

    /// LARS: per slot, the divided (and clipped) gradient in place, its local rate, the momentum update.
    private func stepLARS(parameters: UnsafeMutablePointer<Float>, gradients: UnsafeMutablePointer<Float>,
                          state: OptimizerState, learningRate lr: Float, gradientDivisor: Float, reciprocal: Float?,
                          clip: Float?, parameterScale: Float) {
        let kernel = momentumKernel(state: state, learningRate: lr, parameterScale: parameterScale)
        let u = state.momentum.pointer
        for s in 0..<slotOffsets.count {
            let o = slotOffsets[s], n = slotCounts[s]
            let g = gradients + o
            // The slot is then in cache for the norms and the update.
            if gradientDivisor != 1 {
                if let reciprocal { for i in 0..<n { g[i] *= reciprocal } } else { for i in 0..<n { g[i] /= gradientDivisor } }
            }
            if let clip { for i in 0..<n { g[i] *= clip } }
            let scale = larsLocalRate(w: parameters + o, grad: g, count: n, learningRate: lr)
            kernel.apply(w: parameters + o, grad: ScaledGradient(values: g, factor: 1), u: u + o,
                         count: n, decay: config.weightDecay, gradScale: scale)
        }
    }

    /// The momentum kernel of this step: its correction c = lr / previous lr (`.goyal` form, on).
    private func momentumKernel(state: OptimizerState, learningRate lr: Float, parameterScale: Float) -> MomentumKernel {
        var correction: Float = 1
        if config.momentumForm == .goyal, config.momentumCorrection, let previous = state.previousLearningRate, previous != 0 {
            correction = lr / previous
        }
        return MomentumKernel(
            learningRate: lr, momentum: config.momentum, bufferScale: config.momentum * correction,
            nesterov: config.nesterov, parameterScale: parameterScale, form: config.momentumForm)
    }

    /// PyTorch's `clip_grad_norm_` factor c / (‖g‖ + 10⁻⁶) of the whole (divided) gradient, the
    /// norm summed in `Double` in index order and rounded to `Float`; nil when clipping is off
    /// or the factor is at least 1 (PyTorch then multiplies by 1, which changes nothing).
    func clipFactor<G: GradientSource>(_ grad: G) -> Float? {
        guard let c = config.gradClip, c > 0 else { return nil }
        var sum: Double = 0
        for i in 0..<layout.count {
            let x = Double(grad[i])
            sum += x * x
        }
        let factor = c / (Float(sum.squareRoot()) + 1e-6)
        return factor < 1 ? factor : nil
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

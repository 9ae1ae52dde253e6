import Optim

/// DiLoCo (Douillard et al. 2023, Algorithm 1): each of the K workers takes H inner steps with
/// its own optimizer (AdamW in the paper; `--optimizer`), then the outer optimizer takes one step
/// on the averaged pseudo-gradient Δ = x₀ − x̄ from the previous outer weights x₀, and every
/// worker restarts from the result. An `OuterOptimization` with `PseudoGradient.difference` and
/// an outer learning rate of its own (`--outer-lr`, `--outer-lr-schedule`); the inner optimizers'
/// states stay per worker (`--momentum-sync local`), as in the paper.
///
/// Outer optimizers (`OuterOptimizerKind`), in PyTorch's semantics, no weight decay:
/// - `sgd`: u ← μ·u + Δ, x₀ ← x₀ − η·u. At η = 1, μ = 0 the new x₀ is x̄: plain averaging, bitwise
///   local SGD (FedAvg).
/// - `nesterov`: u ← μ·u + Δ, x₀ ← x₀ − η·(μ·u + Δ): the paper's choice (η = 0.7, μ = 0.9).
/// - `adam`: Adam on Δ (FedOpt's server Adam, Reddi et al. 2021), β₁ = μ.
///
/// Against SlowMo (`SlowMo.swift`, pseudo-gradient Δ/γ at rate α·γ): with a constant inner rate γ,
/// DiLoCo with outer heavy-ball `sgd` (η = α, μ = β) is SlowMo(α, β), bitwise when γ is a power
/// of two. Under a decaying γ they part: SlowMo's outer step shrinks with γ and its buffer sums
/// Δ/γ, so late pseudo-gradients (small γ, small Δ) weigh as much as early ones; DiLoCo's outer
/// step keeps its own rate.
///
/// With `--streaming-fragments P > 1` or `--streaming-overlap τ > 0` it is Streaming DiLoCo
/// (`StreamingDiLoCo.swift`).
extension AlgorithmKind {
    public static let diloco = AlgorithmKind(named: "diloco")
}

/// DiLoCo's outer optimizer, as `--outer-optimizer` spells it.
public enum OuterOptimizerKind: String, Codable, CaseIterable, Sendable {
    case sgd, nesterov, adam

    /// η when `--outer-lr` is not given: 1 for sgd (with μ = 0, plain averaging), 0.7 for
    /// nesterov (DiLoCo), 10⁻³ for adam (PyTorch's Adam default; Adam's step is about η per
    /// weight whatever the size of Δ, so tune it to the weights' scale).
    public var defaultLearningRate: Float {
        switch self {
        case .sgd: return 1
        case .nesterov: return 0.7
        case .adam: return 1e-3
        }
    }

    /// μ (Adam's β₁) when `--outer-momentum` is not given: 0 for sgd, 0.9 otherwise.
    public var defaultMomentum: Float { self == .sgd ? 0 : 0.9 }
}

extension AlgorithmConfig {
    /// DiLoCo's outer learning rate η: `outerLr`, else the outer optimizer's default.
    public var resolvedOuterLr: Float { outerLr ?? outerOptimizer.defaultLearningRate }

    /// DiLoCo's outer optimizer as an `Optimizer` configuration: PyTorch's form, no weight decay.
    public var dilocoOuterOptimizer: OptimizerConfig {
        let momentum = outerMomentum ?? outerOptimizer.defaultMomentum
        switch outerOptimizer {
        case .sgd, .nesterov:
            return AlgorithmConfig.outerOptimizer(momentum: momentum, nesterov: outerOptimizer == .nesterov)
        case .adam:
            var c = OptimizerConfig()
            c.kind = .adam
            c.beta1 = momentum
            c.weightDecay = 0
            return c
        }
    }
}

enum DiLoCoBuilder {
    static let build: AlgorithmKind.Builder = { c, workers, parameterCount in
        if c.isStreaming { return c.streamingDiLoCo(parameterCount: parameterCount) }
        let start = c.switchStep ?? 0
        let inner = PostLocalSGD(switchStep: start, averaging: c.averaging(levels: c.levels(workers: workers), firstStep: start))
        let rate = OuterLearningRate(base: c.resolvedOuterLr, schedule: c.outerLrSchedule, totalSteps: c.totalSteps ?? 0)
        return OuterOptimization(inner: inner, parameterCount: parameterCount, outer: c.dilocoOuterOptimizer,
                                 pseudoGradient: .difference, rate: .schedule(rate), stateKey: "outer")
    }
}

import Optim

/// Slow momentum (Wang et al. 2020, Algorithm 1): an `OuterOptimization` whose pseudo-gradient is
/// d = (x₀ − x̄)/γ and whose outer rate is α·γ, γ the current inner learning rate. The study's outer
/// optimizer (`AlgorithmConfig.slowmoOuterOptimizer`) is SGD in PyTorch's form with momentum β and
/// no weight decay:
///   u ← β·u + d;   x₀ ← x₀ − α·γ·u   (heavy ball), or
///   x₀ ← x₀ − α·γ·(β·u + d) with the new u (outer Nesterov, `--slowmo-nesterov`).
/// α = 1, β = 0 is the inner strategy unchanged. With one worker the "average" is that worker's
/// weights after H steps, and β = 0 gives x ← x₀ + α·(x − x₀): Lookahead (Zhang et al. 2019), as
/// Wang et al. note; β > 0 adds the slow momentum on the same pseudo-gradient. With a constant
/// γ this is DiLoCo with outer heavy-ball SGD at rate α (`DiLoCo.swift`).
public typealias SlowMo = OuterOptimization

extension OuterOptimization {
    /// SlowMo over `inner` with slow learning rate α = `slowLearningRate` and the outer
    /// optimizer `outer` (normally `AlgorithmConfig.slowmoOuterOptimizer`).
    public convenience init(inner: PostLocalSGD, parameterCount: Int, slowLearningRate: Float, outer: OptimizerConfig) {
        self.init(inner: inner, parameterCount: parameterCount, outer: outer, pseudoGradient: .perInnerRate,
                  rate: .timesInnerRate(slowLearningRate), stateKey: "slowmo")
    }

    /// The study's SlowMo with slow momentum β (`AlgorithmConfig.outerOptimizer(momentum:nesterov:)`).
    public convenience init(inner: PostLocalSGD, parameterCount: Int, slowLearningRate: Float, slowMomentum: Float,
                            nesterov: Bool = false) {
        self.init(inner: inner, parameterCount: parameterCount, slowLearningRate: slowLearningRate,
                  outer: AlgorithmConfig.outerOptimizer(momentum: slowMomentum, nesterov: nesterov))
    }
}

extension AlgorithmKind {
    /// Local averaging followed by a slow-momentum outer step at each global average (Wang et al. 2020).
    public static let slowmo = AlgorithmKind(named: "slowmo")
}

enum SlowMoBuilder {
    static let build: AlgorithmKind.Builder = { c, workers, parameterCount in
        let start = c.switchStep ?? 0
        let inner = PostLocalSGD(switchStep: start, averaging: c.averaging(levels: c.levels(workers: workers), firstStep: start))
        return SlowMo(inner: inner, parameterCount: parameterCount, slowLearningRate: c.slowmoLr,
                      outer: c.slowmoOuterOptimizer)
    }
}

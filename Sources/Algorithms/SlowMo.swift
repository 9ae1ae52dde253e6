import Comm
import Optim
import Tensor

/// Slow momentum (Wang et al. 2020, Algorithm 1), applied after every global weight average of an
/// inner periodic-averaging strategy. With x₀ the weights after the previous global
/// synchronization (the anchor), x̄ the fresh average and γ the current learning rate, the outer
/// step is one step of an ordinary `Optimizer` (the outer optimizer, a config value) at learning
/// rate α·γ on the pseudo-gradient d = (x₀ − x̄)/γ, applied to x₀; then every worker's weights
/// become x₀. The study's outer optimizer (`AlgorithmConfig.outerOptimizer`) is SGD in PyTorch's
/// form with momentum β and no weight decay:
///   u ← β·u + d;   x₀ ← x₀ − α·γ·u   (heavy ball), or
///   x₀ ← x₀ − α·γ·(β·u + d) with the new u (outer Nesterov, DiLoCo-style).
/// α = 1, β = 0 is the inner strategy unchanged. With one worker the "average" is that worker's
/// weights after H steps, and β = 0 gives x ← x₀ + α·(x − x₀): Lookahead (Zhang et al. 2019), as
/// Wang et al. note; β > 0 adds the slow momentum on the same pseudo-gradient.
public final class SlowMo: SyncStrategy {
    public let inner: PostLocalSGD
    /// α, the slow learning rate: the outer step's learning rate is α·γ.
    public let slowLearningRate: Float
    /// The outer optimizer over one slot of `count` floats.
    public let outer: Optimizer
    private let count: Int
    /// The outer optimizer's state (u, the slow momentum buffer), x₀ the anchor and d the
    /// pseudo-gradient: identical on every worker, kept once.
    private let outerState: OptimizerState
    private let anchor: FloatBuffer
    private let pseudoGradient: FloatBuffer
    private var anchorSet = false

    /// `inner` with `switchStep` 0 is plain local (or hierarchical) SGD under SlowMo; `outer` should
    /// have passed `validate()`.
    public init(inner: PostLocalSGD, parameterCount: Int, slowLearningRate: Float, outer: OptimizerConfig) {
        self.inner = inner
        self.slowLearningRate = slowLearningRate
        var layout = ParameterLayout()
        layout.append(name: "slowmo", shape: [parameterCount], role: .bias)
        self.outer = Optimizer(layout: layout, config: outer)
        count = parameterCount
        outerState = OptimizerState(count: parameterCount)
        anchor = FloatBuffer(count: parameterCount)
        pseudoGradient = FloatBuffer(count: parameterCount)
    }

    /// The study's outer optimizer with slow momentum β (`AlgorithmConfig.outerOptimizer(momentum:nesterov:)`).
    public convenience init(inner: PostLocalSGD, parameterCount: Int, slowLearningRate: Float, slowMomentum: Float,
                            nesterov: Bool = false) {
        self.init(inner: inner, parameterCount: parameterCount, slowLearningRate: slowLearningRate,
                  outer: AlgorithmConfig.outerOptimizer(momentum: slowMomentum, nesterov: nesterov))
    }

    public var syncs: Int { inner.syncs }

    public func plan(step: Int, workers: Int) -> SyncPlan { inner.plan(step: step, workers: workers) }

    public func afterBackward(_ c: SyncContext) throws {
        // The weights at the start of the local phase are the first anchor (all workers agree:
        // they start equal and the minibatch phase keeps them equal).
        if !anchorSet && inner.isLocalPhase(c.step) {
            anchor.pointer.update(from: c.workers.parameters[0], count: count)
            anchorSet = true
        }
        try inner.afterBackward(c)
    }

    public func afterStep(_ c: SyncContext) throws {
        try inner.afterStep(c)
        guard inner.averaging.lastGlobalAverageStep == c.step, anchorSet else { return }
        outerStep(average: c.workers.parameters[0], learningRate: c.learningRate)
        for p in c.workers.parameters { p.update(from: anchor.pointer, count: count) }
    }

    /// x₀ ← one outer-optimizer step from x₀ on d = (x₀ − x̄)/γ at learning rate α·γ, where x̄ is
    /// `average` (`count` floats) and γ `learningRate`.
    func outerStep(average: UnsafePointer<Float>, learningRate gamma: Float) {
        let x0 = anchor.pointer, d = pseudoGradient.pointer
        for i in 0..<count { d[i] = (x0[i] - average[i]) / gamma }
        outer.step(parameters: x0, gradients: d, state: outerState, learningRate: slowLearningRate * gamma)
    }

    public func saveState() -> StrategyState {
        var s = inner.saveState()
        s.buffers["slowmo.u"] = outerState.momentum.array
        if anchorSet { s.buffers["slowmo.x0"] = anchor.array }
        return s
    }

    public func restoreState(_ state: StrategyState) throws {
        try inner.restoreState(state)
        guard let u = state.buffers["slowmo.u"], u.count == count else {
            throw StrategyError("checkpoint has no SlowMo momentum buffer of \(count) values")
        }
        u.withUnsafeBufferPointer { outerState.momentum.pointer.update(from: $0.baseAddress!, count: count) }
        if let x0 = state.buffers["slowmo.x0"] {
            guard x0.count == count else { throw StrategyError("checkpoint's SlowMo anchor has \(x0.count) values, expected \(count)") }
            x0.withUnsafeBufferPointer { anchor.pointer.update(from: $0.baseAddress!, count: count) }
            anchorSet = true
        } else {
            anchorSet = false
        }
    }
}

extension AlgorithmKind {
    /// Local averaging followed by a slow-momentum outer step at each global average (Wang et al. 2020).
    public static let slowmo = AlgorithmKind(named: "slowmo")
}

extension SlowMo {
    static let build: AlgorithmKind.Builder = { c, workers, parameterCount in
        let start = c.switchStep ?? 0
        let inner = PostLocalSGD(switchStep: start, averaging: c.averaging(levels: c.levels(workers: workers), firstStep: start))
        return SlowMo(inner: inner, parameterCount: parameterCount, slowLearningRate: c.slowmoLr,
                      outer: c.outerOptimizer)
    }
}

import Comm
import Tensor

/// Slow momentum (Wang et al. 2020), applied after every global weight average of an inner
/// periodic-averaging strategy. With x₀ the weights after the previous global synchronization
/// and x̄ the fresh average, γ the current learning rate:
///   u ← β·u + (x₀ − x̄)/γ;   x ← x₀ − α·γ·u   (heavy ball), or
///   x ← x₀ − α·γ·(β·u + (x₀ − x̄)/γ) with the new u (outer Nesterov, DiLoCo-style);
/// then x₀ ← x. α = 1, β = 0 is the inner strategy unchanged. With one worker the "average" is
/// that worker's weights after H steps, and β = 0 gives x ← x₀ + α·(x − x₀): Lookahead (Zhang et
/// al. 2019), as Wang et al. note; β > 0 adds the slow momentum on the same pseudo-gradient.
public final class SlowMo: SyncStrategy {
    public let inner: PostLocalSGD
    public let slowLearningRate: Float
    public let slowMomentum: Float
    public let nesterov: Bool
    private let count: Int
    /// u, the slow momentum buffer, and x₀, the anchor: identical on every worker, kept once.
    private let momentum: FloatBuffer
    private let anchor: FloatBuffer
    private var anchorSet = false

    /// `inner` with `switchStep` 0 is plain local (or hierarchical) SGD under SlowMo.
    public init(inner: PostLocalSGD, parameterCount: Int, slowLearningRate: Float, slowMomentum: Float,
                nesterov: Bool = false) {
        self.inner = inner
        self.slowLearningRate = slowLearningRate
        self.slowMomentum = slowMomentum
        self.nesterov = nesterov
        count = parameterCount
        momentum = FloatBuffer(count: parameterCount)
        anchor = FloatBuffer(count: parameterCount)
    }

    public var syncs: Int { inner.syncs }
    public func gradientDivisor(step: Int, workers: Int) -> Float { inner.gradientDivisor(step: step, workers: workers) }
    public func parameterScale(step: Int, workers: Int) -> Float { inner.parameterScale(step: step, workers: workers) }

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
        let x0 = anchor.pointer, u = momentum.pointer, average = c.workers.parameters[0]
        let gamma = c.learningRate, beta = slowMomentum, alphaGamma = slowLearningRate * c.learningRate
        for i in 0..<count {
            let d = (x0[i] - average[i]) / gamma
            u[i] = beta * u[i] + d
            x0[i] -= alphaGamma * (nesterov ? beta * u[i] + d : u[i])
        }
        for p in c.workers.parameters { p.update(from: x0, count: count) }
    }

    public func saveState() -> StrategyState {
        var s = inner.saveState()
        s.buffers["slowmo.u"] = momentum.array
        if anchorSet { s.buffers["slowmo.x0"] = anchor.array }
        return s
    }

    public func restoreState(_ state: StrategyState) throws {
        try inner.restoreState(state)
        guard let u = state.buffers["slowmo.u"], u.count == count else {
            throw StrategyError("checkpoint has no SlowMo momentum buffer of \(count) values")
        }
        u.withUnsafeBufferPointer { momentum.pointer.update(from: $0.baseAddress!, count: count) }
        if let x0 = state.buffers["slowmo.x0"] {
            guard x0.count == count else { throw StrategyError("checkpoint's SlowMo anchor has \(x0.count) values, expected \(count)") }
            x0.withUnsafeBufferPointer { anchor.pointer.update(from: $0.baseAddress!, count: count) }
            anchorSet = true
        } else {
            anchorSet = false
        }
    }
}

import Foundation
import Comm
import Optim
import Tensor

/// An outer optimizer over periodic averaging: the shared machinery of SlowMo (Wang et al. 2020,
/// Algorithm 1) and DiLoCo (Douillard et al. 2023, Algorithm 1).
///
/// The inner strategy (local, hierarchical or post-local SGD) runs unchanged. At each of its
/// global weight averages, with x₀ the weights after the previous global synchronization (the
/// anchor) and x̄ the fresh average of the K workers, the outer step is one step of an ordinary
/// `Optim.Optimizer` (the outer optimizer) on a pseudo-gradient, applied to x₀; then every
/// worker's weights become the new x₀:
///
///     DiLoCo:  d = x₀ − x̄         (`PseudoGradient.difference`),    outer rate η_outer(t)
///     SlowMo:  d = (x₀ − x̄) / γ   (`PseudoGradient.perInnerRate`), outer rate α·γ
///
/// with γ the inner learning rate of the iteration. With γ constant the two are the same method
/// (SlowMo's momentum buffer is DiLoCo's divided by γ); under a decaying γ, SlowMo's outer step
/// shrinks with the inner rate and its momentum adds pseudo-gradients rescaled by 1/γ, while
/// DiLoCo's outer step follows only its own rate.
///
/// The outer state (the outer optimizer's buffers, the anchor) is identical on every worker and
/// kept once; it is checkpointed under `<stateKey>.…` (`saveState()`).
public final class OuterOptimization: SyncStrategy {
    /// What the outer optimizer steps on.
    public enum PseudoGradient: Sendable {
        /// Δ = x₀ − x̄ (DiLoCo).
        case difference
        /// (x₀ − x̄)/γ, γ the inner learning rate (SlowMo).
        case perInnerRate
    }

    /// The outer learning rate at an outer step.
    public enum OuterRate: Sendable {
        /// α·γ, γ the inner learning rate (SlowMo's slow learning rate α).
        case timesInnerRate(Float)
        /// A schedule of its own over the iterations (DiLoCo's outer rate).
        case schedule(OuterLearningRate)
    }

    public let inner: PostLocalSGD
    /// The outer optimizer over one slot of `count` floats.
    public let outer: Optimizer
    public let pseudoGradientForm: PseudoGradient
    public let rate: OuterRate
    /// Prefix of the checkpointed buffers ("slowmo" keeps SlowMo's older checkpoints readable).
    public let stateKey: String
    private let count: Int
    /// Outer SGD at rate 1 without momentum or decay on Δ: the new x₀ is x̄ itself (x₀ − 1·(x₀ − x̄)
    /// in exact arithmetic), so it is assigned rather than recomputed with a rounding.
    private let isPlainAveraging: Bool
    private let outerState: OptimizerState
    private let anchor: FloatBuffer
    private let pseudoGradient: FloatBuffer
    private var anchorSet = false

    /// `outer` should have passed `validate()`.
    public init(inner: PostLocalSGD, parameterCount: Int, outer: OptimizerConfig, pseudoGradient: PseudoGradient,
                rate: OuterRate, stateKey: String) {
        self.inner = inner
        var layout = ParameterLayout()
        layout.append(name: stateKey, shape: [parameterCount], role: .bias)
        self.outer = Optimizer(layout: layout, config: outer)
        pseudoGradientForm = pseudoGradient
        self.rate = rate
        self.stateKey = stateKey
        count = parameterCount
        if case .schedule(let r) = rate, pseudoGradient == .difference {
            isPlainAveraging = Self.isPlainAveraging(rate: r, outer: outer)
        } else {
            isPlainAveraging = false
        }
        outerState = OptimizerState(count: parameterCount, kind: outer.kind)
        anchor = FloatBuffer(count: parameterCount)
        self.pseudoGradient = FloatBuffer(count: parameterCount)
    }

    public var syncs: Int { inner.syncs }

    /// x₀, the weights after the last global synchronization, once the local phase has begun
    /// (nil before): where a worker that joins starts, so that its pseudo-gradient starts at zero.
    public var anchorWeights: UnsafePointer<Float>? { anchorSet ? UnsafePointer(anchor.pointer) : nil }

    /// Whether an outer step on Δ = x₀ − x̄ at `rate` is plain averaging: SGD at a constant rate
    /// 1 without momentum or decay, whose new x₀ is x̄ itself (x₀ − 1·(x₀ − x̄) in exact
    /// arithmetic), assigned rather than recomputed with a rounding.
    static func isPlainAveraging(rate: OuterLearningRate, outer: OptimizerConfig) -> Bool {
        rate.isConstant && rate.base == 1 && outer.kind == .sgd && outer.momentum == 0 && outer.weightDecay == 0
    }

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
        if let compression = c.compression, c.communicator.workers > 1, anchorSet,
           case .averageWeights(_, true) = inner.plan(step: c.step, workers: c.communicator.workers) {
            return try compressedOuterStep(c, compression)
        }
        try inner.afterStep(c)
        guard inner.averaging.lastGlobalAverageStep == c.step, anchorSet else { return }
        outerStep(average: c.workers.parameters[0], step: c.step, innerRate: c.learningRate)
        for p in c.workers.parameters { p.update(from: anchor.pointer, count: count) }
        c.recorder?.didOuterStep(c, momentum: outerState.momentum.pointer)
    }

    /// `--compress`: every worker sends its pseudo-gradient x₀ − x_k (computed in place in its
    /// weights), the outer step takes the decoded mean, every worker and anchor becomes the new x₀.
    /// The sync record sees it as the plain path's global average and outer step: the workers'
    /// weights before, the decoded mean x̄ = x₀ − Δ̄ after.
    private func compressedOuterStep(_ c: SyncContext, _ compression: PayloadCompressor) throws {
        let x0 = anchor.pointer, w = c.workers, workers = c.communicator.workers
        c.recorder?.willAverage(c, groupSize: workers)
        for x in w.parameters { for i in 0..<count { x[i] = x0[i] - x[i] } }
        try compression.allReduce(w.parameters, groupSize: workers, stream: .pseudoGradient, communicator: c.communicator)
        let meanDelta = pseudoGradient.pointer
        meanDelta.update(from: w.parameters[0], count: count)
        var exchanged = c
        exchanged.weightsExchanged = true
        exchanged.recorder = nil  // recorded here, around the exchange
        try inner.afterStep(exchanged)
        if let recorder = c.recorder {
            for x in w.parameters { for i in 0..<count { x[i] = x0[i] - meanDelta[i] } }
            recorder.didAverage(c, groupSize: workers)
        }
        outerStep(pseudoGradient: meanDelta, step: c.step, innerRate: c.learningRate)
        for p in w.parameters { p.update(from: x0, count: count) }
        compression.setAnchors(to: x0)
        c.recorder?.didOuterStep(c, momentum: outerState.momentum.pointer)
    }

    /// x₀ ← one outer-optimizer step from x₀ on a pseudo-gradient whose difference part
    /// x₀ − x̄ is given (`delta`, `count` floats).
    func outerStep(pseudoGradient delta: UnsafePointer<Float>, step: Int, innerRate gamma: Float) {
        let d = pseudoGradient.pointer
        switch pseudoGradientForm {
        case .difference: if UnsafePointer(d) != delta { d.update(from: delta, count: count) }
        case .perInnerRate: for i in 0..<count { d[i] = delta[i] / gamma }
        }
        outer.step(parameters: anchor.pointer, gradients: d, state: outerState, learningRate: outerRate(step: step, innerRate: gamma))
    }

    private func outerRate(step: Int, innerRate gamma: Float) -> Float {
        switch rate {
        case .timesInnerRate(let alpha): return alpha * gamma
        case .schedule(let schedule): return schedule.rate(at: step)
        }
    }

    /// x₀ ← one outer-optimizer step from x₀ on the pseudo-gradient of `average` (`count`
    /// floats) at iteration `step` with inner learning rate `gamma`.
    func outerStep(average: UnsafePointer<Float>, step: Int, innerRate gamma: Float) {
        let x0 = anchor.pointer, d = pseudoGradient.pointer
        if isPlainAveraging {
            x0.update(from: average, count: count)
            return
        }
        let lr: Float
        switch pseudoGradientForm {
        case .difference: for i in 0..<count { d[i] = x0[i] - average[i] }
        case .perInnerRate: for i in 0..<count { d[i] = (x0[i] - average[i]) / gamma }
        }
        switch rate {
        case .timesInnerRate(let alpha): lr = alpha * gamma
        case .schedule(let schedule): lr = schedule.rate(at: step)
        }
        outer.step(parameters: x0, gradients: d, state: outerState, learningRate: lr)
    }

    public func saveState() -> StrategyState {
        var s = inner.saveState()
        s.buffers["\(stateKey).u"] = outerState.momentum.array
        if anchorSet { s.buffers["\(stateKey).x0"] = anchor.array }
        if let v = outerState.secondMoment {
            s.buffers["\(stateKey).v"] = v.array
            s.counters = (s.counters ?? [:]).merging(["\(stateKey).t": outerState.stepCount]) { $1 }
        }
        return s
    }

    public func restoreState(_ state: StrategyState) throws {
        try inner.restoreState(state)
        guard let u = state.buffers["\(stateKey).u"], u.count == count else {
            throw StrategyError("checkpoint has no \(stateKey) outer-optimizer buffer of \(count) values")
        }
        u.withUnsafeBufferPointer { outerState.momentum.pointer.update(from: $0.baseAddress!, count: count) }
        if let v = outerState.secondMoment {
            guard let saved = state.buffers["\(stateKey).v"], saved.count == count, let t = state.counters?["\(stateKey).t"] else {
                throw StrategyError("checkpoint has no outer Adam second moment of \(count) values and step count")
            }
            saved.withUnsafeBufferPointer { v.pointer.update(from: $0.baseAddress!, count: count) }
            outerState.stepCount = t
        }
        if let x0 = state.buffers["\(stateKey).x0"] {
            guard x0.count == count else {
                throw StrategyError("checkpoint's \(stateKey) anchor has \(x0.count) values, expected \(count)")
            }
            x0.withUnsafeBufferPointer { anchor.pointer.update(from: $0.baseAddress!, count: count) }
            anchorSet = true
        } else {
            anchorSet = false
        }
    }
}

/// DiLoCo's outer learning rate over the iterations: constant, or a half-cosine from `base` to 0
/// over `totalSteps` iterations (evaluated at the iteration of each outer step).
public struct OuterLearningRate: Equatable, Sendable {
    public var base: Float
    public var schedule: OuterLRSchedule
    /// Iterations of the whole run (the cosine's length); unused when constant.
    public var totalSteps: Int

    public init(base: Float, schedule: OuterLRSchedule = .constant, totalSteps: Int = 0) {
        self.base = base
        self.schedule = schedule
        self.totalSteps = totalSteps
    }

    public var isConstant: Bool { schedule == .constant }

    /// η_outer at 0-based iteration `step`: `base`, or base·(1 + cos(π·(step+1)/totalSteps))/2
    /// (the rate after step + 1 of totalSteps iterations; 0 at the last one).
    public func rate(at step: Int) -> Float {
        switch schedule {
        case .constant: return base
        case .cosine:
            let progress = min(1, Double(step + 1) / Double(max(1, totalSteps)))
            return Float(Double(base) * (1 + cos(Double.pi * progress)) / 2)
        }
    }
}

/// The shape of DiLoCo's outer learning rate over the run.
public enum OuterLRSchedule: String, Codable, CaseIterable, Sendable {
    case constant, cosine
}

import Optim

/// What happens to BatchNorm running statistics when weights are averaged.
public enum BatchNormSync: String, Codable, CaseIterable, Sendable {
    /// Averaged like the weights (default).
    case average
    /// Each worker keeps its own.
    case local
    /// Worker 0's statistics are copied to all (global synchronizations only; groups average).
    case first
}

/// What happens to the base optimizer's momentum buffers when weights are averaged.
public enum MomentumSync: String, Codable, CaseIterable, Sendable {
    /// Kept per worker (the study's choice, §3).
    case local
    /// Zeroed.
    case reset
    /// Averaged like the weights.
    case average
}

/// Settings of a synchronization strategy, in the study's notation. It has no defaults: a run's
/// are those of its config's algorithm section (`RunConfig.algorithmConfig(stepsPerEpoch:)` sets
/// every field), so none can drift from them here.
public struct AlgorithmConfig: Codable, Equatable, Sendable {
    public var kind: AlgorithmKind
    /// H, local steps between weight averages.
    public var localSteps: Int
    /// For post-local SGD (and SlowMo on top of it): the first iteration of the local phase.
    /// 0 means local from the start; nil means never (minibatch throughout).
    public var switchStep: Int?
    /// Group sizes of the hierarchy, innermost first; each divides the next and K.
    public var groupSizes: [Int]
    /// For each group level after the first: how many of the previous level's periods make one
    /// of this level's (H_b); the last entry is for the global level.
    public var levelMultipliers: [Int]
    /// α, the slow learning rate.
    public var slowLearningRate: Float
    /// SlowMo's outer optimizer (Wang et al. 2020): one step of it at learning rate α·γ on the
    /// pseudo-gradient (x₀ − x̄)/γ at every global average. The study's is SGD in PyTorch's form
    /// with slow momentum β, heavy ball or Nesterov, no weight decay (`outerOptimizer(momentum:nesterov:)`).
    public var outerOptimizer: OptimizerConfig
    /// β, the slow momentum: the outer optimizer's momentum.
    public var slowMomentum: Float {
        get { outerOptimizer.momentum }
        set { outerOptimizer.momentum = newValue }
    }
    /// Outer Nesterov (DiLoCo-style) instead of heavy-ball slow momentum: the outer optimizer's.
    public var slowNesterov: Bool {
        get { outerOptimizer.nesterov }
        set { outerOptimizer.nesterov = newValue }
    }
    public var batchNormSync: BatchNormSync
    public var momentumSync: MomentumSync

    /// Every setting given; the outer optimizer is the study's with slow momentum β = `slowMomentum`.
    public init(kind: AlgorithmKind, localSteps: Int, switchStep: Int?, groupSizes: [Int], levelMultipliers: [Int],
                slowLearningRate: Float, slowMomentum: Float, slowNesterov: Bool,
                batchNormSync: BatchNormSync, momentumSync: MomentumSync) {
        self.kind = kind
        self.localSteps = localSteps
        self.switchStep = switchStep
        self.groupSizes = groupSizes
        self.levelMultipliers = levelMultipliers
        self.slowLearningRate = slowLearningRate
        self.outerOptimizer = AlgorithmConfig.outerOptimizer(momentum: slowMomentum, nesterov: slowNesterov)
        self.batchNormSync = batchNormSync
        self.momentumSync = momentumSync
    }

    /// SlowMo's outer optimizer with slow momentum β: u ← β·u + d, x₀ ← x₀ − lr·u (or Nesterov),
    /// SGD in PyTorch's form (`MomentumForm.pytorch`), no weight decay, no momentum correction.
    public static func outerOptimizer(momentum beta: Float, nesterov: Bool) -> OptimizerConfig {
        var c = OptimizerConfig()
        c.kind = .sgd
        c.momentum = beta
        c.nesterov = nesterov
        c.weightDecay = 0
        c.momentumCorrection = false
        c.momentumForm = .pytorch
        return c
    }
}

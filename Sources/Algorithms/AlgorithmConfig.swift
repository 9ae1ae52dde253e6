import Comm
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

/// Settings of a synchronization strategy, in the study's notation: the algorithm section of a
/// run's config (`[algorithm]`, `RunConfig.algorithm`), and the only copy of their defaults.
/// Ranges are checked where values enter (the config's field table); `validate(workers:)` checks
/// how they fit together and K.
public struct AlgorithmConfig: Equatable, Sendable {
    public var kind: AlgorithmKind = .minibatch
    /// K, 1 to 1024 (for async: N·P, or left at 1).
    public var workers: Int = 1
    /// H, local steps between weight averages, 1 to 10^6; with a schedule, its first H (what
    /// summaries, reports and async read as one number).
    public var localSteps: Int = 1
    /// An H schedule over the run (`--local-steps 1@0,4@2e`); nil: H is `localSteps` throughout.
    public var localStepsSchedule: [LocalStepsPoint]? = nil
    /// The Quadratic Synchronization Rule's α (`AveragingSchedule`), greater than 0; nil: H
    /// follows `--local-steps` alone.
    public var qsrAlpha: Float? = nil
    /// Dynamic Local Updates (DyLU; Liu et al. 2024, eq. 6): in each period of H iterations worker k
    /// takes H_k = max(1, ⌊H·v_k / max_j v_j⌋) local steps, v its `--worker-speeds`, and waits out
    /// the rest (`DynamicLocalSteps`); false: every worker takes all H.
    public var dynamicLocalSteps: Bool = false
    /// Post-local SGD (and SlowMo on top of it): the epoch (0 to `epochs`) at which local SGD starts.
    public var switchEpoch: Int? = nil
    /// The iteration at which local SGD starts (instead of `switchEpoch`); 0: from the start;
    /// neither: local from the start, or minibatch throughout for post-local SGD.
    public var switchStep: Int? = nil
    /// Hierarchical: workers per group, innermost first, each dividing the next and K (at most 8 levels).
    public var groupSize: [Int] = []
    /// Hierarchical: for each group level after the first, how many of the previous level's
    /// periods make one of this level's (H_b); the last entry is for the global level.
    public var globalEvery: [Int] = []
    /// SlowMo's slow learning rate α, greater than 0, at most 1000.
    public var slowmoLr: Float = 1
    /// SlowMo's slow momentum β, at least 0, under 1: its outer optimizer's momentum.
    public var slowmoMomentum: Float = 0.5
    /// Outer Nesterov (DiLoCo-style) instead of heavy-ball slow momentum.
    public var slowmoNesterov: Bool = false
    /// DiLoCo's outer optimizer (`OuterOptimizerKind`).
    public var outerOptimizer: OuterOptimizerKind = .nesterov
    /// DiLoCo's outer learning rate, greater than 0, at most 1000; nil: the outer optimizer's default
    /// (`OuterOptimizerKind.defaultLearningRate`).
    public var outerLr: Float? = nil
    /// DiLoCo's outer momentum (Adam's β₁), at least 0, under 1; nil: the outer optimizer's default.
    public var outerMomentum: Float? = nil
    /// The shape of DiLoCo's outer learning rate over the run.
    public var outerLrSchedule: OuterLRSchedule = .constant
    /// Streaming DiLoCo's P (`StreamingDiLoCo`): fragments of the parameters, each synchronized
    /// every H steps at its own offset, 1 to 1024 and at most the model's layers; 1: plain DiLoCo.
    public var streamingFragments: Int = 1
    /// Streaming DiLoCo's τ: iterations between starting a fragment's synchronization and
    /// applying its result, 0 to H − 1; 0: applied at once.
    public var streamingOverlap: Int = 0
    /// Streaming DiLoCo's mixing factor α in [0, 1] (with τ > 0): a worker's fragment becomes
    /// α·local + (1 − α)·global; nil: `StreamingDiLoCo.defaultMix` (0.5, the paper's).
    public var streamingMix: Float? = nil
    /// The model's layers as ranges of the flat parameter buffer (`ParameterLayout.layerRanges`),
    /// what Streaming DiLoCo's fragments are made of; set by `makeStrategy`, not a setting.
    public var layerRanges: [Range<Int>]? = nil
    /// Iterations of the whole run, for the outer cosine schedule; set by `makeStrategy`, not a setting.
    public var totalSteps: Int? = nil
    /// When the local phase averages under a schedule or QSR; set by `makeStrategy`, not a setting.
    public var averagingSchedule: AveragingSchedule? = nil
    /// What happens to BatchNorm statistics at an average.
    public var bnSync: BatchNormSync = .average
    /// What happens to the base optimizer's momentum at an average.
    public var momentumSync: MomentumSync = .local
    /// The codec of gradients, weight deltas and pseudo-gradients (`PayloadCodec`); none: Floats.
    public var compress: PayloadCodecKind = .none
    /// Top-k: the fraction of each chunk kept, in (0, 1].
    public var compressRatio: Double = 0.01
    /// Error feedback on the compressed payloads (a residual per worker); needs a codec.
    public var errorFeedback: Bool = false

    public init() {}

    /// `--local-steps` as one value: `localSteps` and `localStepsSchedule` together (the field
    /// table's key path for `local_steps`).
    public var localStepsSetting: LocalStepsSetting {
        get { localStepsSchedule.map { .schedule($0) } ?? .constant(localSteps) }
        set {
            localSteps = newValue.first
            if case .schedule(let points) = newValue { localStepsSchedule = points } else { localStepsSchedule = nil }
        }
    }

    /// Whether DiLoCo streams (`StreamingDiLoCo`): more than one fragment, or an overlap.
    public var isStreaming: Bool { streamingFragments != 1 || streamingOverlap != 0 }

    /// Whether H varies over the run (a schedule or QSR), so the averages follow an `AveragingSchedule`.
    public var hasVaryingLocalSteps: Bool { localStepsSchedule != nil || qsrAlpha != nil }

    /// The first iteration of the local phase: `switchStep`, else `switchEpoch` epochs of
    /// `stepsPerEpoch` iterations; nil when neither is given.
    public func switchIteration(stepsPerEpoch: Int) -> Int? {
        switchStep ?? switchEpoch.map { $0 * stepsPerEpoch }
    }

    /// SlowMo's outer optimizer (Wang et al. 2020): one step of it at learning rate α·γ on the
    /// pseudo-gradient (x₀ − x̄)/γ at every global average; the study's, with slow momentum β.
    public var slowmoOuterOptimizer: OptimizerConfig {
        AlgorithmConfig.outerOptimizer(momentum: slowmoMomentum, nesterov: slowmoNesterov)
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

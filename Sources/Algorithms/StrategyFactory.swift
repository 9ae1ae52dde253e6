import Comm
import Optim

extension AlgorithmConfig {
    /// Checks the settings against K workers; throws a sentence naming the field.
    public func validate(workers: Int) throws {
        guard localSteps >= 1 else { throw StrategyError("local_steps must be at least 1, got \(localSteps)") }
        if let s = switchStep, s < 0 { throw StrategyError("switch point must not be negative, got \(s)") }
        guard slowmoLr > 0, slowmoLr.isFinite else {
            throw StrategyError("slowmo_lr must be positive, got \(slowmoLr)")
        }
        guard slowmoMomentum >= 0, slowmoMomentum < 1 else {
            throw StrategyError("slowmo_momentum must be in [0, 1), got \(slowmoMomentum)")
        }
        do {
            try slowmoOuterOptimizer.validate()
            try dilocoOuterOptimizer.validate()
        } catch let e as OptimConfigError {
            throw StrategyError("the outer optimizer: \(e)")
        }
        if let lr = outerLr, !(lr > 0 && lr.isFinite) { throw StrategyError("outer_lr must be positive, got \(lr)") }

        var previous = 1
        for g in groupSize {
            guard g >= 1, g % previous == 0, workers % g == 0 else {
                throw StrategyError("group_size \(g) must divide the \(workers) workers and be a multiple of the previous group size \(previous)")
            }
            previous = g
        }
        if kind == .hierarchical && groupSize.isEmpty {
            throw StrategyError("hierarchical needs --group-size G (workers per group), a divisor of the \(workers) workers")
        }
        if let bad = globalEvery.first(where: { $0 < 1 }) {
            throw StrategyError("global_every must be at least 1, got \(bad)")
        }
        if let alpha = qsrAlpha, !(alpha > 0 && alpha.isFinite) { throw StrategyError("qsr_alpha must be positive, got \(alpha)") }
        if compress != .none && levels(workers: workers).count > 1 && (kind == .hierarchical || kind == .postLocal) {
            throw StrategyError("--compress with group levels (--group-size below K): each worker's anchor is its group's last average, so compressed deltas would leave the groups apart after a global average; use it with one level, or with slowmo or diloco, whose outer step resets every anchor")
        }
        if hasVaryingLocalSteps && levels(workers: workers).count > 1 {
            throw StrategyError("a --local-steps schedule or --qsr-alpha times global averages only; with group levels (--group-size below K) the levels' periods would be ambiguous, so give hierarchical a constant --local-steps")
        }
        try validateStreaming(workers: workers)
    }

    /// Streaming DiLoCo's settings: their ranges, and what they cannot be combined with.
    func validateStreaming(workers: Int) throws {
        guard streamingFragments >= 1 else {
            throw StrategyError("--streaming-fragments must be at least 1, got \(streamingFragments)")
        }
        guard streamingOverlap >= 0 else {
            throw StrategyError("--streaming-overlap must be at least 0, got \(streamingOverlap)")
        }
        if let alpha = streamingMix, !(alpha >= 0 && alpha < 1) {
            throw StrategyError("--streaming-mix must be in [0, 1) (at 1 the synchronized fragment would never be applied), got \(alpha)")
        }
        guard isStreaming || streamingMix != nil else { return }
        guard kind == .diloco else {
            throw StrategyError("--streaming-fragments, --streaming-overlap and --streaming-mix are Streaming DiLoCo's: give them with --algorithm diloco, not \(kind)")
        }
        if streamingMix != nil && streamingOverlap == 0 {
            throw StrategyError("--streaming-mix mixes a result that arrives --streaming-overlap steps late: give --streaming-overlap above 0 with it")
        }
        guard localSteps > 1 else {
            throw StrategyError("--streaming-fragments \(streamingFragments) needs --local-steps of at least 2: with H = 1 every fragment's offset ⌊p·H/P⌋ is 0, so all would synchronize at once")
        }
        guard streamingOverlap < localSteps else {
            throw StrategyError("--streaming-overlap must be below --local-steps (\(localSteps)), so a fragment's result arrives before its next synchronization; got \(streamingOverlap)")
        }
        if levels(workers: workers).count > 1 {
            throw StrategyError("Streaming DiLoCo synchronizes fragments across all workers: it takes no --group-size levels")
        }
        if hasVaryingLocalSteps {
            throw StrategyError("Streaming DiLoCo staggers its fragments over a constant H: give a constant --local-steps, without --qsr-alpha")
        }
        if switchStep.map({ $0 > 0 }) ?? false || (switchEpoch ?? 0) > 0 {
            throw StrategyError("Streaming DiLoCo runs local from the start: it takes no --switch-epoch or --switch-step")
        }
        if compress != .none {
            throw StrategyError("Streaming DiLoCo sends its fragments uncompressed: --compress is for the other algorithms (a fragment's pseudo-gradient is not compressed yet)")
        }
        if momentumSync != .local {
            throw StrategyError("Streaming DiLoCo keeps the inner optimizer's state per worker: --momentum-sync must be local with it")
        }
        if let layers = layerRanges, streamingFragments > layers.count {
            throw StrategyError("--streaming-fragments \(streamingFragments) is more than this model's \(layers.count) layers with parameters; each fragment needs at least one, so give at most \(layers.count)")
        }
    }

    /// The averaging levels: each group level, then all K workers.
    func levels(workers: Int) -> [PeriodicAveraging.Level] {
        var result: [PeriodicAveraging.Level] = []
        var period = localSteps
        let groups = groupSize.filter { $0 < workers }
        for (i, g) in groups.enumerated() {
            result.append(.init(groupSize: g, period: period))
            period *= i < globalEvery.count ? globalEvery[i] : 1
        }
        result.append(.init(groupSize: workers, period: period))
        return result
    }

    /// Builds the strategy of `kind` for K = `workers` workers (its builder in `AlgorithmKind.registry`),
    /// the switching epoch counted in iterations of `stepsPerEpoch`; `totalSteps`, the run's
    /// iterations, sets the length of DiLoCo's outer cosine schedule and, with a `--local-steps`
    /// schedule or QSR, of the `AveragingSchedule`; QSR reads the run's (deterministic) learning
    /// rate of each iteration, `learningRate`, and its `warmupSteps`; Streaming DiLoCo makes its
    /// fragments of `layers`, the model's layers as ranges of the flat buffer
    /// (`ParameterLayout.layerRanges`; nil: one layer of all `parameterCount` floats).
    public func makeStrategy(workers: Int, parameterCount: Int, stepsPerEpoch: Int, totalSteps: Int? = nil,
                             learningRate: ((Int) -> Float)? = nil, warmupSteps: Int = 0,
                             layers: [Range<Int>]? = nil) throws -> SyncStrategy {
        var resolved = self
        resolved.layerRanges = layers ?? layerRanges ?? (parameterCount > 0 ? [0..<parameterCount] : [])
        resolved.totalSteps = totalSteps ?? self.totalSteps
        resolved.switchStep = switchIteration(stepsPerEpoch: stepsPerEpoch)
        resolved.switchEpoch = nil
        try resolved.validate(workers: workers)
        resolved.averagingSchedule = try resolved.makeAveragingSchedule(
            firstStep: resolved.switchStep ?? 0, stepsPerEpoch: stepsPerEpoch, totalSteps: resolved.totalSteps,
            learningRate: learningRate, warmupSteps: warmupSteps)
        if kind == .diloco && outerLrSchedule == .cosine && (resolved.totalSteps ?? 0) < 1 {
            throw StrategyError("--outer-lr-schedule cosine needs the run's length in iterations")
        }
        guard let build = AlgorithmKind.registry.first(where: { $0.kind == kind })?.build else {
            throw StrategyError("\(kind) is an execution mode of its own (AsyncTrainer), not a synchronization strategy of the lockstep trainer")
        }
        return build(resolved, workers, parameterCount)
    }

    /// Periodic averaging over `levels` whose periods count from `firstStep`, with this
    /// config's BatchNorm and momentum policies.
    func averaging(levels: [PeriodicAveraging.Level], firstStep: Int) -> PeriodicAveraging {
        PeriodicAveraging(levels: levels, batchNormSync: bnSync, momentumSync: momentumSync, firstStep: firstStep,
                          schedule: averagingSchedule)
    }

    /// Averaging over `levels` from the switching point on (0, the default: from the start),
    /// after a minibatch phase when there is one (post-local SGD).
    func localPhase(levels: [PeriodicAveraging.Level]) -> SyncStrategy {
        let start = switchStep ?? 0
        let averaging = averaging(levels: levels, firstStep: start)
        return start == 0 ? averaging : PostLocalSGD(switchStep: start, averaging: averaging)
    }
}

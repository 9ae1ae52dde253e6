import Comm
import Optim

extension AlgorithmConfig {
    /// Checks the settings against K workers; throws a sentence naming the field.
    public func validate(workers: Int) throws {
        guard localSteps >= 1 else { throw StrategyError("local_steps must be at least 1, got \(localSteps)") }
        if let s = switchStep, s < 0 { throw StrategyError("switch point must not be negative, got \(s)") }
        guard slowLearningRate > 0, slowLearningRate.isFinite else {
            throw StrategyError("slowmo_lr must be positive, got \(slowLearningRate)")
        }
        guard slowMomentum >= 0, slowMomentum < 1 else {
            throw StrategyError("slowmo_momentum must be in [0, 1), got \(slowMomentum)")
        }
        do {
            try outerOptimizer.validate()
        } catch let e as OptimConfigError {
            throw StrategyError("the outer optimizer: \(e)")
        }
        var previous = 1
        for g in groupSizes {
            guard g >= 1, g % previous == 0, workers % g == 0 else {
                throw StrategyError("group_size \(g) must divide the \(workers) workers and be a multiple of the previous group size \(previous)")
            }
            previous = g
        }
        if kind == .hierarchical && groupSizes.isEmpty {
            throw StrategyError("hierarchical needs --group-size G (workers per group), a divisor of the \(workers) workers")
        }
        if let bad = levelMultipliers.first(where: { $0 < 1 }) {
            throw StrategyError("global_every must be at least 1, got \(bad)")
        }
    }

    /// The averaging levels: each group level, then all K workers.
    func levels(workers: Int) -> [PeriodicAveraging.Level] {
        var result: [PeriodicAveraging.Level] = []
        var period = localSteps
        let groups = groupSizes.filter { $0 < workers }
        for (i, g) in groups.enumerated() {
            result.append(.init(groupSize: g, period: period))
            period *= i < levelMultipliers.count ? levelMultipliers[i] : 1
        }
        result.append(.init(groupSize: workers, period: period))
        return result
    }

    /// Builds the strategy for K workers.
    public func makeStrategy(workers: Int, parameterCount: Int) throws -> SyncStrategy {
        try validate(workers: workers)
        let start = kind == .minibatch ? Int.max : (kind == .postLocal ? (switchStep ?? Int.max) : (switchStep ?? 0))
        let averaging = PeriodicAveraging(
            levels: kind == .local ? [.init(groupSize: workers, period: localSteps)] : levels(workers: workers),
            batchNormSync: batchNormSync, momentumSync: momentumSync, firstStep: start == Int.max ? 0 : start)
        switch kind {
        case .minibatch:
            return MinibatchSGD()
        case .local, .hierarchical:
            return start == 0 ? averaging : PostLocalSGD(switchStep: start, averaging: averaging)
        case .postLocal:
            return PostLocalSGD(switchStep: start, averaging: averaging)
        case .slowmo:
            return SlowMo(inner: PostLocalSGD(switchStep: start, averaging: averaging), parameterCount: parameterCount,
                          slowLearningRate: slowLearningRate, outer: outerOptimizer)
        case .async:
            // Its threads and averaging loop do not fit the per-iteration hooks of a strategy.
            throw StrategyError("async runs in its own trainer (AsyncTrainer), not as a synchronization strategy of Trainer")
        }
    }
}

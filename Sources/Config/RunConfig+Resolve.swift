import Algorithms
import Optim

extension RunConfig {
    /// Checks that need no data; each failure names the flag. Every field's own range
    /// (`RunConfig.ranges`) first, then how the fields fit together.
    public func validate() throws {
        func check(_ ok: Bool, _ message: @autoclosure () -> String) throws {
            if !ok { throw ConfigError(message()) }
        }
        if let problem = try rangeProblem(name: { "--" + $0.replacingOccurrences(of: "_", with: "-") }) {
            throw ConfigError(problem)
        }
        if case .epochs(let w) = warmupEpochs {
            try check(w >= 0 && w <= epochs, "--warmup-epochs must be auto or between 0 and --epochs (\(epochs)), got \(w)")
        }
        if case .rate(let r) = maxLr {
            try check(r > 0 && r.isFinite, "--max-lr must be auto, none or a positive rate, got \(r)")
        }
        if let s = switchEpoch {
            try check(s >= 0 && s <= epochs, "--switch-epoch must be between 0 and --epochs (\(epochs)), got \(s)")
        }
        try check(switchEpoch == nil || switchStep == nil, "give either --switch-epoch or --switch-step, not both")
        if algorithm == .postLocal {
            try check(switchEpoch != nil || switchStep != nil,
                      "post-local SGD needs a switching point: --switch-epoch T or --switch-step T")
        }
        let period = globalEvery.reduce((localSteps, false)) { p, h in
            let (product, overflow) = p.0.multipliedReportingOverflow(by: h)
            return (product, p.1 || overflow || product > RunConfig.maxPeriod)
        }
        try check(!period.1, "--local-steps × --global-every (the period of the outermost average) must be at most \(RunConfig.maxPeriod) steps")
        try validateAsync()
        do {
            try optimizerConfig.validate()
            try scheduleConfig.validate()
            var strategy = algorithmConfig(stepsPerEpoch: 1)
            if backend == .mpi && algorithm == .hierarchical && groupSize.isEmpty {
                strategy.groupSizes = [workers] // resolved to the node's workers once MPI is up
            }
            try strategy.validate(workers: workers)
        } catch let e as OptimConfigError {
            throw ConfigError("--\(flagName(e.field)): \(e.description)")
        } catch let e as StrategyError {
            throw ConfigError(e.description)
        }
    }

    private func flagName(_ field: String) -> String {
        let map = ["baseLearningRate": "lr", "kind": "lr-schedule", "decayEpochs": "decay-epochs",
                   "decayFactor": "decay-factor", "warmupEpochs": "warmup-epochs", "epochs": "epochs", "maxLearningRate": "max-lr",
                   "weightDecay": "weight-decay", "momentum": "momentum"]
        return map[field] ?? field
    }

    /// The study's decay points (end of epochs 30, 60, 80 of 90) scaled to the epochs left after
    /// warm-up, as the decay of a warm-up followed by a schedule spans what remains.
    public var resolvedDecayEpochs: [Int] {
        if let given = decayEpochs { return given }
        let warmup = resolvedWarmupEpochs, remaining = Double(epochs - warmup)
        var result: [Int] = []
        for fraction in [30.0, 60.0, 80.0] {
            let e = warmup + Int((fraction / 90 * remaining).rounded())
            if e > warmup && e < epochs && e > (result.last ?? 0) { result.append(e) }
        }
        return result
    }

    public var optimizerConfig: OptimizerConfig {
        var c = OptimizerConfig()
        c.kind = optimizer
        c.momentum = momentum
        c.nesterov = nesterov
        c.weightDecay = weightDecay
        c.momentumCorrection = momentumCorrection
        return c
    }

    public var scheduleConfig: ScheduleConfig {
        var c = ScheduleConfig()
        c.baseLearningRate = lr
        c.kind = lrSchedule
        c.decayEpochs = resolvedDecayEpochs
        c.decayFactor = decayFactor
        c.warmupEpochs = resolvedWarmupEpochs
        c.epochs = epochs
        c.scaleLearningRate = scaleLr
        c.maxLearningRate = resolvedMaxLearningRate
        return c
    }

    /// The strategy's settings; the switching epoch becomes an iteration here.
    public func algorithmConfig(stepsPerEpoch: Int) -> AlgorithmConfig {
        var c = AlgorithmConfig()
        c.kind = algorithm
        c.localSteps = localSteps
        c.switchStep = switchStep ?? switchEpoch.map { $0 * stepsPerEpoch }
        c.groupSizes = groupSize
        c.levelMultipliers = globalEvery
        c.slowLearningRate = slowmoLr
        c.slowMomentum = slowmoMomentum
        c.slowNesterov = slowmoNesterov
        c.batchNormSync = bnSync
        c.momentumSync = momentumSync
        return c
    }
}

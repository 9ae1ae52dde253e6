import Algorithms
import Optim

extension RunConfig {
    /// Checks that need no data; each failure names the flag. Every field's own range
    /// (`RunConfig.ranges`) first, then how the fields fit together.
    public func validate() throws {
        func check(_ ok: Bool, _ message: @autoclosure () -> String) throws {
            if !ok { throw TrainingError(message()) }
        }
        if let problem = try rangeProblem(name: { "--" + $0.replacingOccurrences(of: "_", with: "-") }) {
            throw TrainingError(problem)
        }
        try check(warmupEpochs <= epochs,
                  "--warmup-epochs must be between 0 and --epochs (\(epochs)), got \(warmupEpochs)")
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
            throw TrainingError("--\(flagName(e.field)): \(e.description)")
        } catch let e as StrategyError {
            throw TrainingError(e.description)
        }
    }

    private func flagName(_ field: String) -> String {
        let map = ["baseLearningRate": "lr", "kind": "lr-schedule", "decayEpochs": "decay-epochs",
                   "decayFactor": "decay-factor", "warmupEpochs": "warmup-epochs", "epochs": "epochs",
                   "weightDecay": "weight-decay", "momentum": "momentum"]
        return map[field] ?? field
    }

    /// The study's decay points (end of epochs 30, 60, 80 of 90) scaled to this run's length.
    public var resolvedDecayEpochs: [Int] {
        if let given = decayEpochs { return given }
        var result: [Int] = []
        for fraction in [30.0, 60.0, 80.0] {
            let e = Int((fraction / 90 * Double(epochs)).rounded())
            if e >= max(1, warmupEpochs) && e < epochs && e > (result.last ?? 0) { result.append(e) }
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
        c.warmupEpochs = warmupEpochs
        c.epochs = epochs
        c.scaleLearningRate = scaleLr
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

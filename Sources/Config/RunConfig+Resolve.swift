import Algorithms
import Comm
import Optim

extension RunConfig {
    /// Checks that need no data; each failure is a sentence naming the flag. Every field's own
    /// range (`RunConfig.fields`) first, then how the fields fit together, section by section.
    public func validate() throws {
        if let problem = try rangeProblem(name: { RunConfig.field(named: $0)?.flag ?? $0 }) {
            throw ConfigError(problem)
        }
        try validateSchedule()
        try validateAlgorithm()
        try validateAsync()
        try validateFaults()
        do {
            try optimizerConfig.validate()
            try scheduleConfig.validate()
            var strategy = algorithm
            strategy.switchStep = algorithm.switchIteration(stepsPerEpoch: 1)
            if execution.backend == .mpi && algorithm.kind == .hierarchical && algorithm.groupSize.isEmpty {
                strategy.groupSize = [algorithm.workers] // resolved to the node's workers once MPI is up
            }
            try strategy.validate(workers: algorithm.workers)
        } catch let e as OptimConfigError {
            throw ConfigError("--\(flagName(e.field)): \(e.description)")
        } catch let e as StrategyError {
            throw ConfigError(e.description)
        }
        try validateApplicability()
    }

    private func validateSchedule() throws {
        let epochs = schedule.epochs
        if case .epochs(let w) = schedule.warmupEpochs {
            try check(w >= 0 && w <= epochs, "--warmup-epochs must be auto or between 0 and --epochs (\(epochs)), got \(w)")
        }
        if case .rate(let r) = schedule.maxLr {
            try check(r > 0 && r.isFinite, "--max-lr must be auto, none or a positive rate, got \(r)")
        }
    }

    private func validateAlgorithm() throws {
        let a = algorithm
        if let text = execution.network, let nodes = try? NetworkModel(parsing: text).nodes,
           nodes.workersPerNode < a.workers, a.workers % nodes.workersPerNode != 0 {
            throw ConfigError("--network puts nodes-of=\(nodes.workersPerNode) consecutive workers on each node, which does not divide "
                              + "--workers \(a.workers) into whole nodes; give a divisor of \(a.workers), or at least \(a.workers) for one node")
        }
        if let s = a.switchEpoch {
            try check(s >= 0 && s <= schedule.epochs, "--switch-epoch must be between 0 and --epochs (\(schedule.epochs)), got \(s)")
        }
        try check(a.switchEpoch == nil || a.switchStep == nil, "give either --switch-epoch or --switch-step, not both")
        if a.kind == .postLocal {
            try check(a.switchEpoch != nil || a.switchStep != nil,
                      "post-local SGD needs a switching point: --switch-epoch T or --switch-step T")
        }
        let period = a.globalEvery.reduce((a.localSteps, false)) { p, h in
            let (product, overflow) = p.0.multipliedReportingOverflow(by: h)
            return (product, p.1 || overflow || product > RunConfig.maxPeriod)
        }
        try check(!period.1, "--local-steps × --global-every (the period of the outermost average) must be at most \(RunConfig.maxPeriod) steps")
        let codecs = PayloadCodecKind.allCases.dropFirst().map(\.rawValue).joined(separator: ", ")
        try check(!a.errorFeedback || a.compress != .none,
                  "--error-feedback needs a codec: give --compress \(codecs) (with --compress none nothing is compressed)")
        try check(a.compress == .topk || a.compressRatio == AlgorithmConfig().compressRatio,
                  "--compress-ratio applies to --compress topk (the codec is \(a.compress.rawValue))")
        try check(a.compress == .none || a.kind != .async,
                  "--compress applies to the lockstep algorithms; async's background averaging sends Floats, so leave --compress out (or none) with --algorithm async")
    }

    func check(_ ok: Bool, _ message: @autoclosure () -> String) throws {
        if !ok { throw ConfigError(message()) }
    }

    /// The flag of a field of the lower config types (`OptimizerConfig`, `ScheduleConfig`).
    private func flagName(_ field: String) -> String {
        let map = ["baseLearningRate": "lr", "kind": "lr-schedule", "decayEpochs": "decay-epochs",
                   "decayFactor": "decay-factor", "warmupEpochs": "warmup-epochs", "epochs": "epochs", "maxLearningRate": "max-lr",
                   "weightDecay": "weight-decay", "momentum": "momentum", "beta1": "adam-beta1", "beta2": "adam-beta2",
                   "epsilon": "adam-epsilon", "gradClip": "grad-clip"]
        return map[field] ?? field
    }

    /// The study's decay points (end of epochs 30, 60, 80 of 90) scaled to the epochs left after
    /// warm-up, as the decay of a warm-up followed by a schedule spans what remains.
    public var resolvedDecayEpochs: [Int] {
        if let given = schedule.decayEpochs { return given }
        let epochs = schedule.epochs, warmup = resolvedWarmupEpochs, remaining = Double(epochs - warmup)
        var result: [Int] = []
        for fraction in [30.0, 60.0, 80.0] {
            let e = warmup + Int((fraction / 90 * remaining).rounded())
            if e > warmup && e < epochs && e > (result.last ?? 0) { result.append(e) }
        }
        return result
    }

    /// The optimizer section, which is the optimizer's own config.
    public var optimizerConfig: OptimizerConfig { optimizer }

    /// The schedule with `auto` settings resolved; every field set here, so ScheduleConfig's own
    /// defaults (the study's ImageNet recipe, for library users) never reach a run.
    public var scheduleConfig: ScheduleConfig {
        scheduleConfig(warmupEpochs: resolvedWarmupEpochs, decayEpochs: resolvedDecayEpochs, maxLearningRate: resolvedMaxLearningRate)
    }

    func scheduleConfig(warmupEpochs: Int, decayEpochs: [Int], maxLearningRate: Float?) -> ScheduleConfig {
        ScheduleConfig(baseLearningRate: schedule.lr, kind: schedule.lrSchedule, decayEpochs: decayEpochs,
                       decayFactor: schedule.decayFactor, warmupEpochs: warmupEpochs, epochs: schedule.epochs,
                       scaleLearningRate: schedule.scaleLr, maxLearningRate: maxLearningRate)
    }
}

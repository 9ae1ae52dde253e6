import Comm

/// Weight averaging every few local steps: local SGD (Algorithm 2, one level: all K workers
/// every H steps) and hierarchical local SGD (Lin et al.: several nested levels, e.g. inside
/// groups of G every H steps and across all K every H·H_b). At an iteration where several
/// levels are due, only the widest runs (it subsumes the others).
///
/// A lone worker (K = 1) still reaches every averaging point: the mean of one replica is itself,
/// so nothing is communicated or counted in `syncs`, but the momentum policy applies and the
/// point is a global average for SlowMo (which then is Lookahead, Zhang et al. 2019).
public final class PeriodicAveraging: SyncStrategy {
    /// One level of the hierarchy: groups of `groupSize` consecutive workers average every `period` steps.
    public struct Level: Equatable, Sendable {
        public var groupSize: Int
        public var period: Int
        public init(groupSize: Int, period: Int) {
            self.groupSize = groupSize
            self.period = period
        }
    }

    public let levels: [Level]
    public let batchNormSync: BatchNormSync
    public let momentumSync: MomentumSync
    /// Iterations before this one belong to someone else (post-local's minibatch phase);
    /// periods count from here.
    public let firstStep: Int
    /// Averagings that communicated (none with a lone worker).
    public private(set) var syncs = 0
    /// The last iteration at which the whole world was averaged (SlowMo's cue).
    public private(set) var lastGlobalAverageStep: Int?
    /// With a `--local-steps` schedule or QSR, when the one (global) level averages instead of
    /// every `period` steps; its `firstStep` should equal this one's.
    public let averagingSchedule: AveragingSchedule?

    /// `levels` innermost first; each group size divides the next; the last is all workers. A
    /// `schedule` needs a single level.
    public init(levels: [Level], batchNormSync: BatchNormSync = .average, momentumSync: MomentumSync = .local,
                firstStep: Int = 0, schedule: AveragingSchedule? = nil) {
        precondition(!levels.isEmpty, "PeriodicAveraging needs at least one level")
        precondition(schedule == nil || levels.count == 1, "an averaging schedule times one level only")
        averagingSchedule = schedule
        self.levels = levels
        self.batchNormSync = batchNormSync
        self.momentumSync = momentumSync
        self.firstStep = firstStep
    }

    /// With compression, the weights at the start of the local phase are the first anchors.
    public func afterBackward(_ c: SyncContext) throws {
        if let compression = c.compression, !compression.anchorsSet, c.step >= firstStep {
            compression.setAnchors(c.workers.parameters)
        }
    }

    /// The level that averages after iteration `step`, if any.
    private func dueLevel(step: Int) -> Level? {
        if let schedule = averagingSchedule { return schedule.isAverage(step: step) ? levels[0] : nil }
        let t = step - firstStep + 1
        guard t > 0 else { return nil }
        return levels.last(where: { t % $0.period == 0 })
    }

    /// Groups of the due level's size average after iteration `step`; the last level is global:
    /// all `workers`, which are fewer than the K it was built for while some are away (`--faults`).
    public func plan(step: Int, workers: Int) -> SyncPlan {
        guard let level = dueLevel(step: step) else { return .none }
        if level == levels[levels.count - 1] { return .averageWeights(groupSize: workers, global: true) }
        return .averageWeights(groupSize: level.groupSize, global: level.groupSize == workers)
    }

    public func afterStep(_ c: SyncContext) throws {
        guard case .averageWeights(let groupSize, let global) = plan(step: c.step, workers: c.communicator.workers)
        else { return }
        try average(c, groupSize: groupSize)
        if global { lastGlobalAverageStep = c.step }
    }

    /// Replaces weights (and, by policy, BatchNorm statistics and momentum) by their group mean.
    /// Weights the optimizer already scaled by 1/G (`c.fusion`) are summed.
    ///
    /// For Adam and AdamW the momentum policy covers both moments: `reset` zeroes m, v and the
    /// step count t (the next step is a first step, bias correction included), `average` sets m
    /// and v each to their group mean and keeps every worker's t (equal in lockstep).
    public func average(_ c: SyncContext, groupSize: Int) throws {
        let w = c.workers, comm = c.communicator
        if comm.workers == 1 {
            // The mean of one replica is itself; only the momentum policy has work to do.
            if momentumSync == .reset { Self.resetMoments(w) }
            return
        }
        c.recorder?.willAverage(c, groupSize: groupSize)
        if !c.weightsExchanged { try c.averageWeights(groupSize: groupSize) }
        c.recorder?.didAverage(c, groupSize: groupSize)
        switch batchNormSync {
        case .average:
            try comm.allReduceMean(w.state, count: w.stateCount, groupSize: groupSize)
        case .first where groupSize == comm.workers:
            try comm.broadcast(w.state, count: w.stateCount, root: 0)
        case .first:
            try comm.allReduceMean(w.state, count: w.stateCount, groupSize: groupSize)
        case .local:
            break
        }
        switch momentumSync {
        case .local: break
        case .reset: Self.resetMoments(w)
        case .average:
            try comm.allReduceMean(w.momentum, count: w.parameterCount, groupSize: groupSize)
            if !w.secondMoment.isEmpty { try comm.allReduceMean(w.secondMoment, count: w.parameterCount, groupSize: groupSize) }
        }
        syncs += 1
    }

    /// `--momentum-sync reset`: zero momentum; for Adam also v and t.
    private static func resetMoments(_ w: WorkerSet) {
        for m in w.momentum { m.update(repeating: 0, count: w.parameterCount) }
        for v in w.secondMoment { v.update(repeating: 0, count: w.parameterCount) }
        for state in w.optimizerStates { state.stepCount = 0 }
    }

    public func saveState() -> StrategyState {
        var s = StrategyState()
        s.syncs = syncs
        s.lastGlobalAverageStep = lastGlobalAverageStep
        return s
    }

    public func restoreState(_ state: StrategyState) throws {
        syncs = state.syncs
        // Older checkpoints held the step as a one-element Float buffer.
        lastGlobalAverageStep = state.lastGlobalAverageStep ?? state.buffers["lastGlobalAverageStep"].map { Int($0[0]) }
    }
}

extension AlgorithmKind {
    /// Average weights every H steps (Algorithm 2).
    public static let local = AlgorithmKind(named: "local")
    /// Average inside groups every H steps and across all every H·H_b (Lin et al.).
    public static let hierarchical = AlgorithmKind(named: "hierarchical")
}

extension PeriodicAveraging {
    /// All K workers every H steps, from the switching point if one is given.
    static let buildLocal: AlgorithmKind.Builder = { c, workers, _ in
        c.localPhase(levels: [.init(groupSize: workers, period: c.localSteps)])
    }
    /// The levels of `--group-size` and `--global-every`, from the switching point if one is given.
    static let buildHierarchical: AlgorithmKind.Builder = { c, workers, _ in
        c.localPhase(levels: c.levels(workers: workers))
    }
}

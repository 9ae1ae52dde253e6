import Comm

/// Post-local SGD (Lin et al.; §2 of the study): minibatch SGD for iterations before
/// `switchStep`, then periodic weight averaging. Momentum buffers stay per worker in the local
/// phase unless the averaging's `momentumSync` says otherwise.
public final class PostLocalSGD: SyncStrategy {
    public let switchStep: Int
    public let minibatch = MinibatchSGD()
    public let averaging: PeriodicAveraging

    /// `averaging.firstStep` should equal `switchStep`, so periods count from the switch.
    public init(switchStep: Int, averaging: PeriodicAveraging) {
        self.switchStep = switchStep
        self.averaging = averaging
    }

    public func isLocalPhase(_ step: Int) -> Bool { step >= switchStep }

    public func plan(step: Int, workers: Int) -> SyncPlan {
        isLocalPhase(step) ? averaging.plan(step: step, workers: workers) : minibatch.plan(step: step, workers: workers)
    }

    public func afterBackward(_ c: SyncContext) throws {
        if isLocalPhase(c.step) { try averaging.afterBackward(c) } else { try minibatch.afterBackward(c) }
    }

    public func afterStep(_ c: SyncContext) throws {
        if isLocalPhase(c.step) { try averaging.afterStep(c) } else { try minibatch.afterStep(c) }
    }

    public var syncs: Int { minibatch.syncs + averaging.syncs }

    public func saveState() -> StrategyState {
        var s = averaging.saveState()
        s.gradientReductions = minibatch.syncs
        return s
    }

    public func restoreState(_ state: StrategyState) throws {
        try averaging.restoreState(state)
        var m = StrategyState()
        m.syncs = state.gradientReductions
        try minibatch.restoreState(m)
    }
}

extension AlgorithmKind {
    /// Minibatch until the switching point, local after (Lin et al.).
    public static let postLocal = AlgorithmKind(named: "post-local")
}

extension PostLocalSGD {
    /// Without a switching point it stays minibatch SGD throughout.
    static let build: AlgorithmKind.Builder = { c, workers, _ in
        let start = c.switchStep ?? Int.max
        return PostLocalSGD(switchStep: start,
                            averaging: c.averaging(levels: c.levels(workers: workers), firstStep: start == Int.max ? 0 : start))
    }
}

import Comm

/// Minibatch SGD over K workers (Algorithm 1): gradients are averaged every iteration, so every
/// worker takes the same step and the replicas stay identical. Under the trainer's fusion the
/// all-reduce is a sum and the division by K happens in the optimizer's pass, bitwise as a mean.
public final class MinibatchSGD: SyncStrategy {
    public private(set) var syncs = 0

    public init() {}

    public func plan(step: Int, workers: Int) -> SyncPlan { .reduceGradients }

    public func afterBackward(_ c: SyncContext) throws {
        guard c.communicator.workers > 1 else { return } // a lone worker has no one to synchronize with
        c.recorder?.willReduceGradients(c)
        try c.reduceGradients()
        c.recorder?.didReduceGradients(c)
        syncs += 1
    }

    public func afterStep(_ c: SyncContext) throws {}


    public func saveState() -> StrategyState {
        var s = StrategyState()
        s.syncs = syncs
        return s
    }

    public func restoreState(_ state: StrategyState) throws { syncs = state.syncs }
}

extension AlgorithmKind {
    /// Average gradients every step (Algorithm 1 over K workers).
    public static let minibatch = AlgorithmKind(named: "minibatch")
}

extension MinibatchSGD {
    static let build: AlgorithmKind.Builder = { _, _, _ in MinibatchSGD() }
}

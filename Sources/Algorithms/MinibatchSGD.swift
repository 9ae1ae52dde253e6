import Comm

/// Minibatch SGD over K workers (Algorithm 1): gradients are averaged every iteration, so every
/// worker takes the same step and the replicas stay identical. The all-reduce is a sum; the
/// division by K happens in the optimizer's pass (`gradientDivisor`), bitwise as a mean would.
public final class MinibatchSGD: SyncStrategy {
    public private(set) var syncs = 0

    public init() {}

    public func afterBackward(_ c: SyncContext) throws {
        guard c.communicator.workers > 1 else { return } // a lone worker has no one to synchronize with
        try c.communicator.allReduceSum(c.workers.gradients, count: c.workers.parameterCount)
        syncs += 1
    }

    public func afterStep(_ c: SyncContext) throws {}

    /// K: `afterBackward` summed the K gradients (a lone worker's is its own).
    public func gradientDivisor(step: Int, workers: Int) -> Float { Float(workers) }

    public func saveState() -> StrategyState {
        var s = StrategyState()
        s.syncs = syncs
        return s
    }

    public func restoreState(_ state: StrategyState) throws { syncs = state.syncs }
}

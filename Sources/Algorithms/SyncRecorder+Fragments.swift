import Comm

/// Streaming DiLoCo's fragment synchronizations (Douillard et al. 2025, §2.2), one `outer`
/// record each, with `fragment` = p and every statistic over fragment p's coordinates only.
///
/// The strategy calls the hooks around its fragment's collectives (`StreamingDiLoCo.synchronize`).
/// The statistics are of the weights as sent, at the synchronization's iteration t, whatever the
/// overlap τ: x_{k,p} is worker k's fragment then (still in its flat weights: the strategy
/// gathered a copy of it and reduced the copy), x̄_p the all-reduced mean, and the anchor is the
/// fragment's outer weights x₀,p before the outer step. So `pseudo_gradient_norm` is ‖Δ_p‖ =
/// ‖x₀,p − x̄_p‖, the pseudo-gradient the outer optimizer steps on, and the update u_k =
/// x_{k,p} − x₀,p is worker k's share of −Δ_p. With τ > 0 the result is mixed into the workers
/// τ iterations later; that merge is not a synchronization and is not recorded (the workers then
/// had not restarted from x₀,p, so u_k also holds the progress they kept through the mix).
///
/// No pass of its own over a buffer beyond the sums: two per local worker over the fragment,
/// one for ‖Δ_p‖, one for the outer momentum; nothing is copied (the allocation-free property
/// of the training step holds).
extension SyncRecorder {
    /// Before fragment p's collectives (the mean of its snapshots, and BatchNorm's with fragment 0).
    public func willSynchronizeFragment(_ c: SyncContext) {
        fragmentBytesAtStart = c.communicator.counters.bytes
    }

    /// After the collectives of fragment `p` of `fragments`, before its outer step: `mean` is
    /// x̄_p and `anchor` x₀,p, both packed (`sizes[p]` floats); the workers' flat weights still
    /// hold the fragment as sent.
    public func didAverageFragment(_ c: SyncContext, _ p: Int, of fragments: StreamingFragments,
                                   mean: UnsafePointer<Float>, anchor: UnsafePointer<Float>) {
        let ranges = fragments.ranges[p]
        let meanUpdate = SyncStatistics.squaredDistance(mean, anchor, count: fragments.sizes[p])
        for x in c.workers.parameters {
            partials.append(.init(distanceToMean: SyncStatistics.squaredDistance(x, ranges: ranges, packed: mean),
                                  update: SyncStatistics.squaredDistance(x, ranges: ranges, packed: anchor),
                                  groupMeanUpdate: meanUpdate))
        }
        let comm = c.communicator
        pending.append(Pending(step: c.step, kind: .outer, groupSize: comm.workers, global: true, workers: comm.workers,
                               partialCount: c.workers.count, bytes: comm.counters.bytes - fragmentBytesAtStart,
                               effectiveH: fragments.iterationsSinceSynchronization(p, afterStep: c.step), anchored: true,
                               fragment: p))
    }

    /// After fragment p's outer step: `momentum` is its slice of the outer optimizer's momentum
    /// (Adam: first moment), `count` floats.
    public func didOuterStepFragment(momentum: UnsafePointer<Float>, count: Int) {
        guard !pending.isEmpty, pending[pending.count - 1].fragment != nil else { return }
        pending[pending.count - 1].outerMomentumNorm = SyncStatistics.squaredDistance(momentum, nil, count: count).squareRoot()
    }
}

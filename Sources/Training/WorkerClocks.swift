/// Modelled wall-clock per worker, for runs with `--worker-speeds` or `--faults`: each worker
/// keeps its own clock between synchronizations, and a synchronization starts when the slowest
/// present worker arrives.
///
/// With v_k worker k's speed and c_k(t) its measured compute of iteration t (its data, forward
/// and backward, plus one worker's optimizer step), for every present worker k:
///
///     clock_k ← clock_k + c_k(t) / v_k                          after iteration t's compute
///     clock_k ← max_{j present} clock_j + c                     if iteration t synchronizes
///
/// with c the modelled seconds of its collectives among the present workers (`NetworkModel`).
/// The run's clock is the latest present worker's, never moving back (a leaving straggler does
/// not undo the time already spent waiting for it). A joiner's clock starts at the latest present
/// worker's plus one transfer of its weights, α + n/β on the inter-node link. Minibatch SGD,
/// which synchronizes every iteration, gets Σ_t (max_k c_k(t)/v_k + c), the same as the
/// lockstep model without speeds; local SGD gets max_k Σ c_k/v_k per period, so a worker's slow
/// iterations can hide behind its fast ones until the next average. With `--dynamic-local-steps`
/// the sum runs over the H_k iterations worker k computes, so a period takes
/// max_k H_k·c/v_k ≈ H·c/max_j v_j.
package struct WorkerClocks: Codable, Equatable {
    /// Each worker's modelled seconds since the run started (frozen while it is away).
    package private(set) var clocks: [Double]
    /// The run's modelled seconds: the latest present clock so far.
    package private(set) var elapsed: Double = 0

    package init(workers: Int) {
        clocks = [Double](repeating: 0, count: workers)
    }

    /// Advances by one iteration of the `present` workers, `compute(k)` seconds each at speed
    /// `speeds[k]` for those `computing` (all present ones when nil; `--dynamic-local-steps` leaves
    /// some idle, their clocks still), then, if the iteration `synchronizes`, `communication`
    /// seconds of collectives once all present workers have arrived. Returns how far the run's
    /// clock moved.
    @discardableResult
    package mutating func advance(present: [Int], computing: [Int]? = nil, speeds: [Double], synchronizes: Bool,
                                  communication: Double, compute: (Int) -> Double) -> Double {
        let before = elapsed
        var latest = 0.0
        for k in computing ?? present { clocks[k] += compute(k) / speeds[k] }
        for k in present { latest = max(latest, clocks[k]) }
        if synchronizes {
            latest += communication
            for k in present { clocks[k] = latest }
        }
        elapsed = max(elapsed, latest)
        return elapsed - before
    }

    /// Worker `joiner` starts once the latest of `present` has arrived and its weights have
    /// travelled for `transfer` seconds.
    package mutating func join(_ joiner: Int, present: [Int], transfer: Double) {
        clocks[joiner] = (present.map { clocks[$0] }.max() ?? elapsed) + transfer
    }

    /// Asynchronous workers never wait for one another: the seconds until the latest of them has
    /// done its `compute[i]` seconds of work at `speeds[i]`, max_i compute_i / v_i.
    package static func unsynchronized(compute: [Double], speeds: [Double]) -> Double {
        zip(compute, speeds).map { $0 / $1 }.max() ?? 0
    }
}

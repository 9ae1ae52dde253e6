/// Dynamic Local Updates (DyLU) on the periods of a lockstep run: Liu et al. 2024, "Asynchronous
/// Local-SGD Training for Language Modeling" (arXiv 2401.09135), §5, eq. 6, gives worker w
/// ⌊v(w) / max_w' v(w') · H⌋ local steps, v(w) its speed, so that slow workers finish their
/// share of a round at about the time the fastest finishes its H, and no one waits for a straggler.
///
/// Here on the iterations of the plain algorithm, which stay what they were (the learning rate
/// of each iteration, the averaging points, the checkpoints): a period is the iterations after
/// one synchronization (`SyncStrategy.plan` not `.none`) up to and including the next, or up to
/// the run's last iteration. In a period of L iterations worker k takes
///
///     H_k = max(1, ⌊L · v_k / max_j v_j⌋)
///
/// steps, at the period's first H_k iterations, and is idle for the other L − H_k: it computes
/// nothing, and its weights, optimizer state, data position and random streams stay where they
/// are until the average. A ratio within 10⁻⁹ of a whole number counts as that number, so that
/// decimal speeds such as 0.3 against 0.6 give exact halves. The fastest worker takes all L;
/// with equal speeds every worker does, and the run is the plain algorithm's. Minibatch phases
/// (a gradient all-reduce every iteration) are periods of one iteration, which every worker takes.
///
/// A pure value: who computes at an iteration follows from the iteration alone, so a run resumed
/// in the middle of a period continues it as the uninterrupted run does.
public struct DynamicLocalSteps {
    /// v_k, one per worker.
    public let speeds: [Double]
    /// Iterations of the whole run; the last period ends at the last of them.
    public let totalSteps: Int
    /// max_j v_j.
    public let fastest: Double
    /// Whether iteration t synchronizes (`plan(step: t) != .none`); a pure function of t.
    let synchronizes: (Int) -> Bool

    public init(speeds: [Double], totalSteps: Int, synchronizes: @escaping (Int) -> Bool) {
        precondition(!speeds.isEmpty && speeds.allSatisfy { $0 > 0 }, "DynamicLocalSteps needs a positive speed per worker")
        self.speeds = speeds
        self.totalSteps = totalSteps
        fastest = speeds.max()!
        self.synchronizes = synchronizes
    }

    /// The periods of `strategy` over a run of `totalSteps` iterations, with K = `speeds.count` workers.
    public init(speeds: [Double], totalSteps: Int, strategy: SyncStrategy) {
        let workers = speeds.count
        self.init(speeds: speeds, totalSteps: totalSteps) { strategy.plan(step: $0, workers: workers) != .none }
    }

    /// H_k: the steps worker `worker` takes in a period of `length` iterations.
    public func localSteps(worker: Int, periodLength length: Int) -> Int {
        let share = Double(length) * speeds[worker] / fastest
        return min(length, max(1, Int((share * (1 + 1e-9)).rounded(.down))))
    }

    /// The period that holds iteration `step`: back to just after the previous synchronization,
    /// on to the next one (or the run's last iteration).
    public func period(containing step: Int) -> Range<Int> {
        var start = step
        while start > 0 && !synchronizes(start - 1) { start -= 1 }
        return period(from: start)
    }

    /// The period that starts at `start`, the iteration after a synchronization (or 0).
    public func period(from start: Int) -> Range<Int> {
        var end = start
        while end < totalSteps - 1 && !synchronizes(end) { end += 1 }
        return start..<(end + 1)
    }

    /// Whether worker `worker` computes at iteration `step` of `period`.
    public func computes(worker: Int, step: Int, in period: Range<Int>) -> Bool {
        step - period.lowerBound < localSteps(worker: worker, periodLength: period.count)
    }

    /// The steps each of `workers` took in iterations 0 ..< `step`: its data position.
    public func stepsTaken(before step: Int, workers: Range<Int>) -> [Int] {
        var taken = [Int](repeating: 0, count: workers.count)
        var start = 0
        while start < min(step, totalSteps) {
            let p = period(from: start)
            let done = min(step, p.upperBound) - p.lowerBound
            for (i, k) in workers.enumerated() { taken[i] += min(done, localSteps(worker: k, periodLength: p.count)) }
            start = p.upperBound
        }
        return taken
    }
}

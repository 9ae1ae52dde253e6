import Foundation

/// The iterations after which the local phase averages globally when H varies over the run: an
/// explicit `--local-steps` schedule, or the Quadratic Synchronization Rule (`--qsr-alpha`; Gu et
/// al., "A Quadratic Synchronization Rule for Distributed Deep Learning", ICLR 2024, §3).
///
/// With the local phase starting at iteration s₀ (0, or the post-local switching point), the
/// first period starts at s₀; a period starting at iteration s lasts H(s) iterations and ends
/// with a global average after iteration a = min(s + H(s) − 1, T − 1), T the run's iterations;
/// the next period starts at s = a + 1. So after the average at iteration a, the next one is at
/// a + H(a + 1) (H looked up at the iteration after the average), capped at the last iteration,
/// where the run therefore always ends on an average. H(s) is
/// - a schedule's: the H of its last entry at or before s;
/// - QSR's: H_base(s) while s is in warm-up, else max(H_base(s), ⌊(α/η_s)²⌋), η_s the learning
///   rate of iteration s and H_base(s) the `--local-steps` (constant or schedule) H.
///
/// Built once when the strategy is (a pure function of the settings and the deterministic
/// learning-rate schedule), it stores only the runs of equal periods, so `isAverage(step:)` is a
/// binary search: pure, allocation-free, and the same after a resume. A constant H without QSR
/// does not use it (`PeriodicAveraging.Level.period`, no cap at the end, as always).
public struct AveragingSchedule: Equatable, Sendable {
    /// Averages after iterations `first`, `first + period`, … `last`.
    public struct Run: Equatable, Sendable {
        public var first: Int
        public var period: Int
        public var last: Int
    }

    public let runs: [Run]
    /// The iteration at which the first period starts.
    public let firstStep: Int
    /// The run's last iteration, T − 1 (the last average).
    public let lastStep: Int

    /// The averages of periods from `firstStep` to the end of `totalSteps` iterations, H(s) =
    /// `localSteps(s)` (at least 1) for the period starting at s.
    public init(firstStep: Int, totalSteps: Int, localSteps: (Int) -> Int) {
        self.firstStep = firstStep
        lastStep = totalSteps - 1
        var runs: [Run] = []
        var s = firstStep
        while s < totalSteps {
            let h = max(1, localSteps(s))
            let average = s > totalSteps - h ? totalSteps - 1 : s + h - 1
            let period = average - s + 1
            if runs.last?.period == period {
                runs[runs.count - 1].last = average
            } else {
                runs.append(Run(first: average, period: period, last: average))
            }
            s = average + 1
        }
        self.runs = runs
    }

    /// Whether the phase averages globally after iteration `step`.
    public func isAverage(step: Int) -> Bool {
        guard step >= firstStep, step <= lastStep, !runs.isEmpty, runs[0].first <= step else { return false }
        var low = 0, high = runs.count - 1
        while low < high {  // the last run starting at or before `step`
            let mid = (low + high + 1) / 2
            if runs[mid].first <= step { low = mid } else { high = mid - 1 }
        }
        let run = runs[low]
        return step <= run.last && (step - run.first) % run.period == 0
    }

    /// Where H changes, as [first iteration of a period, H]: summary.json's `effective_local_steps`
    /// (the last entry may be a shorter period cut at the end of the run).
    public var changes: [[Int]] { runs.map { [$0.first - $0.period + 1, $0.period] } }

    /// How many averages the phase takes over the run.
    public var count: Int {
        runs.reduce(0) { $0 + ($1.last - $1.first) / $1.period + 1 }
    }
}

/// The Quadratic Synchronization Rule (Gu et al., ICLR 2024, §3): H = max(H_base, ⌊(α/η)²⌋), with
/// H_base during warm-up.
public struct QuadraticSynchronizationRule: Sendable {
    public var alpha: Float
    public var warmupSteps: Int

    public init(alpha: Float, warmupSteps: Int) {
        self.alpha = alpha
        self.warmupSteps = warmupSteps
    }

    /// H for a period starting at iteration `step` with learning rate `rate`, base H `base`;
    /// at most 10⁹ (the averaging schedule caps it at the run's end anyway).
    public func localSteps(step: Int, rate: Float, base: Int) -> Int {
        guard step >= warmupSteps else { return base }
        let ratio = Double(alpha) / Double(rate)
        let h = (ratio * ratio).rounded(.down)
        guard h.isFinite, rate > 0, h < 1e9 else { return max(base, 1_000_000_000) }
        return max(base, Int(h))
    }
}

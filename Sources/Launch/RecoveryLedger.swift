/// What failures cost a launched run, counted from the steps the jobs report (every iteration,
/// `train --progress-interval 0`) and when they report them.
///
/// - Steps redone: for each failed job, its last finished step minus the step the next job
///   resumed from (the first step that job reports, minus one).
/// - Time lost: for each failure, from the moment the run first stood at its furthest step to
///   the moment it stood there again after the restart (detection, probe, start-up, loading the
///   checkpoint and redoing the steps); a failure before that point extends the same loss.
public struct RecoveryLedger: Sendable {
    public private(set) var stepsRedone = 0
    public private(set) var secondsLost = 0.0

    /// The furthest step reached and when it was first reached.
    public private(set) var furthest: (step: Int, time: Double)?
    /// The last step the current job reported.
    public private(set) var jobLastStep: Int?
    /// The last step of a failed job not yet matched with the step its successor resumed from.
    private var unmatchedLastStep: Int?
    /// The furthest point before a failure, until the run is back there.
    private var behind: (step: Int, since: Double)?
    /// When the last failure was seen (mpirun's exit), until the next job reports a step.
    private var failedAt: Double?

    public init() {}

    /// What the first step of a restarted job tells.
    public struct Resumption: Equatable, Sendable {
        /// The checkpoint step the job continued from.
        public var resumedFrom: Int
        /// Steps of the failed jobs this one computes again.
        public var stepsRedone: Int
        /// From the failure's detection (mpirun's exit) to this first step.
        public var secondsSinceFailure: Double

        public init(resumedFrom: Int, stepsRedone: Int, secondsSinceFailure: Double) {
            self.resumedFrom = resumedFrom
            self.stepsRedone = stepsRedone
            self.secondsSinceFailure = secondsSinceFailure
        }
    }

    /// A new job starts.
    public mutating func jobStarted() { jobLastStep = nil }

    /// The job reported that `step` (1-based, counted over the whole run) is done at `time`;
    /// returns the resumption when this is a restarted job's first report.
    public mutating func progress(step: Int, at time: Double) -> Resumption? {
        var resumption: Resumption?
        if jobLastStep == nil, let failed = failedAt {
            let from = step - 1
            let redone = unmatchedLastStep.map { RestartPolicy.stepsRedone(lastStep: $0, resumedFrom: from) } ?? 0
            stepsRedone += redone
            resumption = Resumption(resumedFrom: from, stepsRedone: redone, secondsSinceFailure: time - failed)
            unmatchedLastStep = nil
            failedAt = nil
        }
        jobLastStep = max(jobLastStep ?? step, step)
        if let b = behind, step >= b.step {
            secondsLost += time - b.since
            behind = nil
        }
        if step > (furthest?.step ?? 0) { furthest = (step, time) }
        return resumption
    }

    /// The current job failed at `time` (its end was seen then).
    public mutating func jobFailed(at time: Double) {
        if let last = jobLastStep { unmatchedLastStep = last }
        if behind == nil, let f = furthest { behind = (f.step, f.time) }
        failedAt = failedAt ?? time
    }

    /// The loss still open at `time` (a launch that ends before the run is back at its furthest step).
    public mutating func close(at time: Double) {
        if let b = behind {
            secondsLost += time - b.since
            behind = nil
        }
    }
}

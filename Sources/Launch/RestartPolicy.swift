/// When and on how many ranks `localsgd launch` restarts a failed job (issue 17, part 2).
///
/// Each rank holds `workers / ranks` consecutive workers, so a job's rank count must divide
/// K = `workers`. After a failure the job restarts on the largest rank count that divides K, is
/// at least `minRanks`, and fits on the hosts that answered the probe, never more than the
/// `ranks` the launch asked for; at most `maxRestarts` times.
public struct RestartPolicy: Equatable, Sendable {
    /// K, `--workers` of the run.
    public var workers: Int
    /// The rank count the launch asked for (`--np`, or the slots of the hosts).
    public var ranks: Int
    public var minRanks: Int
    public var maxRestarts: Int

    public init(workers: Int, ranks: Int, minRanks: Int, maxRestarts: Int) {
        self.workers = workers
        self.ranks = ranks
        self.minRanks = minRanks
        self.maxRestarts = maxRestarts
    }

    /// The settings' problem as one sentence, or nil.
    public var problem: String? {
        if ranks < 1 { return "the job needs at least one rank, got \(ranks)" }
        if workers % ranks != 0 { return "--workers \(workers) must be a multiple of the \(ranks) ranks (each rank holds workers/ranks workers)" }
        if minRanks < 1 { return "--min-ranks must be at least 1, got \(minRanks)" }
        if minRanks > ranks { return "--min-ranks \(minRanks) is more than the \(ranks) ranks the job starts with" }
        if maxRestarts < 0 { return "--max-restarts must be 0 or more, got \(maxRestarts)" }
        return nil
    }

    /// The rank count to restart on when `usable` ranks can run: the largest n with
    /// minRanks ≤ n ≤ min(usable, ranks) that divides `workers`; nil when there is none.
    public func restartRanks(usable: Int) -> Int? {
        let top = min(usable, ranks)
        guard top >= minRanks else { return nil }
        return stride(from: top, through: max(1, minRanks), by: -1).first { workers % $0 == 0 }
    }

    /// What to do after a job ended with `end`, having restarted `restarts` times so far, with
    /// `usable` ranks on the hosts that answered the probe (nil: not probed, because the end
    /// needs no restart).
    public func decide(after end: JobEnd, restarts: Int, usable: Int?) -> Decision {
        switch end {
        case .succeeded: return .finish
        case .stopped(let signal): return .stop(signal: signal)
        case .runError(_, let message): return .giveUp("the run stopped with an error that a restart would repeat: \(message)")
        case .rankDied, .collectiveTimeout, .failed:
            guard restarts < maxRestarts else {
                return .giveUp("the job failed \(restarts + 1) time\(restarts == 0 ? "" : "s") and --max-restarts is \(maxRestarts)")
            }
            guard let usable else { return .probe }
            guard let n = restartRanks(usable: usable) else {
                if usable < minRanks {
                    return .giveUp("only \(usable) rank\(usable == 1 ? "" : "s") can run on the hosts that answered the probe, fewer than --min-ranks \(minRanks)")
                }
                return .giveUp("no rank count from --min-ranks \(minRanks) to the \(min(usable, ranks)) usable ranks divides --workers \(workers)")
            }
            return .restart(ranks: n)
        }
    }

    public enum Decision: Equatable, Sendable {
        case finish
        case stop(signal: Int32)
        /// Probe the hosts, then decide again with the usable ranks.
        case probe
        case restart(ranks: Int)
        case giveUp(String)
    }

    /// Steps computed before a failure that the restart computes again: from the checkpoint
    /// resumed from to the last step the failed job finished.
    public static func stepsRedone(lastStep: Int, resumedFrom: Int) -> Int { max(0, lastStep - resumedFrom) }

    /// The newest step that every one of `ranks` ranks holds a checkpoint file of, given each
    /// file's (step, rank); nil when there is none. `localsgd train --resume` resumes from it
    /// unless a file is damaged (then from an older one).
    public static func newestCommonStep(_ files: [(step: Int, rank: Int)], ranks: Int) -> Int? {
        var holders: [Int: Set<Int>] = [:]
        for file in files where file.rank < ranks { holders[file.step, default: []].insert(file.rank) }
        return holders.filter { $0.value.count == ranks }.keys.max()
    }
}

import Foundation
import Algorithms

extension RunConfig {
    /// The algorithms `--faults` and `--worker-speeds` are modelled for: those whose every
    /// reduction is over all workers at once (hierarchical groups, Streaming DiLoCo's fragments
    /// in flight and async's rounds are not re-formed around a missing worker).
    public static let faultAlgorithms: [AlgorithmKind] = [.minibatch, .local, .postLocal, .slowmo, .diloco]

    /// The parsed `--faults`, or nil when none are given.
    public var faultSchedule: FaultSchedule? {
        get throws {
            guard let text = execution.faults, !text.trimmingCharacters(in: .whitespaces).isEmpty else { return nil }
            return try FaultSchedule(parsing: text, workers: algorithm.workers)
        }
    }

    /// The parsed `--worker-speeds`, or nil when none are given.
    public var speeds: WorkerSpeeds? {
        get throws {
            guard let text = execution.workerSpeeds, !text.trimmingCharacters(in: .whitespaces).isEmpty else { return nil }
            return try WorkerSpeeds(parsing: text, workers: algorithm.workers, seed: execution.seed)
        }
    }

    /// Checks of `--faults` and `--worker-speeds` that need no data; each failure names the flag.
    /// Where the points fall in the run is checked once the iterations are known
    /// (`FaultSchedule.resolve`).
    func validateFaults() throws {
        let kinds = RunConfig.faultAlgorithms.map(\.rawValue).joined(separator: ", ")
        for (flag, given) in [("--faults", try faultSchedule != nil), ("--worker-speeds", try speeds != nil)] where given {
            try check(execution.backend == .inprocess,
                      "\(flag) is simulated in-process; use --backend inprocess (under MPI a failed rank is a real failure, not a modelled one)")
            try check(RunConfig.faultAlgorithms.contains(algorithm.kind),
                      "\(flag) applies to --algorithm \(kinds) only (the algorithm is \(algorithm.kind.rawValue))")
            try check(algorithm.streamingFragments == 1 && algorithm.streamingOverlap == 0,
                      "\(flag) applies to plain DiLoCo; Streaming DiLoCo (--streaming-fragments, --streaming-overlap) keeps fragments in flight across all workers")
        }
        if try speeds != nil {
            try check(execution.network != nil, "--worker-speeds shapes the modelled wall-clock; add --network (e.g. 1gbit:100us)")
        }
    }
}

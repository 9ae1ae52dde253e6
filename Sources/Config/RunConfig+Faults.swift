import Foundation
import Algorithms

extension RunConfig {
    /// The algorithms `--faults` is simulated for, and `--worker-speeds` modelled for (with
    /// async): those whose every reduction is over all workers at once (hierarchical groups,
    /// Streaming DiLoCo's fragments in flight and async's rounds are not re-formed around a
    /// missing worker).
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
            return try WorkerSpeeds(parsing: text, workers: algorithm.kind == .async ? asyncWorkers : algorithm.workers,
                                    seed: execution.seed)
        }
    }

    /// Checks of `--faults` and `--worker-speeds` that need no data; each failure names the flag.
    /// Where the points fall in the run is checked once the iterations are known
    /// (`FaultSchedule.resolve`).
    func validateFaults() throws {
        let kinds = RunConfig.faultAlgorithms.map(\.rawValue).joined(separator: ", ")
        for (flag, given) in [("--faults", given(execution.faults)), ("--worker-speeds", given(execution.workerSpeeds))] where given {
            try check(execution.backend == .inprocess,
                      "\(flag) is simulated in-process; use --backend inprocess (under MPI a failed rank is a real failure, not a modelled one)")
            let speedsOnAsync = flag == "--worker-speeds" && algorithm.kind == .async
            try check(RunConfig.faultAlgorithms.contains(algorithm.kind) || speedsOnAsync,
                      "\(flag) applies to --algorithm \(kinds)\(flag == "--worker-speeds" ? ", async" : "") only (the algorithm is \(algorithm.kind.rawValue))"
                      + (algorithm.kind == .async ? "; async's averaging rounds are not re-formed around a missing node" : ""))
            try check(algorithm.streamingFragments == 1 && algorithm.streamingOverlap == 0,
                      "\(flag) applies to plain DiLoCo; Streaming DiLoCo (--streaming-fragments, --streaming-overlap) keeps fragments in flight across all workers")
        }
        if given(execution.faults) {
            try check(algorithm.groupSize.allSatisfy { $0 >= algorithm.workers },
                      "--faults with group levels (--group-size below K): a worker away would leave its group smaller than the others, and groups must divide the present workers; give --faults without --group-size")
            try check(algorithm.compress == .none,
                      "--faults with --compress: the codec's anchors and error-feedback residuals are kept for all K workers, and a worker away would come back to stale ones; give one or the other")
        }
        _ = try faultSchedule
        if execution.modelledCompute != nil {
            try check(execution.network != nil, "--modelled-compute sets the compute of the modelled wall-clock; add --network (e.g. 1gbit:100us)")
        }
        if try speeds != nil {
            try check(execution.network != nil, "--worker-speeds shapes the modelled wall-clock; add --network (e.g. 1gbit:100us)")
        }
        try validateDynamicLocalSteps()
    }

    /// The algorithms `--dynamic-local-steps` scales the local steps of: those with one global
    /// averaging period (not hierarchical's groups, not minibatch, whose period is one step, not async).
    public static let dynamicLocalStepsAlgorithms: [AlgorithmKind] = [.local, .postLocal, .slowmo, .diloco]

    /// Checks of `--dynamic-local-steps` on an algorithm it applies to (others are refused by
    /// `validateApplicability`); each failure names the flag.
    private func validateDynamicLocalSteps() throws {
        guard algorithm.dynamicLocalSteps, RunConfig.dynamicLocalStepsAlgorithms.contains(algorithm.kind) else { return }
        try check(execution.backend == .inprocess,
                  "--dynamic-local-steps follows --worker-speeds, which are simulated in-process; use --backend inprocess")
        try check(try speeds != nil,
                  "--dynamic-local-steps scales each worker's local steps by its speed; give --worker-speeds (e.g. 1,1,1,0.5, or lognormal:0.3) and --network")
        try check(!given(execution.faults),
                  "--dynamic-local-steps with --faults: the steps follow the speeds of all K workers, and a worker away would leave its period's steps undefined; give one or the other")
        try check(algorithm.groupSize.allSatisfy { $0 >= algorithm.workers },
                  "--dynamic-local-steps with group levels (--group-size below K): the groups average at their own points, which per-worker steps do not follow; give it without --group-size")
    }

    private func given(_ text: String?) -> Bool { !(text ?? "").trimmingCharacters(in: .whitespaces).isEmpty }
}

import Algorithms
import Foundation
import RunFiles

extension RunConfig {
    /// N·P, the worker threads of an async run over all nodes (the K of the data split and of
    /// the learning-rate scaling).
    public var asyncWorkers: Int { nodes * threadsPerNode }

    /// H of an async run: `--average-every`, else `--local-steps`.
    public var resolvedAverageEvery: Int { averageEvery ?? localSteps }

    /// Checks of the async fields; each failure names the flag.
    func validateAsync() throws {
        func check(_ ok: Bool, _ message: @autoclosure () -> String) throws {
            if !ok { throw ConfigError(message()) }
        }
        guard algorithm == .async else {
            let given = [("--nodes", nodes != 1), ("--threads-per-node", threadsPerNode != 1),
                         ("--average-every", averageEvery != nil), ("--average-seconds", averageSeconds != nil),
                         ("--async-deterministic", asyncDeterministic), ("--async-delay", asyncDelay != 0)]
            if let flag = given.first(where: { $0.1 })?.0 {
                throw ConfigError("\(flag) applies to --algorithm async only (the algorithm is \(algorithm.rawValue))")
            }
            return
        }
        try check(workers == 1 || workers == asyncWorkers,
                  "--workers is \(workers), but async runs --nodes × --threads-per-node = \(asyncWorkers) workers; leave --workers out")
        try check(!(asyncDeterministic && averageSeconds != nil),
                  "--average-seconds needs real time; the sequentialised mode (--async-deterministic) counts steps (--average-every)")
        try check(!asyncDeterministic || backend == .inprocess,
                  "--async-deterministic simulates all nodes in one process; use --backend inprocess")
        try check(asyncDelay == 0 || asyncDeterministic,
                  "--async-delay fixes when averaging completes in the sequentialised mode; add --async-deterministic")
        try check(bnSync != .first, "--bn-sync first is not supported by async (use average or local)")
        try check(momentumSync == .local, "async keeps momentum per thread; --momentum-sync must be local")
        if let every = checkpointEvery, !every.trimmingCharacters(in: .whitespaces).isEmpty {
            try check(asyncDeterministic,
                      "--checkpoint-every with async needs --async-deterministic: the concurrent mode's state depends on thread timing, so it cannot be continued bitwise")
            try check(CheckpointPeriod(parsing: every)?.inEpochs ?? true,
                      "async writes checkpoints at epoch ends, where every thread has stopped: give --checkpoint-every in epochs (e.g. 1e), got '\(every)'")
        }
        try check(network == nil, "--network (modelled time) is not supported by async yet")
    }
}

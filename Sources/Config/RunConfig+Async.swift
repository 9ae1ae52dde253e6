import Algorithms
import Foundation
import RunFiles

extension RunConfig {
    /// N·P, the worker threads of an async run over all nodes (the K of the data split and of
    /// the learning-rate scaling).
    public var asyncWorkers: Int { async.nodes * async.threadsPerNode }

    /// H of an async run: `--average-every`, else `--local-steps`.
    public var resolvedAverageEvery: Int { async.averageEvery ?? algorithm.localSteps }

    /// Checks of the async fields; each failure names the flag.
    func validateAsync() throws {
        func check(_ ok: Bool, _ message: @autoclosure () -> String) throws {
            if !ok { throw ConfigError(message()) }
        }
        let a = async, workers = algorithm.workers
        guard algorithm.kind == .async else {
            let given = [("--nodes", a.nodes != 1), ("--threads-per-node", a.threadsPerNode != 1),
                         ("--average-every", a.averageEvery != nil), ("--average-seconds", a.averageSeconds != nil),
                         ("--async-deterministic", a.asyncDeterministic), ("--async-delay", a.asyncDelay != 0)]
            if let flag = given.first(where: { $0.1 })?.0 {
                throw ConfigError("\(flag) applies to --algorithm async only (the algorithm is \(algorithm.kind.rawValue))")
            }
            return
        }
        try check(!algorithm.hasVaryingLocalSteps,
                  "async averages every --average-every node steps; a --local-steps schedule or --qsr-alpha applies to the lockstep algorithms only")
        try check(workers == 1 || workers == asyncWorkers,
                  "--workers is \(workers), but async runs --nodes × --threads-per-node = \(asyncWorkers) workers; leave --workers out")
        try check(!(a.asyncDeterministic && a.averageSeconds != nil),
                  "--average-seconds needs real time; the sequentialised mode (--async-deterministic) counts steps (--average-every)")
        try check(!a.asyncDeterministic || execution.backend == .inprocess,
                  "--async-deterministic simulates all nodes in one process; use --backend inprocess")
        try check(a.asyncDelay == 0 || a.asyncDeterministic,
                  "--async-delay fixes when averaging completes in the sequentialised mode; add --async-deterministic")
        try check(algorithm.momentumSync != .average || a.asyncDeterministic,
                  "--momentum-sync average with async needs --async-deterministic: the concurrent mode's threads use their momentum while a round completes")
        if let every = execution.checkpointEvery, !every.trimmingCharacters(in: .whitespaces).isEmpty {
            try check(a.asyncDeterministic,
                      "--checkpoint-every with async needs --async-deterministic: the concurrent mode's state depends on thread timing, so it cannot be continued bitwise")
            try check(CheckpointPeriod(parsing: every)?.inEpochs ?? true,
                      "async writes checkpoints at epoch ends, where every thread has stopped: give --checkpoint-every in epochs (e.g. 1e), got '\(every)'")
        }
    }
}

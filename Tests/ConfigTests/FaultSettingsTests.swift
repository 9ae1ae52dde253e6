import XCTest
@testable import Algorithms
@testable import Config

/// `--faults` and `--worker-speeds`: every unreadable value, and every setting they are not
/// simulated for, is a sentence naming the flag.
final class FaultSettingsTests: XCTestCase {
    private func config(_ kind: AlgorithmKind = .local, workers: Int = 4, _ edit: (inout RunConfig) -> Void) -> RunConfig {
        var c = RunConfig()
        c.schedule.epochs = 4
        c.algorithm.kind = kind
        c.algorithm.workers = workers
        edit(&c)
        return c
    }

    private func assertRefused(_ c: RunConfig, _ expected: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try c.validate(), file: file, line: line) {
            XCTAssertEqual("\($0)", expected, file: file, line: line)
        }
    }

    func testUnreadableFaultsAreSentences() {
        let form = "each event is leave:K@S or join:K@S (worker K, iteration S or epoch Se, e.g. leave:3@500,join:3@2e)"
        let cases: [(String, String)] = [
            ("crash:1@3", "--faults: 'crash:1@3' is not an event; \(form)"),
            ("leave:1", "--faults: 'leave:1' does not name a worker and a point; \(form)"),
            ("leave:x@3", "--faults: 'leave:x@3' does not name a worker and a point; \(form)"),
            ("leave:-1@3", "--faults: 'leave:-1@3' does not name a worker and a point; \(form)"),
            ("leave:4@3", "--faults: 'leave:4@3' names worker 4, but the workers are 0 to 3 (--workers 4)"),
            ("leave:1@3,", "--faults: '' is not an event; \(form)"),
            ("leave:1@-2", "--faults: 'leave:1@-2' has point '-2'; give an iteration 0 to 1000000000 or an epoch such as 2e"),
            ("leave:1@2x", "--faults: 'leave:1@2x' has point '2x'; give an iteration 0 to 1000000000 or an epoch such as 2e"),
        ]
        for (text, expected) in cases { assertRefused(config { $0.execution.faults = text }, expected) }
    }

    func testFaultsParseIterationsAndEpochs() throws {
        let schedule = try FaultSchedule(parsing: "leave:3@500, join:3@2e", workers: 4)
        XCTAssertEqual(schedule.events, [.init(joins: false, worker: 3, point: .iteration(500)), .init(joins: true, worker: 3, point: .epoch(2))])
        let absences = try schedule.resolve(workers: 4, stepsPerEpoch: 300, totalSteps: 1200)
        XCTAssertEqual(absences.absences, [3: [500..<600]])
        XCTAssertEqual(absences.present(at: 499), [0, 1, 2, 3])
        XCTAssertEqual(absences.present(at: 500), [0, 1, 2])
        XCTAssertEqual(absences.present(at: 600), [0, 1, 2, 3])
        XCTAssertEqual((0..<1200).filter(absences.changes(at:)), [500, 600])
        let forever = try FaultSchedule(parsing: "leave:0@0", workers: 2).resolve(workers: 2, stepsPerEpoch: 10, totalSteps: 20)
        XCTAssertEqual(forever.present(at: 0), [1])
        XCTAssertEqual(forever.present(at: 19), [1])
    }

    func testUnreadableSpeedsAreSentences() {
        let network: (inout RunConfig) -> Void = { $0.execution.network = "1gbit:100us" }
        let cases: [(String, String)] = [
            ("1,1,0.5", "--worker-speeds has 3 values but there are 4 workers (--workers); give one speed per worker, e.g. 1,1,0.5, or lognormal:σ"),
            ("1,1,0,1", "--worker-speeds: '0' is not a speed; each must be a number from 0.001 to 1000 (relative to 1)"),
            ("1,1e-320,1,1", "--worker-speeds: '1e-320' is not a speed; each must be a number from 0.001 to 1000 (relative to 1)"),
            ("1,1,-2,1", "--worker-speeds: '-2' is not a speed; each must be a number from 0.001 to 1000 (relative to 1)"),
            ("1,1,fast,1", "--worker-speeds: 'fast' is not a speed; each must be a number from 0.001 to 1000 (relative to 1)"),
            ("1,1,inf,1", "--worker-speeds: 'inf' is not a speed; each must be a number from 0.001 to 1000 (relative to 1)"),
            ("lognormal:0", "--worker-speeds: lognormal:0 needs a σ greater than 0 and at most 3, e.g. lognormal:0.3"),
            ("lognormal:4", "--worker-speeds: lognormal:4 needs a σ greater than 0 and at most 3, e.g. lognormal:0.3"),
            ("lognormal:", "--worker-speeds: lognormal: needs a σ greater than 0 and at most 3, e.g. lognormal:0.3"),
        ]
        for (text, expected) in cases {
            assertRefused(config { network(&$0); $0.execution.workerSpeeds = text }, expected)
        }
        assertRefused(config { $0.execution.workerSpeeds = "1,1,1,0.5" },
                      "--worker-speeds shapes the modelled wall-clock; add --network (e.g. 1gbit:100us)")
        assertRefused(config { $0.execution.modelledCompute = 0.01 },
                      "--modelled-compute sets the compute of the modelled wall-clock; add --network (e.g. 1gbit:100us)")
        assertRefused(config { network(&$0); $0.execution.modelledCompute = 0 },
                      "--modelled-compute must be greater than 0 and at most 3600, got 0")
    }

    func testFaultsAreRefusedWhereTheyAreNotSimulated() {
        assertRefused(config { $0.execution.backend = .mpi; $0.execution.faults = "leave:1@3" },
                      "--faults is simulated in-process; use --backend inprocess (under MPI a failed rank is a real failure, not a modelled one)")
        assertRefused(config(.hierarchical) { $0.algorithm.groupSize = [2]; $0.algorithm.globalEvery = [2]; $0.execution.faults = "leave:1@3" },
                      "--faults applies to --algorithm minibatch, local, post-local, slowmo, diloco only (the algorithm is hierarchical)")
        assertRefused(config(.async, workers: 1) { $0.async.nodes = 4; $0.execution.faults = "leave:1@3" },
                      "--faults applies to --algorithm minibatch, local, post-local, slowmo, diloco only (the algorithm is async); async's averaging rounds are not re-formed around a missing node")
        assertRefused(config(.diloco) { $0.algorithm.streamingFragments = 2; $0.execution.faults = "leave:1@3" },
                      "--faults applies to plain DiLoCo; Streaming DiLoCo (--streaming-fragments, --streaming-overlap) keeps fragments in flight across all workers")
        assertRefused(config(.hierarchical) { $0.algorithm.groupSize = [2]; $0.algorithm.globalEvery = [2]; $0.execution.workerSpeeds = "1,1,1,1" },
                      "--worker-speeds applies to --algorithm minibatch, local, post-local, slowmo, diloco, async only (the algorithm is hierarchical)")
        // Speeds are modelled for async (one per worker thread, N·P of them).
        XCTAssertNoThrow(try config(.async, workers: 1) { $0.async.nodes = 2; $0.async.threadsPerNode = 2
            $0.execution.network = "1gbit:100us"; $0.execution.workerSpeeds = "1,1,1,0.5" }.validate())
        for kind in RunConfig.faultAlgorithms {
            XCTAssertNoThrow(try config(kind) { $0.algorithm.switchEpoch = kind == .postLocal ? 1 : nil
                $0.execution.faults = "leave:1@3,join:1@1e"; $0.execution.network = "1gbit:100us"; $0.execution.workerSpeeds = "lognormal:0.3" }.validate(),
                             "\(kind)")
        }
    }
    /// `--dynamic-local-steps` (DyLU): only where it is simulated, with speeds to scale by; each
    /// refusal a sentence naming the flag.
    func testDynamicLocalStepsNeedSpeedsAndAnAlgorithmWithLocalPeriods() {
        let dylu: (inout RunConfig) -> Void = {
            $0.algorithm.dynamicLocalSteps = true; $0.execution.network = "1gbit:100us"; $0.execution.workerSpeeds = "1,1,1,0.5"
        }
        for kind in RunConfig.dynamicLocalStepsAlgorithms {
            XCTAssertNoThrow(try config(kind) { dylu(&$0); $0.algorithm.switchEpoch = kind == .postLocal ? 1 : nil }.validate(), "\(kind)")
        }
        assertRefused(config(.minibatch, dylu),
                      "--dynamic-local-steps applies to --algorithm local, post-local, slowmo, diloco only (the algorithm is minibatch)")
        assertRefused(config(.hierarchical) { dylu(&$0); $0.algorithm.groupSize = [2]; $0.algorithm.globalEvery = [2]
            $0.execution.workerSpeeds = nil },
                      "--dynamic-local-steps applies to --algorithm local, post-local, slowmo, diloco only (the algorithm is hierarchical)")
        assertRefused(config(.async, workers: 1) { dylu(&$0); $0.async.nodes = 4 },
                      "--dynamic-local-steps applies to --algorithm local, post-local, slowmo, diloco only (the algorithm is async); async's nodes take the same steps per round; DyLU scales the local steps of the lockstep periods")
        assertRefused(config { dylu(&$0); $0.execution.workerSpeeds = nil },
                      "--dynamic-local-steps scales each worker's local steps by its speed; give --worker-speeds (e.g. 1,1,1,0.5, or lognormal:0.3) and --network")
        assertRefused(config { dylu(&$0); $0.execution.workerSpeeds = nil; $0.execution.backend = .mpi },
                      "--dynamic-local-steps follows --worker-speeds, which are simulated in-process; use --backend inprocess")
        assertRefused(config { dylu(&$0); $0.execution.backend = .mpi },
                      "--worker-speeds is simulated in-process; use --backend inprocess (under MPI a failed rank is a real failure, not a modelled one)")
        assertRefused(config { dylu(&$0); $0.execution.faults = "leave:1@3" },
                      "--dynamic-local-steps with --faults: the steps follow the speeds of all K workers, and a worker away would leave its period's steps undefined; give one or the other")
        assertRefused(config(.slowmo) { dylu(&$0); $0.algorithm.groupSize = [2]; $0.algorithm.globalEvery = [2] },
                      "--dynamic-local-steps with group levels (--group-size below K): the groups average at their own points, which per-worker steps do not follow; give it without --group-size")
        assertRefused(config(.diloco) { dylu(&$0); $0.algorithm.streamingFragments = 2 },
                      "--worker-speeds applies to plain DiLoCo; Streaming DiLoCo (--streaming-fragments, --streaming-overlap) keeps fragments in flight across all workers")
        // Sweeps name the field where the algorithm reads it, or where it is set.
        XCTAssertTrue(config { _ in }.reads("dynamic_local_steps"))
        XCTAssertFalse(config(.minibatch) { _ in }.reads("dynamic_local_steps"))
        XCTAssertTrue(config(.minibatch) { $0.algorithm.dynamicLocalSteps = true }.reads("dynamic_local_steps"))
    }
}

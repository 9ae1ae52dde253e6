import Launch
import XCTest

/// Which rank count a restart uses, when launch gives up, and what a failure costs in steps.
final class RestartPolicyTests: XCTestCase {
    func policy(workers: Int = 8, ranks: Int = 8, minRanks: Int = 1, maxRestarts: Int = 3) -> RestartPolicy {
        RestartPolicy(workers: workers, ranks: ranks, minRanks: minRanks, maxRestarts: maxRestarts)
    }

    func testRestartUsesTheLargestUsableCountThatDividesTheWorkers() {
        let p = policy()
        XCTAssertEqual((0...10).map { p.restartRanks(usable: $0) }, [nil, 1, 2, 2, 4, 4, 4, 4, 8, 8, 8],
                       "never more than the 8 ranks asked for, always a divisor of K = 8")
        let six = policy(workers: 12, ranks: 6)
        XCTAssertEqual(six.restartRanks(usable: 5), 4)
        XCTAssertEqual(six.restartRanks(usable: 4), 4)
        XCTAssertEqual(six.restartRanks(usable: 3), 3)
        XCTAssertEqual(policy(workers: 7, ranks: 7).restartRanks(usable: 6), 1, "a prime K leaves one rank")
    }

    func testMinRanksBoundsTheRestart() {
        let p = policy(minRanks: 3)
        XCTAssertEqual(p.restartRanks(usable: 8), 8)
        XCTAssertEqual(p.restartRanks(usable: 7), 4)
        XCTAssertNil(p.restartRanks(usable: 3), "3 does not divide 8 and 2 is below --min-ranks 3")
        XCTAssertNil(p.restartRanks(usable: 2))
    }

    func testDecisions() {
        let p = policy(minRanks: 2, maxRestarts: 2)
        let died = JobEnd.rankDied(rank: 1, node: "a", signal: 9, exitCode: 137)
        XCTAssertEqual(p.decide(after: .succeeded, restarts: 0, usable: nil), .finish)
        XCTAssertEqual(p.decide(after: .stopped(signal: 2), restarts: 0, usable: nil), .stop(signal: 2))
        XCTAssertEqual(p.decide(after: died, restarts: 0, usable: nil), .probe, "a restart needs the usable ranks first")
        XCTAssertEqual(p.decide(after: died, restarts: 0, usable: 8), .restart(ranks: 8))
        XCTAssertEqual(p.decide(after: .collectiveTimeout(rank: 0), restarts: 1, usable: 6), .restart(ranks: 4))
        XCTAssertEqual(p.decide(after: .failed(exitCode: 1, signal: nil, message: nil), restarts: 1, usable: 8), .restart(ranks: 8))
        guard case .giveUp(let limit) = p.decide(after: died, restarts: 2, usable: 8) else { return XCTFail("restarts used up") }
        XCTAssertTrue(limit.contains("--max-restarts is 2"), limit)
        guard case .giveUp(let few) = p.decide(after: died, restarts: 0, usable: 1) else { return XCTFail("below --min-ranks") }
        XCTAssertTrue(few.contains("fewer than --min-ranks 2"), few)
        guard case .giveUp(let run) = p.decide(after: .runError(rank: 0, message: "the data is gone"), restarts: 0, usable: nil) else {
            return XCTFail("a run error is not restarted")
        }
        XCTAssertTrue(run.contains("the data is gone"), run)
        guard case .giveUp(let none) = policy(workers: 9, ranks: 9, minRanks: 2).decide(after: died, restarts: 0, usable: 2) else {
            return XCTFail("no divisor of 9 in [2, 2]")
        }
        XCTAssertTrue(none.contains("divides --workers 9"), none)
    }

    func testSettingsProblems() {
        XCTAssertNil(policy().problem)
        XCTAssertEqual(policy(minRanks: 9).problem, "--min-ranks 9 is more than the 8 ranks the job starts with")
        XCTAssertEqual(policy(workers: 6, ranks: 4).problem,
                       "--workers 6 must be a multiple of the 4 ranks (each rank holds workers/ranks workers)")
        XCTAssertNotNil(policy(maxRestarts: -1).problem)
    }

    func testStepsRedoneAndTheCheckpointResumedFrom() {
        XCTAssertEqual(RestartPolicy.stepsRedone(lastStep: 57, resumedFrom: 50), 7)
        XCTAssertEqual(RestartPolicy.stepsRedone(lastStep: 50, resumedFrom: 50), 0)
        XCTAssertEqual(RestartPolicy.stepsRedone(lastStep: 40, resumedFrom: 50), 0, "never negative")
        // Rank 1 died while writing step 60: every rank holds 50, only rank 0 holds 60.
        let files = [(step: 40, rank: 0), (50, 0), (60, 0), (40, 1), (50, 1)]
        XCTAssertEqual(RestartPolicy.newestCommonStep(files, ranks: 2), 50)
        XCTAssertEqual(RestartPolicy.newestCommonStep(files, ranks: 1), 60)
        XCTAssertNil(RestartPolicy.newestCommonStep(files, ranks: 3))
        XCTAssertNil(RestartPolicy.newestCommonStep([], ranks: 2))
    }
}

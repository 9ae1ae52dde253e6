import Launch
import XCTest

/// Steps redone and time lost, from the steps the jobs report and when (seconds since launch).
final class RecoveryLedgerTests: XCTestCase {
    func report(_ ledger: inout RecoveryLedger, steps: ClosedRange<Int>, from start: Double, every: Double = 0.1) -> [RecoveryLedger.Resumption] {
        steps.enumerated().compactMap { i, step in ledger.progress(step: step, at: start + Double(i) * every) }
    }

    func testTwoFailuresEachResumedFromACheckpoint() {
        var ledger = RecoveryLedger()
        ledger.jobStarted()
        XCTAssertEqual(report(&ledger, steps: 1...57, from: 1), [], "a first job resumes nothing")
        ledger.jobFailed(at: 7)  // step 57 was reached at 1 + 56 × 0.1 = 6.6 s
        ledger.jobStarted()
        let first = report(&ledger, steps: 51...130, from: 10)
        XCTAssertEqual(first, [RecoveryLedger.Resumption(resumedFrom: 50, stepsRedone: 7, secondsSinceFailure: 3)])
        // Back at step 57 at 10 + 6 × 0.1 = 10.6 s: 4 s lost.
        XCTAssertEqual(ledger.secondsLost, 4, accuracy: 1e-9)
        ledger.jobFailed(at: 20)
        ledger.jobStarted()
        let second = report(&ledger, steps: 121...200, from: 22)
        XCTAssertEqual(second.map(\.resumedFrom), [120])
        XCTAssertEqual(second.map(\.stepsRedone), [10])
        XCTAssertEqual(ledger.stepsRedone, 17)
        // Step 130 first at 10 + 79 × 0.1 = 17.9 s, again at 22 + 9 × 0.1 = 22.9 s.
        XCTAssertEqual(ledger.secondsLost, 4 + 5, accuracy: 1e-9)
        XCTAssertEqual(ledger.furthest?.step, 200)
    }

    func testAJobThatDiesBeforeItsFirstStepAddsNoRedoneSteps() {
        var ledger = RecoveryLedger()
        ledger.jobStarted()
        _ = report(&ledger, steps: 1...30, from: 0)
        ledger.jobFailed(at: 3)
        ledger.jobStarted()
        ledger.jobFailed(at: 5)  // the restart died during start-up
        ledger.jobStarted()
        let resumed = report(&ledger, steps: 21...40, from: 8)
        XCTAssertEqual(resumed, [RecoveryLedger.Resumption(resumedFrom: 20, stepsRedone: 10, secondsSinceFailure: 5)],
                       "counted from the first of the two failures")
        XCTAssertEqual(ledger.stepsRedone, 10)
    }

    func testALaunchThatEndsBehindCountsTheTimeUntilItsEnd() {
        var ledger = RecoveryLedger()
        ledger.jobStarted()
        _ = report(&ledger, steps: 1...10, from: 0, every: 1)  // step 10 at 9 s
        ledger.jobFailed(at: 10)
        ledger.close(at: 15)
        XCTAssertEqual(ledger.secondsLost, 6, accuracy: 1e-9)
        XCTAssertEqual(ledger.stepsRedone, 0, "nothing was redone")
    }

    func testARestartFromScratchRedoesEverything() {
        var ledger = RecoveryLedger()
        ledger.jobStarted()
        _ = report(&ledger, steps: 1...15, from: 0)
        ledger.jobFailed(at: 2)
        ledger.jobStarted()
        XCTAssertEqual(report(&ledger, steps: 1...20, from: 4).map(\.stepsRedone), [15], "no checkpoint yet: from step 0")
    }
}

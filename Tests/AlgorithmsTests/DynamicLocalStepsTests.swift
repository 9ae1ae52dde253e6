import XCTest
@testable import Algorithms

/// Dynamic Local Updates (Liu et al. 2024, eq. 6): H_k from the speeds, the periods a plan
/// makes, and the steps taken, against values worked out by hand.
final class DynamicLocalStepsTests: XCTestCase {
    private func local(_ h: Int, switchStep: Int? = nil, kind: AlgorithmKind = .local) throws -> SyncStrategy {
        var c = AlgorithmConfig.settings(kind, localSteps: h)
        c.switchStep = switchStep
        return try c.makeStrategy(workers: 2, parameterCount: 3, stepsPerEpoch: 100)
    }

    func testEachWorkerTakesItsShareOfThePeriodRoundedDown() {
        let d = DynamicLocalSteps(speeds: [2, 1, 0.5, 1.5, 0.001], totalSteps: 100) { _ in false }
        XCTAssertEqual(d.fastest, 2)
        XCTAssertEqual((0..<5).map { d.localSteps(worker: $0, periodLength: 8) }, [8, 4, 2, 6, 1], "⌊8·v/2⌋, at least 1")
        XCTAssertEqual((0..<5).map { d.localSteps(worker: $0, periodLength: 5) }, [5, 2, 1, 3, 1])
        XCTAssertEqual((0..<5).map { d.localSteps(worker: $0, periodLength: 1) }, [1, 1, 1, 1, 1])
        // Decimal speeds give the decimal share: in Doubles 100·0.29 is 28.999999999999996 and
        // 6·0.7/2.1 is 1.9999999999999996, which a bare floor would take to 28 and 1.
        let decimal = DynamicLocalSteps(speeds: [1, 0.29, 0.58], totalSteps: 100) { _ in false }
        XCTAssertEqual((0..<3).map { decimal.localSteps(worker: $0, periodLength: 100) }, [100, 29, 58])
        XCTAssertEqual((0..<3).map { decimal.localSteps(worker: $0, periodLength: 50) }, [50, 14, 29])
        let third = DynamicLocalSteps(speeds: [2.1, 0.7], totalSteps: 100) { _ in false }
        XCTAssertEqual(third.localSteps(worker: 1, periodLength: 6), 2)
    }

    func testPeriodsRunFromAfterOneSyncToTheNextOrTheRunsEnd() throws {
        let d = DynamicLocalSteps(speeds: [1, 0.5], totalSteps: 10, strategy: try local(4))
        // Local SGD with H = 4 averages after iterations 3 and 7; the last period is cut at 9.
        XCTAssertEqual((0..<10).map { d.period(containing: $0) },
                       [0..<4, 0..<4, 0..<4, 0..<4, 4..<8, 4..<8, 4..<8, 4..<8, 8..<10, 8..<10])
        XCTAssertEqual(d.period(from: 4), 4..<8)
        let computes = (0..<10).map { t in d.computes(worker: 1, step: t, in: d.period(containing: t)) }
        XCTAssertEqual(computes, [true, true, false, false, true, true, false, false, true, false], "2 of 4, then 1 of 2")
        XCTAssertTrue((0..<10).allSatisfy { d.computes(worker: 0, step: $0, in: d.period(containing: $0)) })
        XCTAssertEqual(d.stepsTaken(before: 10, workers: 0..<2), [10, 5])
        XCTAssertEqual((0...10).map { d.stepsTaken(before: $0, workers: 1..<2)[0] }, [0, 1, 2, 2, 2, 3, 4, 4, 4, 5, 5],
                       "the count of the computing iterations before each")
    }

    /// Post-local SGD's minibatch phase synchronizes every iteration: periods of one, which every
    /// worker takes; the local phase's periods count from the switch.
    func testAMinibatchPhaseIsPeriodsOfOneIteration() throws {
        let d = DynamicLocalSteps(speeds: [1, 0.25], totalSteps: 11, strategy: try local(4, switchStep: 3, kind: .postLocal))
        XCTAssertEqual((0..<11).map { d.period(containing: $0) },
                       [0..<1, 1..<2, 2..<3, 3..<7, 3..<7, 3..<7, 3..<7, 7..<11, 7..<11, 7..<11, 7..<11])
        XCTAssertEqual(d.stepsTaken(before: 11, workers: 0..<2), [11, 3 + 1 + 1])
    }

    func testEqualSpeedsLeaveNobodyIdle() throws {
        let d = DynamicLocalSteps(speeds: [0.5, 0.5, 0.5], totalSteps: 20, strategy: try local(3))
        for t in 0..<20 { for k in 0..<3 { XCTAssertTrue(d.computes(worker: k, step: t, in: d.period(containing: t))) } }
        XCTAssertEqual(d.stepsTaken(before: 17, workers: 0..<3), [17, 17, 17])
    }
}

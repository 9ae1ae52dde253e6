import Algorithms
import Foundation
import XCTest

/// The round policy of asynchronous local SGD, by hand: which nodes snapshot when, when a round
/// starts and completes, and what staleness it counts.
final class AsyncRoundScheduleTests: XCTestCase {
    func testSnapshotsFallDueEveryHStepsAndARoundStartsWhenAllHaveOne() {
        var s = AsyncRoundSchedule(nodes: 2, averageEvery: 3)
        XCTAssertEqual(s.due(steps: [2, 3]), [1], "node 1 reached H = 3")
        s.snapshotTaken(node: 1, atStep: 3)
        XCTAssertFalse(s.readyToStart, "node 0 has no snapshot yet")
        XCTAssertEqual(s.due(steps: [3, 4]), [0], "a node that has its snapshot is not due again")
        s.snapshotTaken(node: 0, atStep: 3)
        XCTAssertTrue(s.readyToStart)
        s.started()
        XCTAssertTrue(s.inFlight)
        XCTAssertEqual(s.due(steps: [9, 9]), [], "nothing snapshots while a round is in flight")
        XCTAssertEqual(s.nextSnapshot, [6, 6], "the next snapshot is H after this one")
    }

    func testCompletionWaitsForDelayStepsOfEveryNodeAndCountsStaleness() {
        var s = AsyncRoundSchedule(nodes: 2, averageEvery: 4)
        s.snapshotTaken(node: 0, atStep: 4)
        s.snapshotTaken(node: 1, atStep: 5)
        s.started()
        XCTAssertFalse(s.mayComplete(steps: [6, 6], delay: 2), "node 1 made 1 step of 2")
        XCTAssertTrue(s.mayComplete(steps: [6, 7], delay: 2))
        XCTAssertEqual(s.completed(steps: [6, 7]), (6 - 4) + (7 - 5))
        XCTAssertFalse(s.inFlight)
        XCTAssertEqual(s.missing, [0, 1], "every node needs a new snapshot")
        XCTAssertEqual(s.due(steps: [8, 8]), [0], "node 0's next is at 4 + 4, node 1's at 5 + 4")
    }

    func testDelayZeroCompletesAsSoonAsItStarts() {
        var s = AsyncRoundSchedule(nodes: 1, averageEvery: 1)
        s.snapshotTaken(node: 0, atStep: 1)
        s.started()
        XCTAssertTrue(s.mayComplete(steps: [1], delay: 0))
        XCTAssertEqual(s.completed(steps: [1]), 0)
    }

    func testTimeBasedRoundsLeaveTheDueDecisionToTheClock() {
        var s = AsyncRoundSchedule(nodes: 2, averageEvery: nil)
        XCTAssertEqual(s.due(steps: [1_000_000, 1_000_000]), [], "no step count makes a snapshot due")
        for n in s.missing { s.snapshotTaken(node: n, atStep: 10) }
        XCTAssertTrue(s.readyToStart)
        XCTAssertEqual(s.nextSnapshot, [Int.max, Int.max])
    }

    func testTheScheduleIsItsOwnCheckpoint() throws {
        var s = AsyncRoundSchedule(nodes: 3, averageEvery: 2)
        s.snapshotTaken(node: 2, atStep: 2)
        let decoded = try JSONDecoder().decode(AsyncRoundSchedule.self, from: JSONEncoder().encode(s))
        XCTAssertEqual(decoded, s)
    }
}

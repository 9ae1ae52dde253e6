import Foundation
import Optim
import XCTest
@testable import Algorithms

/// `--local-steps` schedules and the Quadratic Synchronization Rule: parsing, and the iterations
/// after which the local phase averages, against lists worked out by hand or from the formula.
final class LocalStepsScheduleTests: XCTestCase {
    func testParsesAConstantAndASchedule() throws {
        XCTAssertEqual(try LocalStepsSetting(parsing: "8"), .constant(8))
        let s = try LocalStepsSetting(parsing: "1@0, 4@2e,16@5e")
        XCTAssertEqual(s, .schedule([LocalStepsPoint(localSteps: 1, start: 0, inEpochs: false),
                                     LocalStepsPoint(localSteps: 4, start: 2, inEpochs: true),
                                     LocalStepsPoint(localSteps: 16, start: 5, inEpochs: true)]))
        XCTAssertEqual(s.text, "1@0,4@2e,16@5e")
        XCTAssertEqual(s.first, 1)
        XCTAssertEqual(try LocalStepsSetting(parsing: "2@0e,3@7"), .schedule([.init(localSteps: 2, start: 0, inEpochs: true),
                                                                            .init(localSteps: 3, start: 7, inEpochs: false)]))
    }

    func testBadSchedulesAreASentence() {
        let cases: [(String, String)] = [
            ("1@0,4@x", "each --local-steps schedule entry is H@N (from iteration N) or H@Ne (from epoch N), got '4@x'"),
            ("1@0,,4@2", "each --local-steps schedule entry is H@N (from iteration N) or H@Ne (from epoch N), got ''"),
            ("abc", "each --local-steps schedule entry is H@N (from iteration N) or H@Ne (from epoch N), got 'abc'"),
            ("1@-3", "each --local-steps schedule entry is H@N (from iteration N) or H@Ne (from epoch N), got '1@-3'"),
            ("1@3,4@5", "a --local-steps schedule starts at 0 (e.g. 1@0), got 1@3"),
            ("1@0,4@5,2@5", "--local-steps schedule points must increase: 2@5 does not come after 4@5"),
            ("1@0e,4@2e,8@1e", "--local-steps schedule points must increase: 8@1e does not come after 4@2e"),
            ("0@0", "H in the --local-steps schedule must be between 1 and 1000000, got 0 in '0@0'"),
            ("1@0,2000000@4", "H in the --local-steps schedule must be between 1 and 1000000, got 2000000 in '2000000@4'"),
            ("1@0,2@2000000000", "a --local-steps schedule point must be at most 1000000000, got '2@2000000000'"),
            (Array(repeating: "1@0", count: 101).joined(separator: ","), "a --local-steps schedule takes at most 100 entries, got 101"),
        ]
        for (text, sentence) in cases {
            XCTAssertThrowsError(try LocalStepsSetting(parsing: text), text) { XCTAssertEqual("\($0)", sentence) }
        }
    }

    func testCodableKeepsAConstantAnInteger() throws {
        struct Box: Codable { var h: LocalStepsSetting }
        XCTAssertEqual(String(decoding: try JSONEncoder().encode(Box(h: .constant(8))), as: UTF8.self), #"{"h":8}"#)
        let schedule = try LocalStepsSetting(parsing: "1@0,4@2e")
        XCTAssertEqual(String(decoding: try JSONEncoder().encode(Box(h: schedule)), as: UTF8.self), #"{"h":"1@0,4@2e"}"#)
        XCTAssertEqual(try JSONDecoder().decode(Box.self, from: Data(#"{"h":"1@0,4@2e"}"#.utf8)).h, schedule)
        XCTAssertEqual(try JSONDecoder().decode(Box.self, from: Data(#"{"h":"8"}"#.utf8)).h, .constant(8))
        XCTAssertThrowsError(try JSONDecoder().decode(Box.self, from: Data(#"{"h":"1@2"}"#.utf8))) { error in
            guard case .dataCorrupted(let c) = error as? DecodingError else { return XCTFail("\(error)") }
            XCTAssertEqual("\(c.underlyingError!)", "a --local-steps schedule starts at 0 (e.g. 1@0), got 1@2")
        }
    }

    /// The iterations after which `strategy` averages globally over `total` iterations.
    private func averages(_ strategy: SyncStrategy, workers: Int = 4, total: Int) -> [Int] {
        (0..<total).filter { strategy.plan(step: $0, workers: workers) == .averageWeights(groupSize: workers, global: true) }
    }

    private func config(_ kind: AlgorithmKind, _ localSteps: String, workers: Int = 4) throws -> AlgorithmConfig {
        var c = AlgorithmConfig.settings(kind)
        c.workers = workers
        c.localStepsSetting = try LocalStepsSetting(parsing: localSteps)
        return c
    }

    func testAScheduleAveragesWhereWorkedOutByHand() throws {
        // 4 iterations per epoch, 18 in all. H = 1 on 0–3, 3 from epoch 1 (iteration 4), 2 from
        // epoch 3 (iteration 12). Periods start at 0, 1, 2, 3 (H 1), 4, 7, 10 (H 3, the one from
        // 10 looks H up at 10 and ends at 12), 13, 15 (H 2), 17 (H 2, cut at the last iteration).
        let c = try config(.local, "1@0,3@1e,2@3e")
        let s = try c.makeStrategy(workers: 4, parameterCount: 2, stepsPerEpoch: 4, totalSteps: 18)
        XCTAssertEqual(averages(s, total: 20), [0, 1, 2, 3, 6, 9, 12, 14, 16, 17])
        XCTAssertEqual(s.averagingSchedule?.changes, [[0, 1], [4, 3], [13, 2], [17, 1]])
        XCTAssertEqual(s.averagingSchedule?.count, 10)
        // Post-local: periods start at the switch (iteration 5), H from the run's own iterations.
        var p = try config(.postLocal, "1@0,3@1e,2@3e")
        p.switchStep = 5
        let post = try p.makeStrategy(workers: 4, parameterCount: 2, stepsPerEpoch: 4, totalSteps: 18)
        XCTAssertEqual((0..<5).map { post.plan(step: $0, workers: 4) }, Array(repeating: .reduceGradients, count: 5))
        XCTAssertEqual(averages(post, total: 18), [7, 10, 13, 15, 17])
        // Epoch points that land on or before an earlier iteration point are refused at build.
        XCTAssertThrowsError(try config(.local, "1@0,2@9,4@2e").makeStrategy(workers: 4, parameterCount: 2, stepsPerEpoch: 4, totalSteps: 18)) {
            XCTAssertEqual("\($0)", "--local-steps schedule points must increase: 4@2e (iteration 8) does not come after 2@9 (iteration 9) at 4 iterations per epoch")
        }
    }

    /// A constant H plans exactly as before the schedules: every H-th iteration from the start of
    /// the local phase, no cap at the end, and no `AveragingSchedule`.
    func testAConstantHPlansAsBefore() throws {
        for (kind, switchStep) in [(AlgorithmKind.local, nil), (.postLocal, 6), (.slowmo, nil), (.diloco, 3)] as [(AlgorithmKind, Int?)] {
            var c = try config(kind, "4")
            c.switchStep = switchStep
            let s = try c.makeStrategy(workers: 4, parameterCount: 2, stepsPerEpoch: 5, totalSteps: 30)
            XCTAssertNil(s.averagingSchedule)
            let first = switchStep ?? 0
            let old = (0..<30).map { step -> SyncPlan in
                if step < first { return .reduceGradients }
                return (step - first + 1) % 4 == 0 ? .averageWeights(groupSize: 4, global: true) : .none
            }
            XCTAssertEqual((0..<30).map { s.plan(step: $0, workers: 4) }, old, "\(kind)")
        }
        // A one-entry schedule is the same H, and ends on an average at the last iteration.
        let one = try config(.local, "4@0").makeStrategy(workers: 4, parameterCount: 2, stepsPerEpoch: 5, totalSteps: 30)
        XCTAssertEqual(averages(one, total: 30), [3, 7, 11, 15, 19, 23, 27, 29])
    }

    func testHierarchicalLevelsRefuseASchedule() throws {
        var c = try config(.hierarchical, "1@0,2@4")
        c.groupSize = [2]
        XCTAssertThrowsError(try c.makeStrategy(workers: 4, parameterCount: 2, stepsPerEpoch: 4, totalSteps: 16)) {
            XCTAssertTrue("\($0)".hasPrefix("a --local-steps schedule or --qsr-alpha times global averages only"), "\($0)")
        }
        c.groupSize = [4]  // one level: all workers
        XCTAssertNoThrow(try c.makeStrategy(workers: 4, parameterCount: 2, stepsPerEpoch: 4, totalSteps: 16))
    }
}

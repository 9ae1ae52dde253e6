import Algorithms
import Foundation
import XCTest

/// The registry of strategies: names as the CLI and config files spell them, in a fixed order,
/// each registered kind building its own strategy type.
final class AlgorithmKindTests: XCTestCase {
    func testNamesOrderAndRoundTrip() throws {
        XCTAssertEqual(AlgorithmKind.allCases.map(\.rawValue), ["minibatch", "local", "post-local", "hierarchical", "slowmo", "diloco", "async"])
        XCTAssertEqual(AlgorithmKind(rawValue: "post-local"), .postLocal)
        XCTAssertNil(AlgorithmKind(rawValue: "postlocal"), "only registered names")
        let json = try JSONEncoder().encode([AlgorithmKind.slowmo])
        XCTAssertEqual(String(decoding: json, as: UTF8.self), #"["slowmo"]"#)
        XCTAssertThrowsError(try JSONDecoder().decode([AlgorithmKind].self, from: Data(#"["fedavg"]"#.utf8)))
    }

    func testEachKindBuildsItsStrategy() throws {
        func build(_ kind: AlgorithmKind, _ edit: (inout AlgorithmConfig) -> Void = { _ in }) throws -> SyncStrategy {
            var c = AlgorithmConfig.settings(kind, localSteps: 2)
            edit(&c)
            return try c.makeStrategy(workers: 4, parameterCount: 3, stepsPerEpoch: 1)
        }
        XCTAssertTrue(try build(.minibatch) is MinibatchSGD)
        XCTAssertTrue(try build(.local) is PeriodicAveraging)
        XCTAssertTrue(try build(.local) { $0.switchStep = 3 } is PostLocalSGD, "local with a switching point")
        XCTAssertTrue(try build(.postLocal) { $0.switchStep = 3 } is PostLocalSGD)
        XCTAssertTrue(try build(.hierarchical) { $0.groupSize = [2] } is PeriodicAveraging)
        XCTAssertTrue(try build(.slowmo) is SlowMo)
        XCTAssertEqual((try build(.diloco) as? OuterOptimization)?.stateKey, "outer")
        XCTAssertThrowsError(try build(.async))
    }
}

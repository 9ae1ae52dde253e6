import Foundation
import XCTest
@testable import Optim

final class ScheduleConfigTests: XCTestCase {
    private func assertInvalid(_ field: String, _ change: (inout ScheduleConfig) -> Void,
                               file: StaticString = #filePath, line: UInt = #line) {
        var c = ScheduleConfig()
        change(&c)
        XCTAssertThrowsError(try c.validate(), file: file, line: line) { error in
            guard let e = error as? OptimConfigError else { return XCTFail("\(error)", file: file, line: line) }
            XCTAssertEqual(e.field, field, "\(e)", file: file, line: line)
            XCTAssertTrue(e.description.hasPrefix(field), "sentence names the field: \(e)", file: file, line: line)
        }
    }

    func testDefaultsAreTheStudysAndValid() throws {
        let c = ScheduleConfig()
        XCTAssertEqual(c.baseLearningRate, 0.1)
        XCTAssertEqual(c.kind, .step)
        XCTAssertEqual(c.decayEpochs, [30, 60, 80])
        XCTAssertEqual(c.decayFactor, 0.1)
        XCTAssertEqual(c.warmupEpochs, 5)
        XCTAssertEqual(c.epochs, 90)
        XCTAssertTrue(c.scaleLearningRate)
        try c.validate()
    }

    func testInvalidValuesNameTheirField() {
        assertInvalid("baseLearningRate") { $0.baseLearningRate = -0.1 }
        assertInvalid("baseLearningRate") { $0.baseLearningRate = 0 }
        assertInvalid("baseLearningRate") { $0.baseLearningRate = .nan }
        assertInvalid("decayFactor") { $0.decayFactor = 0 }
        assertInvalid("decayFactor") { $0.decayFactor = 10 }
        assertInvalid("epochs") { $0.epochs = 0 }
        assertInvalid("maxLearningRate") { $0.maxLearningRate = 0 }
        assertInvalid("maxLearningRate") { $0.maxLearningRate = .infinity }
        assertInvalid("warmupEpochs") { $0.warmupEpochs = -1 }
        // Warm-up longer than training is an error, not a schedule that never reaches its peak.
        assertInvalid("warmupEpochs") { $0.warmupEpochs = 91 }
        assertInvalid("decayEpochs") { $0.decayEpochs = [30, 30, 80] }
        assertInvalid("decayEpochs") { $0.decayEpochs = [60, 30] }
        assertInvalid("decayEpochs") { $0.decayEpochs = [0, 30] }
        assertInvalid("decayEpochs") { $0.decayEpochs = [3, 30] }        // inside the 5 warm-up epochs
        assertInvalid("decayEpochs") { $0.decayEpochs = [5, 30] }        // the moment warm-up peaks
        assertInvalid("decayEpochs") { $0.decayEpochs = [30, 90] }       // at the end of training
        assertInvalid("decayEpochs") { $0.epochs = 20 }                  // default decays past the end
    }

    func testBoundaryValuesAreAccepted() throws {
        var c = ScheduleConfig()
        c.decayEpochs = [6, 89]              // one epoch at the peak after warm-up, and before the last epoch
        c.decayFactor = 1
        try c.validate()
        c = ScheduleConfig()
        c.decayEpochs = []
        try c.validate()
        // Other kinds ignore decayEpochs, and warm-up may last the whole run.
        c = ScheduleConfig()
        c.kind = .cosine
        c.epochs = 10
        c.warmupEpochs = 10
        try c.validate()
    }

    func testDecodingFillsMissingFieldsWithDefaultsAndRoundTrips() throws {
        let json = #"{"kind": "cosine", "epochs": 60, "baseLearningRate": 0.05}"#
        let partial = try JSONDecoder().decode(ScheduleConfig.self, from: Data(json.utf8))
        var expected = ScheduleConfig()
        expected.kind = .cosine
        expected.epochs = 60
        expected.baseLearningRate = 0.05
        XCTAssertEqual(partial, expected)
        let again = try JSONDecoder().decode(ScheduleConfig.self, from: JSONEncoder().encode(expected))
        XCTAssertEqual(again, expected)
        XCTAssertThrowsError(try JSONDecoder().decode(ScheduleConfig.self, from: Data(#"{"kind": "poly"}"#.utf8)))
    }
}

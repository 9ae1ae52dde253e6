import Foundation
import XCTest
@testable import Optim

final class OptimizerConfigTests: XCTestCase {
    private func assertInvalid(_ field: String, _ change: (inout OptimizerConfig) -> Void,
                               file: StaticString = #filePath, line: UInt = #line) {
        var c = OptimizerConfig()
        change(&c)
        XCTAssertThrowsError(try c.validate(), file: file, line: line) { error in
            guard let e = error as? OptimConfigError else { return XCTFail("\(error)", file: file, line: line) }
            XCTAssertEqual(e.field, field, file: file, line: line)
            XCTAssertTrue(e.description.hasPrefix(field), "sentence names the field: \(e)", file: file, line: line)
        }
    }

    func testDefaultsAreTheStudysAndValid() throws {
        let c = OptimizerConfig()
        XCTAssertEqual(c.kind, .sgd)
        XCTAssertEqual(c.momentum, 0.9)
        XCTAssertTrue(c.nesterov)
        XCTAssertEqual(c.weightDecay, 5e-4)
        XCTAssertEqual(c.larsTrustCoefficient, 0.02)
        XCTAssertEqual(c.larsEpsilon, 1e-8)
        XCTAssertTrue(c.larsClip)
        XCTAssertTrue(c.momentumCorrection)
        try c.validate()
    }

    func testInvalidValuesNameTheirField() {
        assertInvalid("momentum") { $0.momentum = 1 }
        assertInvalid("momentum") { $0.momentum = -0.1 }
        assertInvalid("momentum") { $0.momentum = .nan }
        assertInvalid("weightDecay") { $0.weightDecay = -1e-4 }
        assertInvalid("weightDecay") { $0.weightDecay = .infinity }
        assertInvalid("larsTrustCoefficient") { $0.larsTrustCoefficient = 0 }
        assertInvalid("larsEpsilon") { $0.larsEpsilon = -1 }
    }

    func testDecodingFillsMissingFieldsWithDefaultsAndRoundTrips() throws {
        let partial = try JSONDecoder().decode(OptimizerConfig.self, from: Data(#"{"kind": "lars", "momentum": 0.8}"#.utf8))
        var expected = OptimizerConfig()
        expected.kind = .lars
        expected.momentum = 0.8
        XCTAssertEqual(partial, expected)
        let again = try JSONDecoder().decode(OptimizerConfig.self, from: JSONEncoder().encode(expected))
        XCTAssertEqual(again, expected)
        XCTAssertThrowsError(try JSONDecoder().decode(OptimizerConfig.self, from: Data(#"{"kind": "adam"}"#.utf8)))
    }
}

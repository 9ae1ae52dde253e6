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
        XCTAssertEqual(c.beta1, 0.9)
        XCTAssertEqual(c.beta2, 0.999)
        XCTAssertEqual(c.epsilon, 1e-8)
        XCTAssertNil(c.gradClip)
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
        assertInvalid("beta1") { $0.beta1 = 1 }
        assertInvalid("beta1") { $0.beta1 = -0.1 }
        assertInvalid("beta2") { $0.beta2 = 1.5 }
        assertInvalid("beta2") { $0.beta2 = .nan }
        assertInvalid("epsilon") { $0.epsilon = -1e-8 }
        assertInvalid("epsilon") { $0.epsilon = .infinity }
        assertInvalid("gradClip") { $0.gradClip = -1 }
        assertInvalid("gradClip") { $0.gradClip = .infinity }
    }

    func testAdamSettingsSaySentences() throws {
        var c = OptimizerConfig()
        c.beta2 = 1
        XCTAssertThrowsError(try c.validate()) { error in
            XCTAssertEqual("\(error)", "beta2 (Adam's second-moment decay) must be in [0, 1), got 1.0.")
        }
        c = OptimizerConfig()
        c.gradClip = -0.5
        XCTAssertThrowsError(try c.validate()) { error in
            XCTAssertEqual("\(error)", "gradClip (the largest global norm of the gradient) must be a finite number ≥ 0 (0: no clipping), got -0.5.")
        }
        c.gradClip = 0
        try c.validate()
        c.kind = .adamw
        c.beta1 = 0
        c.epsilon = 1e-30
        try c.validate()
        c.epsilon = 0
        XCTAssertThrowsError(try c.validate()) { error in
            XCTAssertTrue("\(error)".contains("epsilon (Adam's denominator term) must be a finite number > 0, got 0.0"), "\(error)")
        }
    }

    func testDecodingFillsMissingFieldsWithDefaultsAndRoundTrips() throws {
        let partial = try JSONDecoder().decode(OptimizerConfig.self, from: Data(#"{"kind": "lars", "momentum": 0.8}"#.utf8))
        var expected = OptimizerConfig()
        expected.kind = .lars
        expected.momentum = 0.8
        XCTAssertEqual(partial, expected)
        let again = try JSONDecoder().decode(OptimizerConfig.self, from: JSONEncoder().encode(expected))
        XCTAssertEqual(again, expected)
        XCTAssertThrowsError(try JSONDecoder().decode(OptimizerConfig.self, from: Data(#"{"kind": "rmsprop"}"#.utf8)))
        let adam = try JSONDecoder().decode(OptimizerConfig.self, from: Data(#"{"kind": "adamw", "beta2": 0.99, "gradClip": 1}"#.utf8))
        XCTAssertEqual(adam.kind, .adamw)
        XCTAssertEqual(adam.beta2, 0.99)
        XCTAssertEqual(adam.beta1, 0.9, "missing key = default")
        XCTAssertEqual(adam.gradClip, 1)
        XCTAssertEqual(try JSONDecoder().decode(OptimizerConfig.self, from: JSONEncoder().encode(adam)), adam)
    }
}

import Algorithms
import Foundation
import RunFiles
import TestSupport
import XCTest
@testable import Config

/// `local_steps` as a number or a schedule in config files and config.json, and `qsr_alpha`.
final class LocalStepsConfigTests: XCTestCase {
    private func write(_ name: String, _ contents: String) throws -> String {
        let path = try makeTemporaryDirectory(self) + "/" + name
        try AtomicFile.write(Data(contents.utf8), to: path)
        return path
    }

    func testAConstantKeepsItsConfigJSON() throws {
        var c = RunConfig()
        c.algorithm.localSteps = 8
        let json = String(decoding: try JSONEncoder().encode(c), as: UTF8.self)
        XCTAssertTrue(json.contains(#""local_steps":8,"#) || json.contains(#""local_steps":8}"#), json)
        XCTAssertFalse(json.contains("qsr_alpha"))
        XCTAssertEqual(try JSONDecoder().decode(RunConfig.self, from: Data(json.utf8)), c)
    }

    func testASchedulesFromTOMLYAMLAndBackThroughConfigJSON() throws {
        let toml = try ConfigLoader.load(try write("run.toml", "[algorithm]\nlocal_steps = \"1@0,4@2e,16@5e\"\nqsr_alpha = 0.25\n"))
        let yaml = try ConfigLoader.load(try write("run.yaml", "local_steps: 1@0,4@2e,16@5e\nqsr_alpha: 0.25\n"))
        XCTAssertEqual(toml, yaml)
        XCTAssertEqual(toml.algorithm.localStepsSetting.text, "1@0,4@2e,16@5e")
        XCTAssertEqual(toml.algorithm.localSteps, 1, "the first H, for what reads H as a number")
        XCTAssertEqual(toml.algorithm.qsrAlpha, 0.25)
        let json = String(decoding: try JSONEncoder().encode(toml), as: UTF8.self)
        XCTAssertTrue(json.contains(#""local_steps":"1@0,4@2e,16@5e""#), json)
        XCTAssertTrue(json.contains(#""qsr_alpha":0.25"#), json)
        XCTAssertEqual(try JSONDecoder().decode(RunConfig.self, from: Data(json.utf8)), toml)
        XCTAssertEqual(try ConfigLoader.load(try write("c.toml", "local_steps = 8\n")).algorithm.localStepsSetting, .constant(8))
    }

    func testBadSchedulesInFilesAreASentence() throws {
        let path = try write("run.toml", "local_steps = \"4@2e\"\n")
        XCTAssertThrowsError(try ConfigLoader.load(path)) {
            XCTAssertEqual("\($0)", "field 'local_steps' in \(path): a --local-steps schedule starts at 0 (e.g. 4@0), got 4@2e.")
        }
        let zero = try write("zero.toml", "local_steps = 0\n")
        XCTAssertThrowsError(try ConfigLoader.load(zero).validate()) { XCTAssertTrue("\($0)".contains("must be between 1 and 1000000, got 0"), "\($0)") }
    }

    func testAsyncRefusesAScheduleAndQSR() throws {
        var c = RunConfig()
        c.algorithm.kind = .async
        c.algorithm.qsrAlpha = 0.1
        XCTAssertThrowsError(try c.validate()) {
            XCTAssertEqual("\($0)", "async averages every --average-every node steps; a --local-steps schedule or --qsr-alpha applies to the lockstep algorithms only")
        }
    }
}

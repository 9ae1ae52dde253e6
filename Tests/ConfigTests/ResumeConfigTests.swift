import Foundation
import RunFiles
import TestSupport
import XCTest
@testable import Config

/// `--resume DIR` reads the run's config.json, or says why that run cannot be continued and how
/// to start it again, before anything is loaded.
final class ResumeConfigTests: XCTestCase {
    let uuid = "0F4D9C3E-8B1A-4C2D-9E7F-123456789ABC"

    private func make(_ files: [String]) throws -> String {
        let dir = try makeTemporaryDirectory(self)
        for file in files {
            try Data("x".utf8).write(to: URL(fileURLWithPath: dir + "/" + file))
        }
        return dir
    }

    func testResumeSaysWhyItCannotContinueAndHowToStartAgain() throws {
        let absent = NSTemporaryDirectory() + "localsgd-absent-\(uuid)"
        XCTAssertThrowsError(try RunDirectory.configToResume(absent)) {
            XCTAssertEqual("\($0)", "--resume \(absent): no such run directory")
        }
        let empty = try make([])
        XCTAssertThrowsError(try RunDirectory.configToResume(empty)) {
            XCTAssertEqual("\($0)", "--resume \(empty): it holds no config.json, so the run stopped before it started; start it again with --out \(empty)")
        }
        let early = try makeTemporaryDirectory(self)
        try AtomicFile.write(Data(#"{"checkpoint_every": "2e", "epochs": 3}"#.utf8), to: early + "/config.json")
        XCTAssertThrowsError(try RunDirectory.configToResume(early)) {
            XCTAssertEqual("\($0)", "--resume \(early): the run stopped before writing its first checkpoint (one every 2 epochs into \(early)/checkpoints), so there is nothing to continue from; start it again with --out \(early)")
        }
        try AtomicFile.write(Data(#"{"epochs": 3}"#.utf8), to: early + "/config.json")
        XCTAssertThrowsError(try RunDirectory.configToResume(early)) {
            XCTAssertTrue("\($0)".contains("the run was made without --checkpoint-every"), "\($0)")
        }
        try AtomicFile.write(Data("{}".utf8), to: early + "/summary.json")
        XCTAssertThrowsError(try RunDirectory.configToResume(early)) {
            XCTAssertTrue("\($0)".contains("the run there finished (summary.json) and kept no checkpoint"), "\($0)")
        }
        try FileManager.default.createDirectory(atPath: early + "/checkpoints", withIntermediateDirectories: true)
        try AtomicFile.write(Data("x".utf8), to: early + "/checkpoints/step-00000003-rank-0.safetensors")
        XCTAssertEqual(try RunDirectory.configToResume(early).schedule.epochs, 3)
    }
}

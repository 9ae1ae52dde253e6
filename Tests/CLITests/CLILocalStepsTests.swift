import Foundation
import XCTest

/// `--local-steps` schedules and `--qsr-alpha` from the command line: a sentence and a non-zero
/// exit for what cannot run, summary.json's `effective_local_steps` for what can.
extension CLITests {
    func testLocalStepsScheduleFlags() throws {
        let dir = try temporaryDirectory()
        let refused: [([String], String)] = [
            (["--local-steps", "1@0,4@x"], "each --local-steps schedule entry is H@N (from iteration N) or H@Ne (from epoch N), got '4@x'"),
            (["--local-steps", "2@3"], "a --local-steps schedule starts at 0 (e.g. 2@0), got 2@3"),
            (["--local-steps", "0"], "localsgd: error: --local-steps must be between 1 and 1000000, got 0."),
            (["--qsr-alpha", "-1"], "localsgd: error: --qsr-alpha must be greater than 0 and at most 1000, got -1."),
            (["--algorithm", "async", "--qsr-alpha", "0.1"], "a --local-steps schedule or --qsr-alpha applies to the lockstep algorithms only"),
            (["--algorithm", "hierarchical", "--workers", "4", "--group-size", "2", "--local-steps", "1@0,2@4"],
             "a --local-steps schedule or --qsr-alpha times global averages only"),
        ]
        for (arguments, expected) in refused {
            let r = try run(["train"] + small + arguments + ["--out", dir + "/refused"])
            XCTAssertNotEqual(r.status, 0, "\(arguments)")
            XCTAssertTrue(r.stderr.contains(expected), "\(arguments): \(r.stderr)")
        }
        let ok = try run(["train"] + small + ["--algorithm", "local", "--workers", "2", "--local-steps", "1@0,2@1e", "--out", dir + "/ok"])
        XCTAssertEqual(ok.status, 0, ok.stderr)
        let summary = try String(contentsOfFile: dir + "/ok/summary.json", encoding: .utf8)
        XCTAssertTrue(summary.contains("effective_local_steps"), summary)
        let config = try String(contentsOfFile: dir + "/ok/config.json", encoding: .utf8)
        XCTAssertTrue(config.contains(#""local_steps" : "1@0,2@1e""#), config)
    }
}

import Foundation
import XCTest

/// Numbers that once trapped (overflow, exit 132), aborted an allocation or started 540 threads
/// are refused with one sentence naming the flag or field, from flags, config and sweep files.
extension CLITests {
    func testOutOfRangeNumbersAreOneSentenceFromFlagsConfigAndSweepFiles() throws {
        let dir = try temporaryDirectory()
        let flags: [([String], String)] = [
            (["--checkpoint-every", "9223372036854775807e"], "--checkpoint-every takes N steps (1 to 10^9"),
            (["--epochs", "4611686018427387904"], "--epochs must be between 1 and 10000, got 4611686018427387904"),
            (["--epochs", "2147483648"], "--epochs must be between 1 and 10000"),
            (["--augment-crop", "4611686018427387904"], "--augment-crop must be between 0 and 64"),
            (["--synthetic-train", "2147483648"], "--synthetic-train must be between 1 and 100000"),
            (["--synthetic-test", "2147483648"], "--synthetic-test must be between 1 and 100000"),
            (["--eval-batch-size", "2147483648"], "--eval-batch-size must be between 1 and 4096"),
            (["--threads", "2147483648"], "--threads must be between 1 and 256"),
            (["--inject-latency", "1e300"], "--inject-latency must be between 0 and 10"),
        ]
        for (arguments, expected) in flags {
            let start = Date()
            let r = try run(["train"] + small + arguments + ["--out", dir + "/flag"])
            XCTAssertEqual(r.status, 1, "\(arguments): \(r.stderr)")
            XCTAssertTrue(r.stderr.contains("localsgd: error: " + expected), "\(arguments): \(r.stderr)")
            XCTAssertLessThan(Date().timeIntervalSince(start), 10, "\(arguments)")
            XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/flag"), "nothing written for \(arguments)")
        }
        try "epochs = 2147483648\n".write(toFile: dir + "/run.toml", atomically: true, encoding: .utf8)
        let file = try run(["train", "--config", dir + "/run.toml"])
        XCTAssertEqual(file.status, 1)
        XCTAssertTrue(file.stderr.contains("field 'epochs' in \(dir)/run.toml must be between 1 and 10000, got 2147483648."), file.stderr)

        try "threads: 100000\ncheckpoint_every: 9223372036854775807e\n".write(toFile: dir + "/run.yaml", atomically: true, encoding: .utf8)
        let yaml = try run(["train", "--config", dir + "/run.yaml"])
        XCTAssertEqual(yaml.status, 1)
        XCTAssertTrue(yaml.stderr.contains("field 'threads' in \(dir)/run.yaml must be between 1 and 256"), yaml.stderr)

        try "epochs = 1\n[axes]\nsynthetic_train = [64, 2147483648]\n".write(toFile: dir + "/sweep.toml", atomically: true, encoding: .utf8)
        let sweep = try run(["sweep", dir + "/sweep.toml", "--dry-run"])
        XCTAssertEqual(sweep.status, 1)
        XCTAssertTrue(sweep.stderr.contains("field 'synthetic_train' in run 2 of sweep \(dir)/sweep.toml must be between 1 and 100000"),
                      sweep.stderr)
    }

    /// `bench` and `study timing` once aborted an allocation, overflowed or started 2³¹ threads.
    func testBenchAndTimingNumbersAreBounded() throws {
        let cases: [([String], String)] = [
            (["bench", "--models", "logreg", "--batches", "2147483648"], "--batches takes integers between 1 and 4096"),
            (["bench", "--models", "logreg", "--threads", "2147483648"], "--threads takes integers between 1 and 256"),
            (["bench", "--models", "logreg", "--steps", "9223372036854775807"], "--steps must be between 1 and 10^6"),
            (["bench", "--averaging", "--parameters", "9223372036854775807"], "--parameters takes integers between 1 and 1000000000"),
            (["study", "timing", "--params", "1e300", "--compute-ms", "1"], "--params takes a positive count up to 10^12"),
            (["study", "timing", "--params", "25M", "--compute-ms", "1", "--bytes-per-param", "9223372036854775807"],
             "--bytes-per-param must be between 1 and 16"),
            (["study", "timing", "--params", "25M", "--compute-ms", "1", "--workers", "9223372036854775807"],
             "--workers takes values between 1 and 10^6"),
        ]
        for (arguments, expected) in cases {
            let r = try run(arguments)
            XCTAssertEqual(r.status, 1, "\(arguments): \(r.stderr)")
            XCTAssertTrue(r.stderr.contains("localsgd: error: " + expected), "\(arguments): \(r.stderr)")
        }
        let largest = try run(["study", "timing", "--params", "1000000000000", "--compute-ms", "1e7", "--bytes-per-param", "16",
                               "--workers", "1000000", "--local-steps", "1000000", "--csv"])
        XCTAssertEqual(largest.status, 0, largest.stderr)
    }

    func testHelpStatesTheRanges() throws {
        let help = try run(["train", "--help"]).stdout.split(whereSeparator: \.isWhitespace).joined(separator: " ")
        for phrase in ["Epochs to train, 1 to 10000", "Threads, 1 to 256", "Number of workers K, 1 to 1024",
                       "Random-crop padding in pixels, 0 to 64", "(1 to 10^9, e.g. 500)"] {
            XCTAssertTrue(help.contains(phrase), "--help lacks '\(phrase)'")
        }
        let timing = try run(["study", "timing", "--help"]).stdout.split(whereSeparator: \.isWhitespace).joined(separator: " ")
        XCTAssertTrue(timing.contains("(default: 1,2,4,8,16,32,64,128,256)"), timing)
        XCTAssertTrue(timing.contains("(default: 1,2,4,8,16,32)"), timing)
    }
}

extension CLITests {
    /// A study directory belongs to the preset that wrote it: another preset, or a --dry-run of
    /// one, is refused instead of replacing its study.toml; the same preset resumes.
    func testAStudyDirectoryKeepsItsPreset() throws {
        let dir = try temporaryDirectory() + "/study"
        let first = try run(["study", "convex", "--dry-run", "--out", dir])
        XCTAssertEqual(first.status, 0, first.stderr)
        let written = try String(contentsOfFile: dir + "/study.toml", encoding: .utf8)
        XCTAssertTrue(written.hasPrefix("# localsgd study convex\n"), written)
        let other = try run(["study", "paper", "--quick", "--dry-run", "--out", dir])
        XCTAssertEqual(other.status, 1)
        XCTAssertTrue(other.stderr.contains("localsgd: error: \(dir) holds the sweep of `localsgd study convex` (its study.toml names it); "
                                            + "give `localsgd study paper --quick` another --out, or delete \(dir) to start over"), other.stderr)
        XCTAssertEqual(try String(contentsOfFile: dir + "/study.toml", encoding: .utf8), written, "study.toml was left alone")
        XCTAssertEqual(try run(["study", "convex", "--dry-run", "--out", dir]).status, 0)
    }
}

import Foundation
import XCTest

/// Streaming DiLoCo's flags from the command line: a sentence naming the flag and its range and
/// a non-zero exit for each bad value, `--help` listing them, and a run that reports its peak.
extension CLITests {
    func testStreamingFlags() throws {
        let dir = try temporaryDirectory()
        let diloco = ["--algorithm", "diloco", "--workers", "2", "--local-steps", "4"]
        let refused: [([String], String)] = [
            (diloco + ["--streaming-fragments", "0"], "localsgd: error: --streaming-fragments must be between 1 and 1024, got 0."),
            (diloco + ["--streaming-fragments", "5"],
             "--streaming-fragments 5 is more than this model's 3 layers with parameters; each fragment needs at least one, so give at most 3"),
            (diloco + ["--streaming-overlap", "4"],
             "--streaming-overlap must be below --local-steps (4), so a fragment's result arrives before its next synchronization; got 4"),
            (diloco + ["--streaming-overlap", "-1"], "localsgd: error: --streaming-overlap must be between 0 and 1000000, got -1."),
            (diloco + ["--streaming-overlap", "1", "--streaming-mix", "1.5"], "localsgd: error: --streaming-mix must be at least 0 and under 1, got 1.5."),
            (diloco + ["--streaming-mix", "0.5"],
             "--streaming-mix mixes a result that arrives --streaming-overlap steps late: give --streaming-overlap above 0 with it"),
            (["--algorithm", "local", "--workers", "2", "--streaming-fragments", "2"],
             "--streaming-fragments, --streaming-overlap and --streaming-mix are Streaming DiLoCo's: give them with --algorithm diloco, not local"),
        ]
        for (arguments, expected) in refused {
            let r = try run(["train"] + small + arguments + ["--out", dir + "/refused"])
            XCTAssertNotEqual(r.status, 0, "\(arguments)")
            XCTAssertTrue(r.stderr.contains(expected), "\(arguments): \(r.stderr)")
            XCTAssertFalse(r.stderr.contains("Fatal error"), "\(arguments): \(r.stderr)")
        }
        let help = try run(["train", "--help"])
        for flag in ["--streaming-fragments", "--streaming-overlap", "--streaming-mix"] {
            XCTAssertTrue(help.stdout.contains(flag), flag)
        }
        let ok = try run(["train"] + small + diloco + ["--streaming-fragments", "3", "--streaming-overlap", "1", "--out", dir + "/ok"])
        XCTAssertEqual(ok.status, 0, ok.stderr)
        let summary = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/ok/summary.json"))) as! [String: Any]
        XCTAssertNotNil(summary["peak_bytes_per_step"] as? Int)
        XCTAssertLessThan(summary["peak_bytes_per_step"] as! Int, summary["bytes_communicated"] as! Int)
    }
}

/// `--faults` and `--worker-speeds` from the command line: bad values are sentences with a
/// non-zero exit, `--help` lists both, and a faulty run with a straggler completes.
extension CLITests {
    func testFaultFlags() throws {
        let dir = try temporaryDirectory()
        let local = ["--algorithm", "local", "--workers", "2", "--local-steps", "2"]
        let refused: [([String], String)] = [
            (local + ["--faults", "leave:2@3"], "--faults: 'leave:2@3' names worker 2, but the workers are 0 to 1 (--workers 2)"),
            (local + ["--faults", "leave:0@1,leave:1@1"], "--faults leaves no worker present at iteration 1; at least one worker must always be present"),
            (local + ["--faults", "leave:1@99e"], "--faults: 'leave:1@99e' is at iteration"),
            (local + ["--worker-speeds", "1", "--network", "1gbit"], "--worker-speeds has 1 value but there are 2 workers (--workers)"),
            (local + ["--backend", "mpi", "--faults", "leave:1@1"], "--faults is simulated in-process; use --backend inprocess"),
            (local + ["--modelled-compute", "-1", "--network", "1gbit"], "--modelled-compute must be greater than 0 and at most 3600, got -1"),
        ]
        for (arguments, expected) in refused {
            let r = try run(["train"] + small + arguments + ["--out", dir + "/refused"])
            XCTAssertNotEqual(r.status, 0, "\(arguments)")
            XCTAssertTrue(r.stderr.contains(expected), "\(arguments): \(r.stderr)")
            XCTAssertFalse(r.stderr.contains("Fatal error"), "\(arguments): \(r.stderr)")
        }
        let help = try run(["train", "--help"])
        for flag in ["--faults", "--worker-speeds", "--modelled-compute"] { XCTAssertTrue(help.stdout.contains(flag), flag) }
        let ok = try run(["train"] + small + local + ["--faults", "leave:1@1,join:1@1e", "--worker-speeds", "1,0.5", "--network", "1gbit",
                                                      "--out", dir + "/ok"])
        XCTAssertEqual(ok.status, 0, ok.stderr)
        let config = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/ok/config.json"))) as! [String: Any]
        XCTAssertEqual(config["faults"] as? String, "leave:1@1,join:1@1e")
        XCTAssertEqual(config["worker_speeds"] as? String, "1,0.5")
    }
}

/// `--dynamic-local-steps` from the command line: refused where it does not apply, recorded in
/// config.json, and a straggler's periods no longer wait for it in the modelled time.
extension CLITests {
    func testDynamicLocalStepsFlag() throws {
        let dir = try temporaryDirectory()
        let straggler = ["--worker-speeds", "1,0.5", "--network", "1gbit", "--modelled-compute", "0.01"]
        let refused: [([String], String)] = [
            (["--algorithm", "minibatch", "--dynamic-local-steps"] + straggler,
             "--dynamic-local-steps applies to --algorithm local, post-local, slowmo, diloco only (the algorithm is minibatch)"),
            (["--dynamic-local-steps"], "--dynamic-local-steps scales each worker's local steps by its speed; give --worker-speeds"),
        ]
        for (arguments, expected) in refused {
            let r = try run(["train"] + small + arguments + ["--out", dir + "/refused"])
            XCTAssertNotEqual(r.status, 0, "\(arguments)")
            XCTAssertTrue(r.stderr.contains(expected), "\(arguments): \(r.stderr)")
        }
        func modelled(_ name: String, _ extra: [String]) throws -> Double {
            let r = try run(["train"] + small + straggler + extra + ["--out", dir + "/" + name])
            XCTAssertEqual(r.status, 0, r.stderr)
            let summary = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/\(name)/summary.json"))) as! [String: Any]
            return try XCTUnwrap(summary["modelled_seconds"] as? Double)
        }
        let dylu = try modelled("dylu", ["--dynamic-local-steps"]), plain = try modelled("plain", [])
        XCTAssertLessThan(dylu, plain)
        let config = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/dylu/config.json"))) as! [String: Any]
        XCTAssertEqual(config["dynamic_local_steps"] as? Bool, true)
    }
}

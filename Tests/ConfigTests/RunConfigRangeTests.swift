import Foundation
import RunFiles
import XCTest
@testable import Config

/// Every number of a run config has a range, checked where values enter a config (flags, config
/// files and sweep points all pass `ConfigLoader.apply`) and by `validate()` for configs built in
/// code. Out-of-range values once overflowed (exit 132), aborted allocations or hung.
final class RunConfigRangeTests: XCTestCase {
    static let realFields: Set<String> = ["lr", "decay_factor", "momentum", "weight_decay", "slowmo_lr", "slowmo_momentum",
                                          "inject_latency", "collective_timeout", "average_seconds",
                                          "adam_beta1", "adam_beta2", "adam_epsilon", "grad_clip"]

    /// Values just outside each range, and the huge ones that trapped.
    private func badValues(_ field: String) -> [Any] {
        let r = RunConfig.ranges[field]!
        let values: [Any] = Self.realFields.contains(field)
            ? [r.upperOpen ? r.upper : r.upper * 1.001 + 1e-3, r.lowerOpen ? r.lower : r.lower - 1e-3, 1e300, -1e300]
            : [Int(r.upper) + 1, Int(r.lower) - 1, Int.max, Int.min, 1 << 31]
        return r.maxItems == nil ? values : values.map { [$0] }
    }

    func testEveryRangedFieldRejectsValuesOutsideItsRangeNamingTheSource() throws {
        XCTAssertGreaterThanOrEqual(RunConfig.ranges.count, 28)
        for field in RunConfig.ranges.keys.sorted() {
            for value in badValues(field) {
                XCTAssertThrowsError(try ConfigLoader.apply([field: value], to: RunConfig(), source: "run.toml"),
                                     "\(field) = \(value)") { error in
                    XCTAssertTrue("\(error)".hasPrefix("field '\(field)' in run.toml must be ")
                                  || "\(error)".hasPrefix("each value of field '\(field)' in run.toml must be "), "\(error)")
                }
                let flag = "--" + field.replacingOccurrences(of: "_", with: "-")
                XCTAssertThrowsError(try ConfigLoader.apply([field: value], to: RunConfig(), source: ConfigLoader.commandLine)) { error in
                    XCTAssertTrue("\(error)".contains("\(flag) must be "), "\(error)")
                }
            }
        }
    }

    func testValidateChecksTheSameRangesForConfigsBuiltInCode() {
        let cases: [(WritableKeyPath<RunConfig, Int>, Int, String)] = [
            (\.schedule.epochs, 1 << 62, "--epochs must be between 1 and 10000, got 4611686018427387904"),
            (\.execution.threads, 2_147_483_648, "--threads must be between 1 and 256, got 2147483648"),
            (\.data.syntheticTrain, 1 << 31, "--synthetic-train must be between 1 and 100000"),
            (\.execution.evalBatchSize, 1 << 31, "--eval-batch-size must be between 1 and 4096"),
            (\.data.augmentCrop, Int.max, "--augment-crop must be between 0 and 64"),
            (\.schedule.batchSize, 0, "--batch-size must be between 1 and 4096, got 0"),
        ]
        for (path, value, message) in cases {
            var config = RunConfig()
            config[keyPath: path] = value
            XCTAssertThrowsError(try config.validate()) { XCTAssertTrue("\($0)".hasPrefix(message), "\($0)") }
        }
        var latency = RunConfig()
        latency.execution.injectLatency = .infinity
        XCTAssertThrowsError(try latency.validate()) { XCTAssertTrue("\($0)".contains("--inject-latency"), "\($0)") }
    }

    func testBoundsThemselvesAreAccepted() throws {
        let config = try ConfigLoader.apply(["lr": 1e30, "epochs": 10_000, "threads": 256, "momentum": 0, "weight_decay": 1,
                                             "inject_latency": 10, "checkpoint_every": "1000000000"],
                                            to: RunConfig(), source: ConfigLoader.commandLine)
        XCTAssertNoThrow(try config.validate())
        XCTAssertEqual(RunConfig.range("lr"), "greater than 0, at most 1e+30")
    }

    func testSpecStringsAndListsAreBounded() {
        func refused(_ fields: [String: Any], _ phrase: String, line: UInt = #line) {
            XCTAssertThrowsError(try ConfigLoader.apply(fields, to: RunConfig(), source: ConfigLoader.commandLine), line: line) {
                XCTAssertTrue("\($0)".contains(phrase), "\($0)", line: line)
            }
        }
        refused(["checkpoint_every": "9223372036854775807e"], "--checkpoint-every takes N steps (1 to 10^9")
        refused(["checkpoint_every": "10001e"], "--checkpoint-every takes")
        refused(["checkpoint_every": "0"], "--checkpoint-every takes")
        refused(["network": String(repeating: "1", count: 300)], "--network is 300 bytes long; it takes at most 256")
        refused(["network": "10gbit:50us,nodes-of=0,intra=100gbit"], "--network: Cannot parse network")
        refused(["decay_epochs": Array(1...101)], "--decay-epochs has 101 values; it takes at most 100")
        refused(["group_size": Array(repeating: 2, count: 9)], "--group-size has 9 values")
        refused(["data_dir": String(repeating: "d", count: 5000)], "--data-dir is 5000 bytes long")
        // In range as written, on the bound as the Float the run uses; the sentence says both.
        refused(["adam_beta1": 0.99999999], "--adam-beta1 must be at least 0 and under 1, got 0.99999999, which is 1.0 as the 32-bit float the run computes with.")
        XCTAssertNoThrow(try ConfigLoader.apply(["checkpoint_every": "10000e", "network": "10gbit:50us"], to: RunConfig(),
                                                source: ConfigLoader.commandLine))

        var nodes = RunConfig()
        nodes.algorithm.workers = 4
        nodes.execution.network = "1gbit:100us,nodes-of=3,intra=10gbit"
        XCTAssertThrowsError(try nodes.validate()) {
            XCTAssertEqual("\($0)", "--network puts nodes-of=3 consecutive workers on each node, which does not divide --workers 4 into whole nodes; give a divisor of 4, or at least 4 for one node")
        }
        for fitting in ["1gbit:100us,nodes-of=2,intra=10gbit", "1gbit:100us,nodes-of=8,intra=10gbit"] {
            nodes.execution.network = fitting
            XCTAssertNoThrow(try nodes.validate(), fitting)
        }

        var config = RunConfig()
        config.algorithm.kind = .hierarchical
        config.algorithm.workers = 8
        config.algorithm.groupSize = [2, 4]
        config.algorithm.localSteps = 1000
        config.algorithm.globalEvery = [1_000_000, 1_000_000]
        XCTAssertThrowsError(try config.validate()) {
            XCTAssertTrue("\($0)".contains("--local-steps × --global-every"), "\($0)")
        }
    }

    func testCheckpointPeriodCannotOverflow() throws {
        XCTAssertEqual(CheckpointPeriod(parsing: "2e")?.interval(stepsPerEpoch: 7), 14)
        XCTAssertEqual(CheckpointPeriod(parsing: " 500 ")?.interval(stepsPerEpoch: 7), 500)
        XCTAssertNil(CheckpointPeriod(parsing: "9223372036854775807e"))
        XCTAssertNil(CheckpointPeriod(parsing: "99999999999999999999999"))
        XCTAssertNil(CheckpointPeriod(parsing: "٣e"), "digits other than ASCII")
        var config = RunConfig()
        config.execution.checkpointEvery = "9223372036854775807e"
        XCTAssertThrowsError(try CheckpointPolicy(config: config, directory: "/tmp", stepsPerEpoch: 3))
    }
}

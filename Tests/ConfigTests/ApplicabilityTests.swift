import XCTest
@testable import Algorithms
@testable import Config

/// An algorithm-specific setting given to an algorithm that does not read it is an error naming
/// the flag, never silently ignored (a run summarised as "local" once ran post-local SGD because
/// of a --switch-epoch, and --outer-lr on SlowMo changed nothing).
final class ApplicabilityTests: XCTestCase {
    private func config(_ kind: AlgorithmKind, workers: Int = 4, _ edit: (inout RunConfig) -> Void) -> RunConfig {
        var c = RunConfig()
        c.schedule.epochs = 4
        c.algorithm.kind = kind
        c.algorithm.workers = workers
        edit(&c)
        return c
    }

    private func assertRefused(_ c: RunConfig, _ expected: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try c.validate(), file: file, line: line) {
            XCTAssertEqual("\($0)", expected, file: file, line: line)
        }
    }

    func testFlagsOfOneAlgorithmAreRefusedOnTheOthers() {
        assertRefused(config(.local) { $0.algorithm.outerLr = 0.5 },
                      "--outer-lr applies to --algorithm diloco only (the algorithm is local)")
        assertRefused(config(.slowmo) { $0.algorithm.outerOptimizer = .adam },
                      "--outer-optimizer applies to --algorithm diloco only (the algorithm is slowmo); SlowMo's outer step is set by --slowmo-lr, --slowmo-momentum and --slowmo-nesterov")
        assertRefused(config(.diloco) { $0.algorithm.slowmoMomentum = 0.7 },
                      "--slowmo-momentum applies to --algorithm slowmo only (the algorithm is diloco); DiLoCo's outer step is set by --outer-optimizer, --outer-lr and --outer-momentum")
        assertRefused(config(.local) { $0.algorithm.switchEpoch = 1 },
                      "--switch-epoch applies to --algorithm post-local, hierarchical, slowmo, diloco only (the algorithm is local); local SGD after a minibatch phase is --algorithm post-local")
        assertRefused(config(.minibatch) { $0.algorithm.switchStep = 10 },
                      "--switch-step applies to --algorithm post-local, hierarchical, slowmo, diloco only (the algorithm is minibatch)")
        assertRefused(config(.local) { $0.algorithm.groupSize = [2]; $0.algorithm.globalEvery = [2] },
                      "--group-size applies to --algorithm hierarchical, post-local, slowmo, diloco only (the algorithm is local); averaging inside groups is --algorithm hierarchical")
        assertRefused(config(.minibatch) { $0.algorithm.momentumSync = .reset },
                      "--momentum-sync applies to --algorithm local, hierarchical, post-local, slowmo, diloco, async only (the algorithm is minibatch); minibatch SGD's workers apply the same reduced gradient, so their momentum never differs")
        assertRefused(config(.minibatch) { $0.algorithm.qsrAlpha = 0.1 },
                      "--qsr-alpha applies to --algorithm local, hierarchical, post-local, slowmo, diloco only (the algorithm is minibatch); minibatch SGD reduces gradients every step")
        assertRefused(config(.minibatch) { $0.algorithm.localStepsSchedule = [LocalStepsPoint(localSteps: 1, start: 0, inEpochs: false), LocalStepsPoint(localSteps: 4, start: 8, inEpochs: false)] },
                      "a --local-steps schedule applies to algorithms that average weights; minibatch SGD reduces gradients every step")
    }

    func testGroupLevelsNeedAGlobalEveryFactorEach() {
        let message = "--group-size 2 needs one --global-every factor H_b per group level (groups average every --local-steps H, the next level every H·H_b); a level without one coincides with the next and never averages on its own"
        assertRefused(config(.hierarchical) { $0.algorithm.groupSize = [2] }, message)
        assertRefused(config(.slowmo) { $0.algorithm.groupSize = [2] }, message)
        assertRefused(config(.hierarchical, workers: 8) { $0.algorithm.groupSize = [2, 4]; $0.algorithm.globalEvery = [2] },
                      "--group-size 2,4 needs one --global-every factor H_b per group level (groups average every --local-steps H, the next level every H·H_b); a level without one coincides with the next and never averages on its own")
    }

    /// Combinations whose state would be wrong are refused before anything runs: compressed deltas
    /// with group levels (each group's anchor differs, so a global average left groups apart), and
    /// --faults with group levels (a smaller group no longer divides the present workers).
    func testCompressionAndFaultsRefuseGroupLevels() {
        assertRefused(config(.hierarchical) { $0.algorithm.groupSize = [2]; $0.algorithm.globalEvery = [2]; $0.algorithm.compress = .fp16 },
                      "--compress with group levels (--group-size below K): each worker's anchor is its group's last average, so compressed deltas would leave the groups apart after a global average; use it with one level, or with slowmo or diloco, whose outer step resets every anchor")
        assertRefused(config(.postLocal) { $0.algorithm.switchEpoch = 1; $0.algorithm.groupSize = [2]; $0.algorithm.globalEvery = [2]; $0.execution.faults = "leave:3@3" },
                      "--faults with group levels (--group-size below K): a worker away would leave its group smaller than the others, and groups must divide the present workers; give --faults without --group-size")
    }

    func testSettingsThatApplyAndDefaultsPass() throws {
        try config(.hierarchical) { $0.algorithm.groupSize = [2]; $0.algorithm.globalEvery = [2] }.validate()
        try config(.hierarchical) { $0.algorithm.groupSize = [4] }.validate()  // one level: all workers
        try config(.slowmo) { $0.algorithm.switchEpoch = 1; $0.algorithm.slowmoMomentum = 0.7 }.validate()
        try config(.diloco) { $0.algorithm.switchEpoch = 1; $0.algorithm.outerLr = 0.5; $0.algorithm.qsrAlpha = 0.1 }.validate()
        try config(.postLocal) { $0.algorithm.switchEpoch = 1; $0.algorithm.groupSize = [2]; $0.algorithm.globalEvery = [2] }.validate()
        try config(.diloco) { $0.algorithm.groupSize = [2]; $0.algorithm.globalEvery = [2]; $0.algorithm.compress = .int8 }.validate()
        for kind in [AlgorithmKind.minibatch, .local, .slowmo, .diloco] { try config(kind) { _ in }.validate() }
    }
}

import Foundation
import XCTest

/// Settings refused on the command line with the sentence a user needs: one algorithm's flag on
/// another, and a number in range as typed that a 32-bit float rounds onto the bound.
extension CLITests {
    func testInapplicableFlagsAndRoundedNumbersAreRefusedBeforeAnythingIsWritten() throws {
        let dir = try temporaryDirectory()
        let refused: [([String], String)] = [
            (["--algorithm", "local", "--workers", "2", "--switch-epoch", "1"],
             "localsgd: error: --switch-epoch applies to --algorithm post-local, hierarchical, slowmo, diloco only (the algorithm is local); local SGD after a minibatch phase is --algorithm post-local"),
            (["--algorithm", "slowmo", "--workers", "2", "--outer-lr", "0.5"],
             "localsgd: error: --outer-lr applies to --algorithm diloco only (the algorithm is slowmo)"),
            (["--adam-beta1", "0.99999999"],
             "localsgd: error: --adam-beta1 must be at least 0 and under 1, got 0.99999999, which is 1.0 as the 32-bit float the run computes with."),
            (["--lr", "1e300"], "localsgd: error: --lr must be greater than 0 and at most 1e+30, got 1e+300."),
        ]
        for (arguments, expected) in refused {
            let out = dir + "/refused"
            let r = try run(["train"] + small + arguments + ["--out", out])
            XCTAssertNotEqual(r.status, 0, "\(arguments)")
            XCTAssertTrue(r.stderr.contains(expected), "\(arguments): \(r.stderr)")
            XCTAssertFalse(FileManager.default.fileExists(atPath: out), "\(arguments) left \(out)")
        }
    }
}

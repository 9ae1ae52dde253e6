import XCTest
@testable import Experiments
import NN

final class StepBenchmarkTests: XCTestCase {
    func testStepBenchmarkCountsThreeForwardPassesOfFlops() throws {
        let r = try StepBenchmark.measure(model: .logreg, batch: 4, threads: 1, warmup: 0, steps: 3)
        XCTAssertEqual(r.model, "logreg")
        XCTAssertGreaterThan(r.msPerStep, 0)
        // logreg on 1×28×28 → 10: 2·784·10 FLOPs per sample forward.
        XCTAssertEqual(r.gflops, 3 * 2 * 7840 * 4 / (r.msPerStep / 1e3) / 1e9, accuracy: 1e-9)
        XCTAssertEqual(r.samplesPerS, 4 / (r.msPerStep / 1e3), accuracy: 1e-6)
    }
}

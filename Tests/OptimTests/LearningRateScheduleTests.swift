import XCTest
import Foundation
@testable import Optim
import TestSupport

final class LearningRateScheduleTests: XCTestCase {
    /// The study's schedule at K = 64, B = 32 (peak 0.8), 100 iterations per epoch, so warm-up
    /// covers iterations 0..<500 and epoch e starts at iteration 100·e.
    private func schedule(_ kind: ScheduleKind, workers: Int = 64, change: (inout ScheduleConfig) -> Void = { _ in })
        -> LearningRateSchedule {
        var c = ScheduleConfig()
        c.kind = kind
        change(&c)
        XCTAssertNoThrow(try c.validate())
        return LearningRateSchedule(config: c, workers: workers, batchSize: 32, stepsPerEpoch: 100)
    }

    /// Rates at the given iterations; tolerance relative 1e-6 + absolute 1e-9 (Float rounding of
    /// a value computed in Double).
    private func assertRates(_ s: LearningRateSchedule, _ expected: [Int: Float],
                             file: StaticString = #filePath, line: UInt = #line) {
        for (step, rate) in expected.sorted(by: { $0.key < $1.key }) {
            assertClose(s.learningRate(atStep: step), rate, relative: 1e-6, absolute: 1e-9,
                        "at step \(step)", file: file, line: line)
        }
    }

    func testLinearScalingRule() {
        XCTAssertEqual(schedule(.step, workers: 8).peakLearningRate, 0.1)   // 8·32·0.1/256
        assertClose(schedule(.step, workers: 64).peakLearningRate, 0.8, relative: 1e-7)
        assertClose(schedule(.step, workers: 1).peakLearningRate, 0.0125, relative: 1e-7)
        XCTAssertEqual(schedule(.step) { $0.scaleLearningRate = false }.peakLearningRate, 0.1)
    }

    func testWarmupRampsEveryIterationFromBaseToPeak() {
        // start + (0.8 − 0.1)·s/500
        let expected: [Int: Float] = [0: 0.1, 1: 0.1014, 250: 0.45, 499: 0.7986, 500: 0.8]
        for kind in ScheduleKind.allCases where kind != .cosine {
            assertRates(schedule(kind), expected)
        }
        // Cosine: the same ramp; iteration 500 is epoch 5 of the cosine, 0.8·(1 + cos(π/18))/2.
        assertRates(schedule(.cosine), [0: 0.1, 250: 0.45, 499: 0.7986, 500: 0.79392310])
    }

    func testWarmupIsFlatWhenThePeakIsBelowTheBase() {
        // K = 1: peak 0.0125 < 0.1, so warm-up "goes from the peak to the peak".
        assertRates(schedule(.step, workers: 1), [0: 0.0125, 250: 0.0125, 499: 0.0125, 500: 0.0125, 3000: 0.00125])
    }

    func testNoWarmupStartsAtThePeak() {
        assertRates(schedule(.step) { $0.warmupEpochs = 0 }, [0: 0.8, 99: 0.8, 2999: 0.8, 3000: 0.08])
    }

    func testStepDecaysAtTheEndOfEachListedEpoch() {
        // Decay at the end of (1-based) epoch 30 → 0-based epoch 30 = iteration 3000 onwards.
        assertRates(schedule(.step), [
            2999: 0.8, 3000: 0.08, 5999: 0.08, 6000: 0.008, 7999: 0.008, 8000: 0.0008, 8999: 0.0008,
        ])
        // TinyImageNet's recipe (Appendix A.2): 60 epochs, decays at 30 and 50.
        assertRates(schedule(.step) { $0.epochs = 60; $0.decayEpochs = [30, 50] },
                    [2999: 0.8, 3000: 0.08, 4999: 0.08, 5000: 0.008, 5999: 0.008])
    }

    func testCosineIsUpdatedOncePerEpoch() {
        // 0.8·(1 + cos(π·e/90))/2: e = 30 → 0.6, e = 45 → 0.4, e = 60 → 0.2,
        // e = 89 → 0.8·(1 − cos(π/90))/2 = 2.4366907e-4; held at e = 90 (0) past the end.
        assertRates(schedule(.cosine), [
            3000: 0.6, 3099: 0.6, 4500: 0.4, 4599: 0.4, 6000: 0.2, 8900: 2.4366907e-4, 8999: 2.4366907e-4,
            9000: 0, 20000: 0,
        ])
    }

    func testConstantHoldsThePeakAfterWarmup() {
        assertRates(schedule(.constant), [500: 0.8, 3000: 0.8, 8999: 0.8])
    }
}

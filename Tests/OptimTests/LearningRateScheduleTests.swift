import Foundation
import XCTest
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

    func testMaxLearningRateCapsTheScaledPeakAndWarmupClimbsToIt() {
        let capped = schedule(.constant) { $0.maxLearningRate = 0.3 }
        XCTAssertEqual(capped.peakLearningRate, 0.3)
        assertRates(capped, [0: 0.1, 250: 0.2, 500: 0.3, 8999: 0.3])  // 0.1 + 0.2·s/500
        XCTAssertEqual(schedule(.constant, workers: 1) { $0.maxLearningRate = 0.3 }.peakLearningRate, 0.0125, "below the cap")
        XCTAssertEqual(schedule(.constant) { $0.maxLearningRate = 0.3; $0.baseLearningRate = 0.5 }.peakLearningRate, 0.5,
                       "the rule does not raise a base above the cap, nor lower it")
        XCTAssertEqual(schedule(.constant) { $0.maxLearningRate = 0.3; $0.scaleLearningRate = false; $0.baseLearningRate = 2 }
            .peakLearningRate, 2, "no scaling, no cap")
    }

    func testWarmupRampsEveryIterationFromBaseToPeak() {
        // start + (0.8 − 0.1)·s/500
        let expected: [Int: Float] = [0: 0.1, 1: 0.1014, 250: 0.45, 499: 0.7986, 500: 0.8]
        for kind in ScheduleKind.allCases where kind != .cosine {
            assertRates(schedule(kind), expected)
        }
        // Cosine: the same ramp; iteration 500 starts the cosine over the 85 epochs left, at the peak.
        assertRates(schedule(.cosine), [0: 0.1, 250: 0.45, 499: 0.7986, 500: 0.8])
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
        // 95 epochs with 5 of warm-up leave T − w = 90 for 0.8·(1 + cos(π·(e − 5)/90))/2:
        // e = 35 → 0.6, e = 50 → 0.4, e = 65 → 0.2, e = 94 → 0.8·(1 − cos(π/90))/2 = 2.4366907e-4;
        // held at e = 95 (0) past the end.
        assertRates(schedule(.cosine) { $0.epochs = 95 }, [
            500: 0.8, 599: 0.8, 3500: 0.6, 3599: 0.6, 5000: 0.4, 5099: 0.4, 6500: 0.2, 9400: 2.4366907e-4,
            9499: 2.4366907e-4, 9500: 0, 20000: 0,
        ])
        // Without warm-up the cosine spans the whole run: e = 30 of 90 → 0.8·(1 + cos(π/3))/2 = 0.6.
        assertRates(schedule(.cosine) { $0.warmupEpochs = 0 }, [0: 0.8, 99: 0.8, 3000: 0.6, 8999: 2.4366907e-4])
    }

    /// The reported case: K = 16, B = 32 (peak 0.2), 4 epochs of 4 iterations, 2 of warm-up. The
    /// cosine then runs over the 2 epochs left (PyTorch's SequentialLR of LinearLR and
    /// CosineAnnealingLR(T_max = 2)): 0.2 at epoch 2, 0.2·(1 + cos(π/2))/2 = 0.1 at epoch 3,
    /// not 0.1 then 0.0293 (a cosine over all 4 epochs, which halves the rate as warm-up ends).
    func testCosineAfterWarmupIsContinuousAndSpansTheEpochsLeft() {
        var c = ScheduleConfig()
        c.kind = .cosine
        c.epochs = 4
        c.warmupEpochs = 2
        let s = LearningRateSchedule(config: c, workers: 16, batchSize: 32, stepsPerEpoch: 4)
        // Warm-up 0.1 + 0.1·s/8; per-epoch lr as the CLI reports it (last iteration): 0.1375, 0.1875, 0.2, 0.1.
        assertRates(s, [0: 0.1, 3: 0.1375, 7: 0.1875, 8: 0.2, 11: 0.2, 12: 0.1, 15: 0.1, 16: 0])
        // Warm-up over the whole run: the peak is reached as training ends, and held.
        c.warmupEpochs = 4
        assertRates(LearningRateSchedule(config: c, workers: 16, batchSize: 32, stepsPerEpoch: 4), [15: 0.1 + 0.1 * 15 / 16, 16: 0.2])
    }

    /// Step and constant after warm-up: the peak where warm-up ends, each decay at the end of its
    /// (absolute, 1-based) epoch, and the last iteration.
    func testStepAndConstantAfterWarmupStartAtThePeak() {
        // K = 16 (peak 0.2), 10 epochs of 4 iterations, warm-up 2, decays at the end of epochs 5, 7, 9.
        var c = ScheduleConfig()
        c.kind = .step
        c.epochs = 10
        c.warmupEpochs = 2
        c.decayEpochs = [5, 7, 9]
        XCTAssertNoThrow(try c.validate())
        let step = LearningRateSchedule(config: c, workers: 16, batchSize: 32, stepsPerEpoch: 4)
        assertRates(step, [7: 0.1875, 8: 0.2, 19: 0.2, 20: 0.02, 27: 0.02, 28: 0.002, 35: 0.002, 36: 0.0002, 39: 0.0002])
        c.kind = .constant
        let constant = LearningRateSchedule(config: c, workers: 16, batchSize: 32, stepsPerEpoch: 4)
        assertRates(constant, [7: 0.1875, 8: 0.2, 20: 0.2, 39: 0.2])
    }

    func testConstantHoldsThePeakAfterWarmup() {
        assertRates(schedule(.constant), [500: 0.8, 3000: 0.8, 8999: 0.8])
    }
}

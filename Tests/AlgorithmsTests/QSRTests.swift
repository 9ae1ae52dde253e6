import Foundation
import Optim
import XCTest
@testable import Algorithms

/// The Quadratic Synchronization Rule (Gu et al., ICLR 2024): after each average, H = max(H_base,
/// ⌊(α/η)²⌋) with η the next iteration's rate; H_base during warm-up; cut at the run's end.
final class QSRTests: XCTestCase {
    /// 10 epochs of 20 iterations, 1 of warm-up from 0.1, then a per-epoch cosine from 0.4.
    let stepsPerEpoch = 20, epochs = 10, warmupEpochs = 1
    let peak: Float = 0.4

    var schedule: LearningRateSchedule {
        let c = ScheduleConfig(baseLearningRate: 0.1, kind: .cosine, decayEpochs: [], decayFactor: 1, warmupEpochs: warmupEpochs,
                               epochs: epochs, scaleLearningRate: true, maxLearningRate: nil)
        return LearningRateSchedule(config: c, workers: 4, batchSize: 256, stepsPerEpoch: stepsPerEpoch)
    }

    /// The cosine rate of iteration `s` after warm-up, written out here rather than asked of the schedule.
    func cosineRate(_ s: Int) -> Float {
        let t = Double(s / stepsPerEpoch - warmupEpochs) / Double(epochs - warmupEpochs)
        return Float(Double(peak) * (1 + cos(Double.pi * t)) / 2)
    }

    /// The averages and the H of each period from the formula.
    func expected(alpha: Float, base: Int, firstStep: Int = 0) -> (averages: [Int], periods: [(start: Int, h: Int)]) {
        let total = stepsPerEpoch * epochs, warmup = warmupEpochs * stepsPerEpoch
        var averages: [Int] = [], periods: [(Int, Int)] = []
        var s = firstStep
        while s < total {
            var h = base
            if s >= warmup {
                let r = Double(alpha) / Double(cosineRate(s))
                h = max(base, Int((r * r).rounded(.down)))
            }
            let a = min(s + h - 1, total - 1)
            averages.append(a)
            periods.append((s, a - s + 1))
            s = a + 1
        }
        return (averages, periods)
    }

    func strategy(_ kind: AlgorithmKind = .local, alpha: Float, base: String, switchStep: Int? = nil) throws -> SyncStrategy {
        var c = AlgorithmConfig.settings(kind)
        c.localStepsSetting = try LocalStepsSetting(parsing: base)
        c.qsrAlpha = alpha
        c.switchStep = switchStep
        let lr = schedule
        return try c.makeStrategy(workers: 4, parameterCount: 2, stepsPerEpoch: stepsPerEpoch, totalSteps: stepsPerEpoch * epochs,
                                  learningRate: { lr.learningRate(atStep: $0) }, warmupSteps: lr.warmupSteps)
    }

    func averages(_ s: SyncStrategy) -> [Int] {
        (0..<(stepsPerEpoch * epochs + 5)).filter { s.plan(step: $0, workers: 4) == .averageWeights(groupSize: 4, global: true) }
    }

    func testHAlongACosineScheduleIsTheFormulas() throws {
        XCTAssertEqual(schedule.peakLearningRate, peak)
        for s in stride(from: 20, to: 200, by: 7) { XCTAssertEqual(schedule.learningRate(atStep: s), cosineRate(s), "iteration \(s)") }
        for (alpha, base) in [(Float(0.2), 2), (0.35, 4), (0.05, 3)] {
            let e = expected(alpha: alpha, base: base)
            let s = try strategy(alpha: alpha, base: String(base))
            XCTAssertEqual(averages(s), e.averages, "α \(alpha), H_base \(base)")
            // H_base throughout warm-up (iterations 0–19).
            XCTAssertTrue(e.periods.filter { $0.start < 20 }.allSatisfy { $0.h == base })
            XCTAssertEqual(e.averages.last, 199, "the last period is cut at the end")
            // The summary's changes are the periods' H where it changes.
            var changes: [[Int]] = []
            for p in e.periods where changes.last?[1] != p.h { changes.append([p.start, p.h]) }
            XCTAssertEqual(s.averagingSchedule?.changes, changes)
        }
        // α = 0.35: H grows as the rate decays (⌊(0.35/η)²⌋ passes 4 once η < 0.175): 4, then 12
        // from epoch 7 (η = 0.1), then 55 from epoch 8, cut to the 36 iterations left.
        XCTAssertEqual(try strategy(alpha: 0.35, base: "4").averagingSchedule?.changes, [[0, 4], [140, 12], [164, 36]])
        // A tiny α never beats H_base: plain every-H averaging, cut at the end.
        XCTAssertEqual(averages(try strategy(alpha: 1e-4, base: "3")), Array(stride(from: 2, to: 200, by: 3)) + [199])
    }

    func testQSROverAScheduleAndAfterASwitch() throws {
        // H_base from a schedule (2 until epoch 5, then 6), α small enough to matter only late.
        let s = try strategy(alpha: 0.3, base: "2@0,6@5e")
        var expectedAverages: [Int] = []
        var t = 0
        while t < 200 {
            var h = t < 100 ? 2 : 6
            if t >= 20 { let r = Double(Float(0.3)) / Double(cosineRate(t)); h = max(h, Int((r * r).rounded(.down))) }
            let a = min(t + h - 1, 199)
            expectedAverages.append(a)
            t = a + 1
        }
        XCTAssertEqual(averages(s), expectedAverages)
        // Post-local: periods start at the switch, and QSR applies from there.
        let post = try strategy(.postLocal, alpha: 0.2, base: "2", switchStep: 30)
        XCTAssertEqual(averages(post), expected(alpha: 0.2, base: 2, firstStep: 30).averages)
        XCTAssertEqual(post.plan(step: 29, workers: 4), .reduceGradients)
    }

    func testQSRNeedsTheRatesAndAPositiveAlpha() {
        var c = AlgorithmConfig.settings(.local, localSteps: 2)
        c.qsrAlpha = 0.1
        XCTAssertThrowsError(try c.makeStrategy(workers: 4, parameterCount: 2, stepsPerEpoch: 4, totalSteps: 16)) {
            XCTAssertEqual("\($0)", "--qsr-alpha needs the run's learning-rate schedule")
        }
        c.qsrAlpha = 0
        XCTAssertThrowsError(try c.makeStrategy(workers: 4, parameterCount: 2, stepsPerEpoch: 4, totalSteps: 16, learningRate: { _ in 1 })) {
            XCTAssertEqual("\($0)", "qsr_alpha must be positive, got 0.0")
        }
    }
}

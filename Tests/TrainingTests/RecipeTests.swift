import Data
import TestSupport
import XCTest
@testable import Training

/// The default recipe as a run resolves it: the schedule after warm-up.
final class RecipeTests: XCTestCase {
    /// The reported run: `--workers 16 --epochs 4 --warmup-epochs 2 --lr-schedule cosine` on
    /// 2048 samples (4 iterations an epoch, peak 16·32·0.1/256 = 0.2). The per-epoch rate (that
    /// of the epoch's last iteration) was 0.1375, 0.1875, 0.1, 0.0293: halved as warm-up ended.
    func testCosineAfterWarmupContinuesFromThePeak() throws {
        let data = try tinyData(train: 2048, test: 32)
        let t = try train(tinyConfig {
            $0.model = .logreg; $0.workers = 16; $0.batchSize = 32; $0.epochs = 4; $0.warmupEpochs = 2
            $0.lrSchedule = .cosine; $0.lr = 0.1
        }, data: data)
        // Warm-up 0.1 + 0.1·s/8 (s = 3, 7), then 0.2·(1 + cos(π·e/2))/2 for e = 0, 1 epochs after it.
        assertClose(t.history.map(\.lr), [0.1375, 0.1875, 0.2, 0.1], relative: 1e-6)
    }

    /// Default decay points: the study's 30, 60, 80 of 90 scaled to the epochs after warm-up.
    func testDefaultDecayEpochsSpanTheEpochsAfterWarmup() {
        var c = RunConfig()
        c.epochs = 10
        c.warmupEpochs = 0
        XCTAssertEqual(c.resolvedDecayEpochs, [3, 7, 9])  // 3.33, 6.67, 8.89
        c.warmupEpochs = 2
        XCTAssertEqual(c.resolvedDecayEpochs, [5, 7, 9])  // 2 + 2.67, 2 + 5.33, 2 + 7.11
        c.epochs = 4
        c.warmupEpochs = 1
        XCTAssertEqual(c.resolvedDecayEpochs, [2, 3], "none at the end of warm-up (1) or of training (4)")
        c.decayEpochs = [3]
        XCTAssertEqual(c.resolvedDecayEpochs, [3], "given epochs are kept")
    }

    /// Step schedule of a run: the peak where warm-up ends, ×0.1 at each decay, the last iteration.
    func testStepScheduleOfARunAfterWarmup() throws {
        let data = try tinyData(train: 2048, test: 32)
        let t = try Trainer(config: tinyConfig {
            $0.model = .logreg; $0.workers = 16; $0.batchSize = 32; $0.epochs = 10; $0.warmupEpochs = 2
            $0.lrSchedule = .step; $0.lr = 0.1
        }, data: data, communicator: InProcessCommunicatorFactory.make(16))
        XCTAssertEqual(t.stepsPerEpoch, 4)
        let rates = [7, 8, 19, 20, 27, 28, 35, 36, 39].map { t.schedule.learningRate(atStep: $0) }
        // Decays at the end of epochs 5, 7 and 9 (iterations 20, 28, 36).
        assertClose(rates, [0.1875, 0.2, 0.2, 0.02, 0.02, 0.002, 0.002, 0.0002, 0.0002], relative: 1e-6)
    }
}

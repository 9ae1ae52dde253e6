import Config
import Data
import Foundation
import NN
import Optim
import TestSupport
import TrainingTestSupport
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
            $0.model.kind = .logreg; $0.algorithm.workers = 16; $0.schedule.batchSize = 32; $0.schedule.epochs = 4; $0.schedule.warmupEpochs = 2
            $0.schedule.lrSchedule = .cosine; $0.schedule.lr = 0.1; $0.schedule.maxLr = .none
        }, data: data)
        // Warm-up 0.1 + 0.1·s/8 (s = 3, 7), then 0.2·(1 + cos(π·e/2))/2 for e = 0, 1 epochs after it.
        assertClose(t.history.map(\.lr), [0.1375, 0.1875, 0.2, 0.1], relative: 1e-6)
    }

    /// Default decay points: the study's 30, 60, 80 of 90 scaled to the epochs after warm-up.
    func testDefaultDecayEpochsSpanTheEpochsAfterWarmup() {
        var c = RunConfig()
        c.schedule.epochs = 10
        c.schedule.warmupEpochs = 0
        XCTAssertEqual(c.resolvedDecayEpochs, [3, 7, 9])  // 3.33, 6.67, 8.89
        c.schedule.warmupEpochs = 2
        XCTAssertEqual(c.resolvedDecayEpochs, [5, 7, 9])  // 2 + 2.67, 2 + 5.33, 2 + 7.11
        c.schedule.epochs = 4
        c.schedule.warmupEpochs = 1
        XCTAssertEqual(c.resolvedDecayEpochs, [2, 3], "none at the end of warm-up (1) or of training (4)")
        c.schedule.decayEpochs = [3]
        XCTAssertEqual(c.resolvedDecayEpochs, [3], "given epochs are kept")
    }

    /// Step schedule of a run: the peak where warm-up ends, ×0.1 at each decay, the last iteration.
    func testStepScheduleOfARunAfterWarmup() throws {
        let data = try tinyData(train: 2048, test: 32)
        let t = try Trainer(config: tinyConfig {
            $0.model.kind = .logreg; $0.algorithm.workers = 16; $0.schedule.batchSize = 32; $0.schedule.epochs = 10; $0.schedule.warmupEpochs = 2
            $0.schedule.lrSchedule = .step; $0.schedule.lr = 0.1; $0.schedule.maxLr = .none
        }, data: data, communicator: InProcessCommunicatorFactory.make(16))
        XCTAssertEqual(t.stepsPerEpoch, 4)
        let rates = [7, 8, 19, 20, 27, 28, 35, 36, 39].map { t.schedule.learningRate(atStep: $0) }
        // Decays at the end of epochs 5, 7 and 9 (iterations 20, 28, 36).
        assertClose(rates, [0.1875, 0.2, 0.2, 0.02, 0.02, 0.002, 0.002, 0.0002, 0.0002], relative: 1e-6)
    }

    /// The reported run, `--model cnn --workers 64 --algorithm local --local-steps 8 --epochs 1`:
    /// η = 64·32·0.1/256 = 0.8 from the first step, where the CNN diverges (NaN at step 9 on
    /// Fashion-MNIST). Now the CNN's stable rate, 0.1, caps it; 0.1 is the base rate, so the
    /// rate does not climb and there is no warm-up.
    func testTheDefaultRateOfALargeRunStaysWithinTheModelsStableRate() throws {
        var c = RunConfig()
        c.algorithm.workers = 64
        c.algorithm.kind = .local
        c.algorithm.localSteps = 8
        c.schedule.epochs = 1
        XCTAssertEqual(c.peakLearningRate, 0.1)
        XCTAssertEqual(c.resolvedWarmupEpochs, 0)
        let data = try tinyData(train: 2048 * 3, test: 32)
        let t = try Trainer(config: c, data: data, communicator: InProcessCommunicatorFactory.make(64))
        XCTAssertEqual(t.schedule.peakLearningRate, 0.1)
        XCTAssertEqual((0..<t.totalSteps).map { t.schedule.learningRate(atStep: $0) }.max(), 0.1)
        for model in [ModelKind.logreg, .mlp] {
            c.model.kind = model
            XCTAssertEqual(c.peakLearningRate, 0.1, "\(model)")
        }
        c.model.kind = .cnn
        c.schedule.lr = 0.5
        XCTAssertEqual(c.peakLearningRate, 0.5, "a base rate above the limit is the user's, and kept")
        c.schedule.scaleLr = false
        c.schedule.lr = 2
        XCTAssertEqual(c.peakLearningRate, 2, "no scaling: the limit does not apply")
        c.schedule.scaleLr = true
        c.schedule.lr = 0.1
        c.schedule.maxLr = .none
        XCTAssertEqual(c.peakLearningRate, 0.8, "--max-lr none: the linear scaling rule alone")
        c.schedule.maxLr = .rate(0.3)
        XCTAssertEqual(c.peakLearningRate, 0.3)
    }

    /// `--warmup-epochs auto`: Goyal et al.'s 5 epochs when the rate climbs above --lr, at most
    /// half the run; none when it does not (K·B ≤ 256, no scaling, or a limit at --lr).
    func testAutoWarmupWhenTheRateClimbs() {
        var c = RunConfig()
        c.model.kind = .cnn
        c.schedule.maxLr = .none
        c.schedule.epochs = 10
        for (workers, warmup) in [(1, 0), (8, 0), (9, 5), (64, 5)] {  // K·B = 32, 256, 288, 2048
            c.algorithm.workers = workers
            XCTAssertEqual(c.resolvedWarmupEpochs, warmup, "K = \(workers)")
        }
        for (epochs, warmup) in [(90, 5), (4, 2), (3, 1), (1, 0)] {
            c.schedule.epochs = epochs
            XCTAssertEqual(c.resolvedWarmupEpochs, warmup, "\(epochs) epochs")
        }
        c.schedule.epochs = 10
        c.schedule.scaleLr = false
        XCTAssertEqual(c.resolvedWarmupEpochs, 0, "no scaling: the rate is --lr throughout")
        c.schedule.scaleLr = true
        c.schedule.maxLr = .auto
        XCTAssertEqual(c.resolvedWarmupEpochs, 0, "the CNN's limit is --lr: nothing to climb")
        c.schedule.lr = 0.05
        XCTAssertEqual(c.resolvedWarmupEpochs, 5, "from 0.05 up to the limit 0.1")
        c.schedule.warmupEpochs = 2
        XCTAssertEqual(c.resolvedWarmupEpochs, 2, "given epochs are kept")
        c.algorithm.kind = .async
        c.algorithm.workers = 1
        c.async.nodes = 16
        c.async.threadsPerNode = 4
        c.schedule.warmupEpochs = .auto
        c.schedule.maxLr = .none
        c.schedule.lr = 0.1
        XCTAssertEqual(c.peakLearningRate, 0.8, "async scales with N·P")
        XCTAssertEqual(c.resolvedWarmupEpochs, 5)
    }

    /// The ResNets (BatchNorm) take K = 64's 0.8 after a warm-up, but only 0.1 from the first step:
    /// a 1-epoch run has no room for warm-up (at most half the run), so it stays at 0.1.
    func testResNetsGoBeyondTheStableRateOnlyAfterWarmup() {
        var c = RunConfig()
        c.model.kind = .resnet20
        c.algorithm.workers = 64
        c.schedule.epochs = 10
        XCTAssertEqual(c.resolvedWarmupEpochs, 5)
        XCTAssertEqual(c.peakLearningRate, 0.8)
        c.schedule.epochs = 1
        XCTAssertEqual(c.resolvedWarmupEpochs, 0)
        XCTAssertEqual(c.peakLearningRate, 0.1)
        c.schedule.warmupEpochs = 1
        XCTAssertEqual(c.peakLearningRate, 0.8, "a warm-up given by hand lifts the limit too")
        c.schedule.epochs = 10
        c.schedule.warmupEpochs = 0
        XCTAssertEqual(c.peakLearningRate, 0.1)
        c.model.kind = .resnet50Small
        c.schedule.warmupEpochs = .auto
        XCTAssertEqual(c.peakLearningRate, 0.8)
    }

    /// The single-worker default recipe is what it was: η = 32·0.1/256, no warm-up, cosine
    /// over all 10 epochs.
    func testTheSingleWorkerDefaultIsUnchanged() throws {
        let c = RunConfig()
        XCTAssertEqual(c.peakLearningRate, 0.0125)
        XCTAssertEqual(c.resolvedWarmupEpochs, 0)
        XCTAssertEqual(c.scheduleConfig.warmupEpochs, 0)
        let s = LearningRateSchedule(config: c.scheduleConfig, workers: 1, batchSize: 32, stepsPerEpoch: 1875)
        assertClose([0, 1874, 1875, 18749].map { s.learningRate(atStep: $0) },
                    [0.0125, 0.0125, 0.0125 * Float((1 + cos(Double.pi / 10)) / 2), 0.0125 * Float((1 - cos(Double.pi / 10)) / 2)],
                    relative: 1e-6)
    }

    /// `warmup_epochs` and `max_lr` in files and on the command line: a word or a number.
    func testWarmupAndLimitReadAsWordsOrNumbers() throws {
        var c = try ConfigLoader.apply(["warmup_epochs": "auto", "max_lr": "none"], to: RunConfig(), source: "test")
        XCTAssertEqual(c.schedule.warmupEpochs, .auto)
        XCTAssertEqual(c.schedule.maxLr, RateLimitSetting.none)
        c = try ConfigLoader.apply(["warmup_epochs": 3, "max_lr": 0.25], to: c, source: "test")
        XCTAssertEqual(c.schedule.warmupEpochs, .epochs(3))
        XCTAssertEqual(c.schedule.maxLr, .rate(0.25))
        XCTAssertThrowsError(try ConfigLoader.apply(["warmup_epochs": "soon"], to: c, source: "run.toml")) {
            XCTAssertEqual("\($0)", "field 'warmup_epochs' in run.toml: 'soon' is not one of auto, a whole number of epochs.")
        }
        var bad = RunConfig()
        bad.schedule.maxLr = .rate(0)
        XCTAssertThrowsError(try bad.validate()) { XCTAssertTrue("\($0)".contains("--max-lr"), "\($0)") }
        bad = RunConfig()
        bad.schedule.warmupEpochs = 11
        XCTAssertThrowsError(try bad.validate()) { XCTAssertTrue("\($0)".contains("--warmup-epochs"), "\($0)") }
    }
}

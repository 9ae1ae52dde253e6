import Algorithms
import Comm
import Config
import TestSupport
import TrainingTestSupport
import XCTest
@testable import Training

/// `--dynamic-local-steps` (DyLU, Liu et al. 2024) in the lockstep trainer: who computes in a
/// period, what an idle worker keeps, the average it joins, its data position, the modelled
/// wall-clock, threads and resume.
final class DynamicLocalStepsTrainingTests: XCTestCase {

    /// Plain SGD with momentum at a constant, unscaled rate on a network model with a fixed
    /// compute of 10 ms per iteration.
    func config(_ kind: AlgorithmKind = .local, workers: Int, speeds: String, dylu: Bool = true,
                _ edit: (inout RunConfig) -> Void = { _ in }) -> RunConfig {
        tinyConfig {
            $0.schedule.scaleLr = false
            $0.schedule.lrSchedule = .constant
            $0.schedule.warmupEpochs = .epochs(0)
            $0.schedule.lr = 0.1
            $0.data.shuffle = false
            $0.algorithm.kind = kind
            $0.algorithm.workers = workers
            $0.algorithm.localSteps = 4
            $0.algorithm.switchStep = kind == .postLocal ? 5 : nil
            $0.algorithm.dynamicLocalSteps = dylu
            $0.execution.workerSpeeds = speeds
            $0.execution.network = "1gbit:100us"
            $0.execution.modelledCompute = 0.01
            edit(&$0)
        }
    }

    private func assertSameRun(_ a: Trainer, _ b: Trainer, _ label: String, file: StaticString = #filePath, line: UInt = #line) {
        for k in a.replicas.indices {
            XCTAssertEqual(parameters(a, worker: k), parameters(b, worker: k), "\(label), worker \(k)", file: file, line: line)
            XCTAssertEqual(a.optimizerStates[k].momentum.array, b.optimizerStates[k].momentum.array, "\(label), worker \(k)",
                           file: file, line: line)
        }
        XCTAssertEqual(a.history.map(\.trainLoss), b.history.map(\.trainLoss), label, file: file, line: line)
        XCTAssertEqual(a.history.map(\.trainAccuracy), b.history.map(\.trainAccuracy), label, file: file, line: line)
        XCTAssertEqual(a.history.map(\.testAccuracy), b.history.map(\.testAccuracy), label, file: file, line: line)
        XCTAssertEqual(a.history.map(\.modelledSeconds), b.history.map(\.modelledSeconds), label, file: file, line: line)
        XCTAssertEqual(a.summary().syncs, b.summary().syncs, label, file: file, line: line)
        XCTAssertEqual(a.summary().bytesCommunicated, b.summary().bytesCommunicated, label, file: file, line: line)
    }

    /// With all speeds equal every worker takes every step: bitwise the plain algorithm, for each
    /// algorithm DyLU applies to.
    func testEqualSpeedsAreThePlainAlgorithmBitwise() throws {
        let data = try tinyData(train: 96, test: 24)
        for kind in RunConfig.dynamicLocalStepsAlgorithms {
            let plain = try train(config(kind, workers: 3, speeds: "0.5,0.5,0.5", dylu: false), data: data)
            let dylu = try train(config(kind, workers: 3, speeds: "0.5,0.5,0.5"), data: data)
            assertSameRun(dylu, plain, "\(kind)")
            XCTAssertEqual(dylu.localStepsTaken, [16, 16, 16])
        }
    }

    /// Speeds 1 and 0.5, H = 4: worker 1 computes at the first 2 iterations of each period and
    /// keeps still for the other 2; its 2 steps are plain local SGD's first 2 (same weights, data,
    /// rate); the average then is the mean of worker 0 after 4 steps and worker 1 after 2; in
    /// the next period worker 1 reads batches 2 and 3 of its shard, not 6 and 7.
    func testAWorkerAtHalfSpeedTakesHalfTheStepsOfEachPeriod() throws {
        let data = try tinyData(train: 96, test: 24)
        var plainWorker1: [Int: [Float]] = [:], longWorker0: [Float] = []
        try train(config(workers: 2, speeds: "1,0.5", dylu: false), data: data) { t in plainWorker1[t.globalStep] = parameters(t, worker: 1) }
        try train(config(workers: 2, speeds: "1,0.5", dylu: false) { $0.algorithm.localSteps = 8 }, data: data) { t in
            if t.globalStep == 4 { longWorker0 = parameters(t, worker: 0) }
        }
        var seen: [Int: [Float]] = [:]
        var checked = 0
        let t = try train(config(workers: 2, speeds: "1,0.5"), data: data) { t in
            let w1 = parameters(t, worker: 1)
            seen[t.globalStep] = w1
            switch t.globalStep {
            case 1, 2:
                XCTAssertEqual(w1, plainWorker1[t.globalStep], "its steps are local SGD's")
                XCTAssertNotEqual(w1, seen[t.globalStep - 1] ?? [], "it computed")
            case 3:
                XCTAssertEqual(w1, seen[2], "idle at iteration 2")
            case 4:
                let expected = zip(longWorker0, seen[3]!).map { ($0 + $1) / 2 }
                XCTAssertEqual(parameters(t, worker: 0), expected, "the mean of 4 steps and 2 steps")
                XCTAssertEqual(w1, expected)
                XCTAssertTrue(t.dataPosition(1) == (0, 2) && t.dataPosition(0) == (0, 4), "\(t.dataPosition(1))")
            case 11:
                // Gradient evaluations in iterations 0 … 10: 0, 1, 4, 5, 8, 9 for worker 1; all 11 for worker 0.
                XCTAssertEqual(t.workerSums[1].losses.filter { !$0.isNaN }.count, 6)
                XCTAssertEqual(t.workerSums[1].samples, 6 * 4)
                XCTAssertEqual(t.workerSums[0].samples, 11 * 4)
            case 12:
                // Epoch 1 of the run: worker 1 is halfway through its shard of epoch 0.
                XCTAssertTrue(t.dataPosition(1) == (0, 6) && t.dataPosition(0) == (1, 0))
            case 13:
                XCTAssertEqual(t.dataPlans.map(\.epoch).sorted(), [0, 1], "both epochs' splits are in use")
            default: break
            }
            if [1, 2, 3, 4, 11, 12].contains(t.globalStep) { checked += 1 }
        }
        XCTAssertEqual(checked, 6)
        XCTAssertEqual(t.totalSteps, 24)
        XCTAssertEqual(t.localStepsTaken, [24, 12])
        XCTAssertEqual(t.summary().syncs, 6, "the averaging points are the plain algorithm's")
    }

    /// The modelled wall-clock by hand: K = 2, H = 4, 24 iterations of 10 ms at speed 1. DyLU
    /// gives the worker at 0.5 two steps of 20 ms per period, so each period takes the fastest's
    /// 40 ms and the run 6·(40 ms + the average), as without a straggler; the plain algorithm
    /// waits 6·(80 ms + the average). At 0.1, ⌊0.4⌋ would be no step: it takes one, 100 ms.
    func testModelledTimeIsTheFastestsPeriodByHand() throws {
        let data = try tinyData(train: 96, test: 24)
        func seconds(_ speeds: String, dylu: Bool, _ kind: AlgorithmKind = .local) throws -> (Double, Trainer) {
            let t = try train(config(kind, workers: 2, speeds: speeds, dylu: dylu), data: data)
            return (try XCTUnwrap(t.summary().modelledSeconds), t)
        }
        let (fast, t) = try seconds("1,0.5", dylu: true)
        let network = try NetworkModel(parsing: "1gbit:100us")
        let average = network.allReduceSeconds(bytes: 4 * t.network.layout.count, workers: 2, groupSize: 2)
            + network.allReduceSeconds(bytes: 4 * t.network.stateLayout.count, workers: 2, groupSize: 2)
        XCTAssertEqual(fast, 6 * (0.040 + average), accuracy: 1e-9)
        XCTAssertEqual(try seconds("1,0.5", dylu: false).0, 6 * (0.080 + average), accuracy: 1e-9)
        XCTAssertEqual(try seconds("1,1", dylu: false).0, 6 * (0.040 + average), accuracy: 1e-9)
        XCTAssertEqual(try seconds("1,0.3", dylu: true).0, 6 * (0.040 + average), accuracy: 1e-9, "one step of 33 ms hides")
        XCTAssertEqual(try seconds("1,0.1", dylu: true).0, 6 * (0.100 + average), accuracy: 1e-9, "at least one step")
        // DiLoCo averages pseudo-gradients at the same points: the same clocks.
        XCTAssertEqual(try seconds("1,0.5", dylu: true, .diloco).0, 6 * (0.040 + average), accuracy: 1e-9)
        // Samples per second count the batches taken: 24 + 12 of them.
        let summary = t.summary()
        XCTAssertEqual(summary.samplesPerSecond * max(1e-9, summary.time.training), Double(36 * 4), accuracy: 1e-6)
    }

    /// DiLoCo with outer SGD at rate 1 is plain averaging: under DyLU too, bitwise local SGD
    /// under DyLU (pseudo-gradients x₀ − x_k of idle workers included as they stand).
    func testDiLoCoWithOuterSGDAtRateOneIsLocalSGDUnderDyLU() throws {
        let data = try tinyData()
        let speeds = "1,0.5,1,0.25"
        func k4(_ c: inout RunConfig) { c.schedule.batchSize = 2; c.algorithm.localSteps = 3; c.data.shuffle = true }
        let local = try train(config(.local, workers: 4, speeds: speeds, k4), data: data)
        let diloco = try train(config(.diloco, workers: 4, speeds: speeds) { k4(&$0); $0.algorithm.outerOptimizer = .sgd }, data: data)
        assertSameRun(diloco, local, "diloco sgd 1 = local")
        let plain = try train(config(.local, workers: 4, speeds: speeds, dylu: false, k4), data: data)
        XCTAssertNotEqual(parameters(local), parameters(plain), "DyLU changes the training")
    }

    /// One and two threads: the same bits.
    func testDyLUGivesTheSameNumbersOnAnyThreadCount() throws {
        let data = try tinyData(train: 96, test: 24)
        for kind in [AlgorithmKind.local, .slowmo] {
            func run(_ threads: Int) throws -> Trainer {
                try train(config(kind, workers: 3, speeds: "1,0.5,0.3") { $0.execution.threads = threads; $0.data.shuffle = true }, data: data)
            }
            assertSameRun(try run(1), try run(2), "\(kind)")
        }
    }

    /// Checkpoints in the middle of a period (and one at a period's end) resume to the
    /// uninterrupted run's bits: who computes and each worker's data position follow from the
    /// step, past an epoch where the slow workers are still in the previous epoch's shuffle.
    func testResumeInTheMiddleOfAPeriodIsBitwise() throws {
        let data = try tinyData(train: 72, test: 24)
        for kind in [AlgorithmKind.local, .diloco, .postLocal] {
            func run() -> RunConfig {
                config(kind, workers: 3, speeds: "1,0.5,0.25") {
                    $0.schedule.epochs = 3; $0.data.shuffle = true; $0.execution.checkpointEvery = "3"
                }
            }
            let reference = try train(run(), data: data)
            XCTAssertEqual(reference.totalSteps, 18)
            for crashAfter in [5, 8, 13] {
                let resumed = try trainerResumedAfterCrash(run(), data: data, crashAfter: crashAfter,
                                                           directory: try makeTemporaryDirectory(self))
                XCTAssertEqual(resumed.globalStep, crashAfter / 3 * 3)
                _ = try resumed.run()
                assertSameRun(resumed, reference, "\(kind), crash at \(crashAfter)")
                XCTAssertEqual(resumed.localStepsTaken, reference.localStepsTaken)
                XCTAssertEqual(resumed.summary().modelledSeconds, reference.summary().modelledSeconds)
            }
        }
    }
}

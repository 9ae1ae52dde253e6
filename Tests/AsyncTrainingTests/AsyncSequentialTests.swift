import Algorithms
import Comm
import Config
import Data
import NN
import Optim
import Tensor
import TestSupport
import Training
import TrainingTestSupport
import XCTest
@testable import AsyncTraining

/// The sequentialised mode of asynchronous local SGD, where the maths is exact: against local
/// SGD (Algorithm 2) and against a hand-written reference of the delayed in-place average.
final class AsyncSequentialTests: XCTestCase {
    func asyncConfig(_ edit: (inout RunConfig) -> Void) -> RunConfig {
        tinyConfig {
            $0.algorithm.kind = .async
            $0.async.asyncDeterministic = true
            edit(&$0)
        }
    }

    /// Bitwise equality, reporting the first differing element instead of both arrays.
    func assertBitwise(_ a: [Float], _ b: [Float], _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.count, b.count, what, file: file, line: line)
        if let i = a.indices.first(where: { $0 < b.count && a[$0].bitPattern != b[$0].bitPattern }) {
            let differing = zip(a, b).filter { $0.bitPattern != $1.bitPattern }.count
            XCTFail("\(what): \(differing) of \(a.count) values differ, first at \(i): \(a[i]) vs \(b[i])", file: file, line: line)
        }
    }

    func trainAsync(_ config: RunConfig, data: DataSplit) throws -> AsyncTrainer {
        let t = try AsyncTrainer(config: config, data: data,
                                 communicator: InProcessCommunicator(workers: config.async.nodes, threads: config.execution.threads))
        _ = try t.run()
        return t
    }

    /// One thread per node and immediate completion: local SGD with K = N and the same H, bit
    /// for bit, including BatchNorm statistics, momentum, warm-up and a step decay (the schedule
    /// indexed by the iteration), augmentation (the random stream of worker, epoch and step) and
    /// a final partial period (H does not divide the iterations).
    func testOneThreadPerNodeWithImmediateAveragingIsLocalSGD() throws {
        let data = try tinyData(train: 24, test: 12)
        func recipe(_ c: inout RunConfig) {
            c.model.kind = .resnet20; c.schedule.batchSize = 2; c.schedule.epochs = 3; c.schedule.warmupEpochs = 1; c.schedule.lrSchedule = .step
            c.schedule.decayEpochs = [2]; c.schedule.lr = 0.2; c.data.augmentCrop = 1; c.data.augmentFlip = true
        }
        let local = try train(tinyConfig { recipe(&$0); $0.algorithm.kind = .local; $0.algorithm.workers = 3; $0.algorithm.localSteps = 5 }, data: data)
        let async = try trainAsync(asyncConfig { recipe(&$0); $0.async.nodes = 3; $0.async.averageEvery = 5 }, data: data)
        XCTAssertEqual(async.stepsPerEpoch, local.stepsPerEpoch)
        XCTAssertNotEqual(local.totalSteps % 5, 0, "the run ends inside a period")
        for n in 0..<3 {
            assertBitwise(async.nodes[n].parameters.array, local.replicas[n].parameters.array, "node \(n) weights")
            assertBitwise(async.nodes[n].state.array, local.replicas[n].state.array, "node \(n) BatchNorm statistics")
            assertBitwise(async.workers[n].optimizerState.momentum.array, local.optimizerStates[n].momentum.array, "node \(n) momentum")
        }
        XCTAssertGreaterThan(async.nodes[0].state.array.count, 0, "the model has BatchNorm statistics")
        XCTAssertNotEqual(async.nodes[0].parameters.array, async.nodes[1].parameters.array, "nodes moved apart after the last average")
        XCTAssertEqual(async.syncs, local.strategy.syncs)
        XCTAssertEqual(async.history.map(\.testAccuracy), local.history.map(\.testAccuracy))
        XCTAssertEqual(async.history.map(\.trainLoss), local.history.map(\.trainLoss))
        XCTAssertEqual(async.summary().bytesCommunicated, local.summary().bytesCommunicated)
        XCTAssertEqual(async.stats.updatesDuringRounds, 0, "nothing moves while a round is in flight")
    }

    /// `--momentum-sync reset`: each thread zeroes its momentum at its first step after a round,
    /// so with one thread per node and immediate completion async stays local SGD with the same
    /// policy, bit for bit (and differs from keeping the momentum). H = 5 does not divide the 24
    /// iterations, so steps follow the last round and the momenta are comparable at the end.
    func testMomentumResetIsLocalSGDsReset() throws {
        let data = try tinyData(train: 48, test: 12)
        func recipe(_ c: inout RunConfig) { c.schedule.batchSize = 2; c.schedule.epochs = 2; c.algorithm.momentumSync = .reset }
        let local = try train(tinyConfig { recipe(&$0); $0.algorithm.kind = .local; $0.algorithm.workers = 2; $0.algorithm.localSteps = 5 }, data: data)
        let async = try trainAsync(asyncConfig { recipe(&$0); $0.async.nodes = 2; $0.async.averageEvery = 5 }, data: data)
        let kept = try trainAsync(asyncConfig { recipe(&$0); $0.algorithm.momentumSync = .local; $0.async.nodes = 2; $0.async.averageEvery = 5 }, data: data)
        XCTAssertEqual(local.totalSteps, 24)
        for n in 0..<2 {
            assertBitwise(async.nodes[n].parameters.array, local.replicas[n].parameters.array, "node \(n) weights")
            assertBitwise(async.workers[n].optimizerState.momentum.array, local.optimizerStates[n].momentum.array, "node \(n) momentum")
        }
        XCTAssertNotEqual(kept.nodes[0].parameters.array, async.nodes[0].parameters.array, "resetting changes the run")
    }

    /// `--momentum-sync average` (sequentialised mode): after each round, each thread's momentum
    /// becomes the mean of that thread's momentum over the nodes, so with one thread per node and
    /// immediate completion async is local SGD's momentum averaging, bit for bit. The concurrent
    /// mode refuses it with a sentence.
    func testMomentumAverageIsLocalSGDsAverage() throws {
        let data = try tinyData(train: 48, test: 12)
        func recipe(_ c: inout RunConfig) { c.schedule.batchSize = 2; c.schedule.epochs = 2; c.algorithm.momentumSync = .average }
        let local = try train(tinyConfig { recipe(&$0); $0.algorithm.kind = .local; $0.algorithm.workers = 3; $0.algorithm.localSteps = 5 }, data: data)
        let async = try trainAsync(asyncConfig { recipe(&$0); $0.async.nodes = 3; $0.async.averageEvery = 5 }, data: data)
        for n in 0..<3 {
            assertBitwise(async.nodes[n].parameters.array, local.replicas[n].parameters.array, "node \(n) weights")
            assertBitwise(async.workers[n].optimizerState.momentum.array, local.optimizerStates[n].momentum.array, "node \(n) momentum")
        }
        XCTAssertEqual(async.summary().bytesCommunicated, local.summary().bytesCommunicated, "the momentum's bytes are counted alike")
        var concurrent = asyncConfig { $0.async.nodes = 2; $0.algorithm.momentumSync = .average }
        concurrent.async.asyncDeterministic = false
        XCTAssertThrowsError(try concurrent.validate()) {
            XCTAssertEqual("\($0)", "--momentum-sync average with async needs --async-deterministic: the concurrent mode's threads use their momentum while a round completes")
        }
    }

    /// `--bn-sync first`: a round gives every node node 0's BatchNorm statistics (a broadcast
    /// after the weights' mean), so with one thread per node and immediate completion async is
    /// local SGD with the same policy, bit for bit, and differs from averaging them.
    func testBatchNormFirstIsLocalSGDsFirst() throws {
        let data = try tinyData(train: 24, test: 12)
        func recipe(_ c: inout RunConfig) { c.model.kind = .resnet20; c.schedule.batchSize = 2; c.schedule.epochs = 1; c.algorithm.bnSync = .first }
        let local = try train(tinyConfig { recipe(&$0); $0.algorithm.kind = .local; $0.algorithm.workers = 3; $0.algorithm.localSteps = 2 }, data: data)
        let async = try trainAsync(asyncConfig { recipe(&$0); $0.async.nodes = 3; $0.async.averageEvery = 2 }, data: data)
        let averaged = try trainAsync(asyncConfig { recipe(&$0); $0.algorithm.bnSync = .average; $0.async.nodes = 3; $0.async.averageEvery = 2 }, data: data)
        XCTAssertEqual(local.totalSteps % 2, 0, "the run ends on a round")
        for n in 0..<3 {
            assertBitwise(async.nodes[n].parameters.array, local.replicas[n].parameters.array, "node \(n) weights")
            assertBitwise(async.nodes[n].state.array, local.replicas[n].state.array, "node \(n) BatchNorm statistics")
        }
        assertBitwise(async.nodes[2].state.array, async.nodes[0].state.array, "every node holds node 0's statistics")
        XCTAssertNotEqual(averaged.nodes[0].state.array, async.nodes[0].state.array, "averaging them is another run")
    }

    func testOneNodeOneThreadIsSingleWorkerTraining() throws {
        let data = try tinyData()
        let single = try train(tinyConfig(), data: data)
        let async = try trainAsync(asyncConfig { $0.async.averageEvery = 2 }, data: data)
        XCTAssertEqual(async.nodes[0].parameters.array, parameters(single))
        XCTAssertEqual(async.syncs, 0, "a lone node averages with no one")
        XCTAssertEqual(async.summary().bytesCommunicated, 0)
    }

    /// 2 nodes, 1 thread, logistic regression, H = 2, delay D = 1: snapshots after iterations
    /// 2, 4, 6, …, each average applied one iteration later as x ← x̄ + (x − s), so the step each
    /// node made in between survives. Checked against a reference written out here.
    func testDelayedAveragingKeepsTheStepsMadeMeanwhile() throws {
        let data = try tinyData()
        let config = asyncConfig { $0.model.kind = .logreg; $0.async.nodes = 2; $0.async.averageEvery = 2; $0.async.asyncDelay = 1; $0.schedule.batchSize = 4 }
        let async = try trainAsync(config, data: data)
        let reference = try referenceDelayedAveraging(config, data: data)
        assertBitwise(async.nodes[0].parameters.array, reference[0], "node 0")
        assertBitwise(async.nodes[1].parameters.array, reference[1], "node 1")
        let steps = async.totalSteps
        XCTAssertEqual(steps % 2, 0)
        XCTAssertEqual(async.syncs, steps / 2, "one round per period; the last completes at the end")
        XCTAssertEqual(async.stats.forcedRounds, 0)
        XCTAssertEqual(async.stats.updatesDuringRounds, 2 * (steps / 2 - 1), "one step per node per round, none in the last")

        let immediate = try trainAsync(asyncConfig { $0.model.kind = .logreg; $0.async.nodes = 2; $0.async.averageEvery = 2; $0.schedule.batchSize = 4 },
                                       data: data)
        XCTAssertNotEqual(immediate.nodes[0].parameters.array, async.nodes[0].parameters.array, "the delay changes the result")
    }

    /// Replays the sequentialised schedule for P = 1 by hand: after every iteration t (1-based)
    /// both nodes have stepped; at even t they snapshot; at odd t > 1 the pending average lands.
    func referenceDelayedAveraging(_ config: RunConfig, data: DataSplit) throws -> [[Float]] {
        let spec = ModelSpec(kind: config.model.kind, channels: 1, height: 8, width: 8, classes: 3)
        let network = try Network(spec)
        let nodes = (0..<2).map { _ in Replica(for: network) }
        network.initialize(nodes[0], seed: config.execution.seed)
        nodes[1].copyWeights(from: nodes[0])
        let momenta = (0..<2).map { _ in OptimizerState(count: network.layout.count) }
        let optimizer = Optimizer(layout: network.layout, config: config.optimizerConfig)
        let stepsPerEpoch = data.train.count / 2 / config.schedule.batchSize
        let schedule = LearningRateSchedule(config: config.scheduleConfig, workers: 2, batchSize: config.schedule.batchSize,
                                            stepsPerEpoch: stepsPerEpoch)
        let images = Tensor(Shape(1, config.schedule.batchSize, 8, 8))
        var labels = [Int32](repeating: 0, count: config.schedule.batchSize)
        var snapshots: [[Float]]? = nil
        for t in 0..<(config.schedule.epochs * stepsPerEpoch) {
            let epoch = t / stepsPerEpoch, m = t % stepsPerEpoch
            let plan = try EpochPlan(sampleCount: data.train.count, workers: 2, batchSize: config.schedule.batchSize, epoch: epoch,
                                     seed: config.execution.seed, shuffle: true)
            for n in 0..<2 {
                var rng = RandomGenerator(seed: config.execution.seed, stream: [Stream.augmentation, UInt64(epoch), UInt64(n), UInt64(m)])
                labels.withUnsafeMutableBufferPointer { l in
                    fillBatch(from: data.train, indices: plan.indices(worker: n, step: m), images: images.pointer,
                              labels: l.baseAddress!, augmentation: Augmentation(), rng: &rng)
                    nodes[n].gradients.zero()
                    _ = network.trainStep(images: images, labels: l.baseAddress!, nodes[n].view,
                                          .training(seed: config.execution.seed, epoch: epoch, worker: n, step: m))
                }
                optimizer.step(parameters: nodes[n].parameters.pointer, gradients: nodes[n].gradients.pointer,
                               state: momenta[n], learningRate: schedule.learningRate(atStep: t))
            }
            if let s = snapshots {  // one step since the snapshot: the round completes
                let x = nodes.map(\.parameters.pointer)
                for i in 0..<network.layout.count {
                    let mean = (s[0][i] + s[1][i]) / 2
                    for n in 0..<2 { x[n][i] = mean + (x[n][i] - s[n][i]) }
                }
                snapshots = nil
            }
            if (t + 1) % 2 == 0 { snapshots = nodes.map(\.parameters.array) }
        }
        if let s = snapshots {  // the last round completes at the end of training
            for n in 0..<2 {
                for i in 0..<network.layout.count { nodes[n].parameters[i] = (s[0][i] + s[1][i]) / 2 }
            }
        }
        return nodes.map(\.parameters.array)
    }

    func testSeveralThreadsPerNodeAreReproducible() throws {
        let data = try tinyData()
        let config = asyncConfig { $0.async.nodes = 2; $0.async.threadsPerNode = 2; $0.async.averageEvery = 3; $0.async.asyncDelay = 2; $0.schedule.batchSize = 2 }
        let a = try trainAsync(config, data: data), b = try trainAsync(config, data: data)
        XCTAssertEqual(a.nodes[1].parameters.array, b.nodes[1].parameters.array)
        XCTAssertEqual(a.history.map(\.testAccuracy), b.history.map(\.testAccuracy))
        XCTAssertEqual(a.summary().workers, 4)
        XCTAssertEqual(a.stepsPerEpoch, 96 / 4 / 2, "data split over N·P = 4 threads")
        XCTAssertEqual(a.schedule.peakLearningRate, 0.5 * 4 * 2 / 256, "η scaled with N·P·B/256")
        XCTAssertGreaterThan(a.syncs, 0)
    }
}

import Algorithms
import Comm
import Config
import Data
import Optim
import Tensor
import TestSupport
import Training
import TrainingTestSupport
import XCTest
@testable import AsyncTraining

/// AdamW in the sequentialised async mode: with one thread per node and immediate completion it
/// is local SGD's AdamW under each momentum policy, both moments and t included, bit for bit;
/// and it resumes bitwise from an epoch-end checkpoint.
final class AsyncAdamTests: XCTestCase {
    struct Crash: Error {}

    func recipe(_ c: inout RunConfig, _ sync: MomentumSync) {
        c.optimizer.kind = .adamw; c.optimizer.weightDecay = 0.01; c.optimizer.gradClip = 1
        c.schedule.scaleLr = false; c.schedule.lr = 0.01; c.schedule.batchSize = 2; c.schedule.epochs = 2
        c.algorithm.momentumSync = sync
    }

    func asyncConfig(_ sync: MomentumSync, _ edit: (inout RunConfig) -> Void) -> RunConfig {
        tinyConfig { recipe(&$0, sync); $0.algorithm.kind = .async; $0.async.asyncDeterministic = true; edit(&$0) }
    }

    func trainer(_ config: RunConfig, data: DataSplit) throws -> AsyncTrainer {
        try AsyncTrainer(config: config, data: data, communicator: InProcessCommunicator(workers: config.async.nodes, threads: 1))
    }

    func bits(_ b: FloatBuffer?) -> [UInt32] { b?.array.map(\.bitPattern) ?? [] }

    /// H = 5 does not divide the 24 iterations, so the states differ per node at the end.
    func testOneThreadPerNodeIsLocalSGDsAdamW() throws {
        let data = try tinyData(train: 48, test: 12)
        for sync in [MomentumSync.reset, .average, .local] {
            let local = try train(tinyConfig { recipe(&$0, sync); $0.algorithm.kind = .local; $0.algorithm.workers = 2; $0.algorithm.localSteps = 5 },
                                  data: data)
            let async = try trainer(asyncConfig(sync) { $0.async.nodes = 2; $0.async.averageEvery = 5 }, data: data)
            _ = try async.run()
            for n in 0..<2 {
                let a = async.workers[n].optimizerState, l = local.optimizerStates[n]
                XCTAssertEqual(bits(async.nodes[n].parameters), bits(local.replicas[n].parameters), "\(sync) node \(n) weights")
                XCTAssertEqual(bits(a.momentum), bits(l.momentum), "\(sync) node \(n) m")
                XCTAssertEqual(bits(a.secondMoment), bits(l.secondMoment), "\(sync) node \(n) v")
                XCTAssertEqual(a.stepCount, l.stepCount, "\(sync) node \(n) t")
            }
            XCTAssertEqual(local.optimizerStates[0].stepCount, sync == .reset ? 4 : 24, "\(sync): t counts from the last reset")
        }
    }

    func testResumeAtAnEpochEndIsBitwiseIdentical() throws {
        let data = try tinyData(train: 48, test: 12)
        for sync in [MomentumSync.average, .reset] {
            let config = asyncConfig(sync) {
                $0.async.nodes = 2; $0.async.threadsPerNode = 2; $0.async.averageEvery = 5; $0.async.asyncDelay = 3
                $0.execution.checkpointEvery = "1e"
            }
            let reference = try trainer(config, data: data)
            _ = try reference.run()
            let dir = try makeTemporaryDirectory(self)
            let crashing = try trainer(config, data: data)
            crashing.afterProgress = { [unowned crashing] in
                try Checkpoint.write(crashing, directory: dir + "/checkpoints")
                if crashing.globalStep == crashing.stepsPerEpoch { throw Crash() }
            }
            XCTAssertThrowsError(try crashing.run())
            let resumed = try trainer(config, data: data)
            try Checkpoint.restoreLatest(into: resumed, directory: dir)
            XCTAssertEqual(resumed.globalStep, resumed.stepsPerEpoch)
            _ = try resumed.run()
            for n in 0..<2 { XCTAssertEqual(bits(resumed.nodes[n].parameters), bits(reference.nodes[n].parameters), "\(sync) node \(n)") }
            for (a, b) in zip(resumed.workers, reference.workers) {
                XCTAssertEqual(bits(a.optimizerState.momentum), bits(b.optimizerState.momentum), "\(sync) worker \(a.index) m")
                XCTAssertEqual(bits(a.optimizerState.secondMoment), bits(b.optimizerState.secondMoment), "\(sync) worker \(a.index) v")
                XCTAssertEqual(a.optimizerState.stepCount, b.optimizerState.stepCount, "\(sync) worker \(a.index) t")
            }
            XCTAssertEqual(resumed.history.map(\.trainLoss), reference.history.map(\.trainLoss), "\(sync)")
        }
    }
}

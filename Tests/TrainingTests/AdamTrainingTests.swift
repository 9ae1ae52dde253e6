import Algorithms
import Config
import Optim
import TestSupport
import TrainingTestSupport
import XCTest
@testable import Training

/// Adam and AdamW in lockstep training: they learn, resume bitwise (both moments and t are in
/// the checkpoint), and the momentum policies act on both moments.
final class AdamTrainingTests: XCTestCase {
    struct Crash: Error {}

    /// K = 2 local SGD with H = 3 on AdamW at a rate of 0.01, decay 0.01, clipping at norm 1:
    /// 12 iterations per epoch.
    func config(_ sync: MomentumSync = .average, epochs: Int = 2) -> RunConfig {
        tinyConfig {
            $0.optimizer.kind = .adamw; $0.optimizer.weightDecay = 0.01; $0.optimizer.gradClip = 1
            $0.schedule.scaleLr = false; $0.schedule.lr = 0.01; $0.schedule.epochs = epochs
            $0.algorithm.workers = 2; $0.algorithm.kind = .local; $0.algorithm.localSteps = 3
            $0.algorithm.momentumSync = sync; $0.execution.checkpointEvery = "5"
        }
    }

    func bits(_ values: [Float]) -> [UInt32] { values.map(\.bitPattern) }

    func testAdamWTrainsOnTheSyntheticData() throws {
        let data = try tinyData()
        for kind in [OptimizerKind.adamw, .adam] {
            let t = try train(config(epochs: 4).with { $0.optimizer.kind = kind }, data: data)
            let losses = t.history.map(\.trainLoss)
            XCTAssertLessThan(losses.last!, 0.7 * losses.first!, "\(kind) losses \(losses)")
            XCTAssertGreaterThan(t.history.last!.testAccuracy, 0.5, "\(kind)")
            XCTAssertEqual(t.optimizerStates[0].stepCount, 48)
        }
    }

    /// After the last iteration's average (24 iterations, H = 3): `average` leaves both moments
    /// equal on the two workers and keeps t; `reset` zeroes them and t; `local` leaves them apart.
    func testMomentumPoliciesActOnBothMoments() throws {
        let data = try tinyData()
        for sync in [MomentumSync.average, .reset, .local] {
            let t = try train(config(sync), data: data)
            let a = t.optimizerStates[0], b = t.optimizerStates[1]
            let v0 = a.secondMoment!.array, v1 = b.secondMoment!.array
            switch sync {
            case .average:
                XCTAssertEqual(bits(v0), bits(v1))
                XCTAssertEqual(bits(a.momentum.array), bits(b.momentum.array))
                XCTAssertEqual([a.stepCount, b.stepCount], [24, 24])
                XCTAssertTrue(v0.contains { $0 > 0 })
            case .reset:
                XCTAssertEqual(v0, Array(repeating: 0, count: v0.count))
                XCTAssertEqual(v1, v0)
                XCTAssertEqual([a.stepCount, b.stepCount], [0, 0])
            case .local:
                XCTAssertNotEqual(v0, v1)
                XCTAssertEqual([a.stepCount, b.stepCount], [24, 24])
            }
        }
    }

    func testResumeIsBitwiseIdentical() throws {
        let data = try tinyData()
        for sync in [MomentumSync.average, .reset] {
            let reference = try train(config(sync), data: data)
            for crashAfter in [7, 13] {
                let dir = try makeTemporaryDirectory(self)
                let policy = try XCTUnwrap(CheckpointPolicy(config: config(sync), directory: dir, stepsPerEpoch: 12))
                XCTAssertThrowsError(try train(config(sync), data: data) { t in
                    if policy.isDue(step: t.globalStep) { try Checkpoint.write(t, directory: policy.directory) }
                    if t.globalStep == crashAfter { throw Crash() }
                })
                let resumed = try Trainer(config: config(sync), data: data, communicator: InProcessCommunicatorFactory.make(2))
                try Checkpoint.restoreLatest(into: resumed, directory: dir)
                XCTAssertEqual(resumed.globalStep, crashAfter / 5 * 5)
                let done = crashAfter / 5 * 5
                XCTAssertEqual(resumed.optimizerStates[0].stepCount, sync == .reset ? done % 3 : done,
                               "t restored (reset: the steps since the last average, every 3)")
                _ = try resumed.run()
                let what = "\(sync), crash after \(crashAfter)"
                for k in 0..<2 {
                    let r = resumed.optimizerStates[k], e = reference.optimizerStates[k]
                    XCTAssertEqual(bits(resumed.replicas[k].parameters.array), bits(reference.replicas[k].parameters.array), what)
                    XCTAssertEqual(bits(r.momentum.array), bits(e.momentum.array), what)
                    XCTAssertEqual(bits(r.secondMoment!.array), bits(e.secondMoment!.array), what)
                    XCTAssertEqual(r.stepCount, e.stepCount, what)
                }
                XCTAssertEqual(resumed.history.map(\.trainLoss), reference.history.map(\.trainLoss), what)
            }
        }
    }

    /// SGD checkpoints are as before Adam: no step counts, no second moments.
    func testSGDCheckpointsHoldNoAdamState() throws {
        let t = try train(tinyConfig { $0.schedule.epochs = 1 }, data: try tinyData())
        let state = try t.checkpointState()
        XCTAssertNil(state.optimizerSteps)
        XCTAssertEqual(state.buffers.keys.sorted(), ["worker.0.momentum", "worker.0.parameters", "worker.0.state"])
        XCTAssertNil(t.optimizerStates[0].secondMoment)
        let adam = try train(config(epochs: 1), data: try tinyData())
        let saved = try adam.checkpointState()
        XCTAssertEqual(saved.optimizerSteps, [12, 12])
        XCTAssertEqual(saved.buffers["worker.1.secondMoment"], adam.optimizerStates[1].secondMoment!.array)
    }
}

extension RunConfig {
    func with(_ edit: (inout RunConfig) -> Void) -> RunConfig {
        var c = self
        edit(&c)
        return c
    }
}

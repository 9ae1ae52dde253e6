import Algorithms
import Comm
import Config
import Tensor
import TestSupport
import TrainingTestSupport
import XCTest
@testable import Training

/// `--faults` and `--worker-speeds` in the lockstep trainer: who computes, who is averaged, what
/// a joiner starts from, the modelled clocks, threads and resume.
final class FaultTests: XCTestCase {

    /// Plain SGD at a constant, unscaled rate, so that runs of different K step alike.
    func plainConfig(_ edit: (inout RunConfig) -> Void) -> RunConfig {
        tinyConfig {
            $0.schedule.scaleLr = false
            $0.schedule.lrSchedule = .constant
            $0.schedule.warmupEpochs = .epochs(0)
            $0.schedule.lr = 0.1
            $0.data.shuffle = false
            edit(&$0)
        }
    }

    /// K = 2 with worker 1 gone from the first iteration and never back is one worker on shard 0:
    /// without shuffling, shard 0 of K = 2 is the first half of the data in file order, which is
    /// what a K = 1 run reads in its first S/2 iterations (same augmentation and layer seeds, as
    /// both are worker 0's). The weights agree bitwise.
    func testAWorkerThatNeverComesBackLeavesAOneWorkerRunOnTheOtherShard() throws {
        let data = try tinyData(train: 96, test: 24)
        let two = try train(plainConfig {
            $0.algorithm.workers = 2; $0.algorithm.kind = .local; $0.algorithm.localSteps = 2; $0.schedule.epochs = 1
            $0.execution.faults = "leave:1@0"
        }, data: data)
        XCTAssertEqual(two.globalStep, 12)
        var one: [Float] = []
        try train(plainConfig { $0.algorithm.workers = 1; $0.algorithm.kind = .local; $0.algorithm.localSteps = 2; $0.schedule.epochs = 1 },
                  data: data) { t in
            if t.globalStep == 12 { one = parameters(t) }
        }
        XCTAssertEqual(parameters(two, worker: 0), one)
        XCTAssertEqual(two.summary().syncs, 0, "a lone present worker averages with no one")
        // The absent worker never moved from the initial weights.
        let fresh = try Trainer(config: plainConfig { $0.algorithm.workers = 2 }, data: data,
                                communicator: InProcessCommunicator(workers: 2, threads: 1))
        XCTAssertEqual(parameters(two, worker: 1), parameters(fresh, worker: 1))
    }

    /// A worker that returns starts from the present workers' average (summed in worker order,
    /// halved), keeps still while away, and its momentum starts at zero.
    func testAJoinerTakesTheAverageOfThePresentWorkers() throws {
        let data = try tinyData(train: 96, test: 24)
        let config = plainConfig {
            $0.algorithm.workers = 3; $0.algorithm.kind = .local; $0.algorithm.localSteps = 4; $0.schedule.epochs = 2
            $0.execution.faults = "leave:2@2,join:2@6"
        }
        var away: [Float] = []
        var checked = false
        try train(config, data: data) { t in
            switch t.globalStep {
            case 2: away = parameters(t, worker: 2)
            case 3, 4, 5: XCTAssertEqual(parameters(t, worker: 2), away, "an absent worker does not compute")
            case 6:
                let a = parameters(t, worker: 0), b = parameters(t, worker: 1)
                XCTAssertNotEqual(a, b, "no average at 6 with H = 4: the joiner's weights are a true average")
                XCTAssertEqual(parameters(t, worker: 2), zip(a, b).map { ($0 + $1) / 2 })
                XCTAssertNotEqual(parameters(t, worker: 2), away)
                let s0 = t.replicas[0].state.array, s1 = t.replicas[1].state.array
                XCTAssertEqual(t.replicas[2].state.array, zip(s0, s1).map { ($0 + $1) / 2 })
                XCTAssertTrue(t.optimizerStates[2].momentum.array.allSatisfy { $0 == 0 }, "fresh optimizer state")
                XCTAssertFalse(t.optimizerStates[0].momentum.array.allSatisfy { $0 == 0 })
                XCTAssertEqual(t.members, [0, 1, 2])
                checked = true
            default: break
            }
        }
        XCTAssertTrue(checked)
    }

    /// Under DiLoCo the joiner starts at the anchor x₀ (its pseudo-gradient is zero), not at the
    /// drifted workers' average.
    func testADiLoCoJoinerStartsAtTheAnchor() throws {
        let data = try tinyData(train: 96, test: 24)
        let config = plainConfig {
            $0.algorithm.workers = 3; $0.algorithm.kind = .diloco; $0.algorithm.localSteps = 4; $0.schedule.epochs = 2
            $0.execution.faults = "leave:2@1,join:2@6"
        }
        var anchor: [Float] = []
        try train(config, data: data) { t in
            if t.globalStep == 4 { anchor = parameters(t, worker: 0) } // every worker is x₀ right after the outer step
            if t.globalStep == 6 {
                XCTAssertEqual(parameters(t, worker: 2), anchor)
                XCTAssertNotEqual(parameters(t, worker: 0), anchor)
            }
        }
        XCTAssertFalse(anchor.isEmpty)
    }

    /// The strategy sees only the present workers: an average over workers 0 and 2 (1 away) is
    /// their mean, by hand, and leaves worker 1 alone; evaluation averages the same two.
    func testAveragesAreOverThePresentWorkersOnly() throws {
        let data = try tinyData(train: 96, test: 24)
        let t = try Trainer(config: plainConfig { $0.algorithm.workers = 3; $0.execution.faults = "leave:1@0"; $0.execution.network = "1gbit:100us" },
                            data: data, communicator: InProcessCommunicator(workers: 3, threads: 1))
        try t.updateMembership(joining: false)
        XCTAssertEqual(t.members, [0, 2])
        XCTAssertEqual(t.activeCommunicator.workers, 2)
        let n = t.replicas[0].parameters.count
        for k in 0..<3 {
            for i in 0..<n { t.replicas[k].parameters.pointer[i] = Float(k * 10 + i % 7) + 0.25 }
        }
        let evaluated = try t.averagedModel().parameters.array
        let averaging = PeriodicAveraging(levels: [.init(groupSize: 3, period: 1)])
        try averaging.average(SyncContext(step: 0, learningRate: 0.1, workers: t.activeWorkers, communicator: t.activeCommunicator),
                              groupSize: 2)
        let expected = (0..<n).map { i -> Float in
            let a = Float(i % 7) + 0.25, b = Float(20 + i % 7) + 0.25
            return (a + b) / 2
        }
        XCTAssertEqual(t.replicas[0].parameters.array, expected)
        XCTAssertEqual(t.replicas[2].parameters.array, expected)
        XCTAssertEqual(evaluated, expected)
        XCTAssertEqual(t.replicas[1].parameters.array, (0..<n).map { i -> Float in Float(10 + i % 7) + 0.25 })
        // The average was modelled on a ring of the two present workers.
        let modelled = try XCTUnwrap(t.activeCommunicator as? ModelledCommunicator)
        let network = try NetworkModel(parsing: "1gbit:100us")
        let expectedSeconds = network.allReduceSeconds(bytes: 4 * n, workers: 2, groupSize: 2)
            + network.allReduceSeconds(bytes: 4 * t.replicas[0].state.count, workers: 2, groupSize: 2)
        XCTAssertEqual(modelled.modelledSeconds, expectedSeconds, accuracy: 1e-12)
    }

    /// Two workers at speeds 1 and 0.5, 10 ms of compute per iteration each, H = 4, 3 ms per
    /// average: each period waits for the slow worker's 4·20 ms, then averages.
    func testAStragglerSetsTheModelledTimeOfEachPeriod() {
        var clocks = WorkerClocks(workers: 2)
        var total = 0.0
        for t in 0..<8 {
            total += clocks.advance(present: [0, 1], speeds: [1, 0.5], synchronizes: (t + 1) % 4 == 0, communication: 0.003) { _ in 0.010 }
        }
        XCTAssertEqual(total, 2 * (4 * 0.020 + 0.003), accuracy: 1e-12)
        XCTAssertEqual(clocks.clocks[0], clocks.clocks[1])
        // Without a sync the fast worker runs ahead: after 2 more iterations it is at +20 ms, the slow one at +40 ms.
        clocks.advance(present: [0, 1], speeds: [1, 0.5], synchronizes: false, communication: 0) { _ in 0.010 }
        clocks.advance(present: [0, 1], speeds: [1, 0.5], synchronizes: false, communication: 0) { _ in 0.010 }
        XCTAssertEqual(clocks.clocks[1] - clocks.clocks[0], 0.020, accuracy: 1e-12)
        XCTAssertEqual(clocks.elapsed, 0.166 + 0.040, accuracy: 1e-12)
        // A joiner starts with the latest present worker, plus its transfer.
        clocks.join(1, present: [0], transfer: 0.5)
        XCTAssertEqual(clocks.clocks[1], 0.166 + 0.020 + 0.5, accuracy: 1e-12)
    }

    /// The same by hand through the trainer, with `--modelled-compute` fixing the compute: two
    /// workers at speeds 1 and 0.5, 10 ms per iteration, H = 4, 24 iterations: each of the 6
    /// periods takes the slow worker's 4·20 ms, then the average's all-reduces among the two.
    /// With equal speeds, the per-worker clocks give what the model without speeds gives.
    func testAStragglerRunsModelledTimeByHand() throws {
        let data = try tinyData(train: 96, test: 24)
        func run(_ speeds: String?, workers: Int = 2, faults: String? = nil) throws -> (seconds: Double, trainer: Trainer) {
            let t = try train(plainConfig {
                $0.algorithm.workers = workers; $0.algorithm.kind = .local; $0.algorithm.localSteps = 4; $0.data.shuffle = true
                $0.execution.network = "1gbit:100us"; $0.execution.modelledCompute = 0.01; $0.execution.workerSpeeds = speeds
                $0.execution.faults = faults
            }, data: data)
            return (try XCTUnwrap(t.summary().modelledSeconds), t)
        }
        let network = try NetworkModel(parsing: "1gbit:100us")
        let (slow, t) = try run("1,0.5")
        XCTAssertEqual(t.totalSteps, 24)
        func average(_ p: Int) -> Double {
            network.allReduceSeconds(bytes: 4 * t.network.layout.count, workers: p, groupSize: p)
                + network.allReduceSeconds(bytes: 4 * t.network.stateLayout.count, workers: p, groupSize: p)
        }
        XCTAssertEqual(slow, 6 * (4 * 0.020 + average(2)), accuracy: 1e-9)
        XCTAssertEqual(try run("1,1").seconds, 6 * (4 * 0.010 + average(2)), accuracy: 1e-9)
        XCTAssertEqual(try run(nil).seconds, 6 * (4 * 0.010 + average(2)), accuracy: 1e-9)
        // K = 3, the slow worker 2 gone after iteration 8 (3 × 16 = 48 samples a worker, 16 iterations):
        // 2 periods wait for it, the other 2 average among the 2 present workers only.
        let dropped = try run("1,1,0.5", workers: 3, faults: "leave:2@8")
        XCTAssertEqual(dropped.trainer.totalSteps, 16)
        XCTAssertEqual(dropped.seconds, 2 * (0.080 + average(3)) + 2 * (0.040 + average(2)), accuracy: 1e-9)
    }

    /// Async does not wait: with the slow iteration on a different worker each time, lockstep
    /// (a sync every iteration) pays both slow iterations, async only each worker's own sum.
    func testAsyncModelledTimeDoesNotWaitForTheSlowest() {
        let compute: [[Double]] = [[0.02, 0.01], [0.01, 0.02]] // [iteration][worker]
        var lockstep = WorkerClocks(workers: 2)
        for c in compute { lockstep.advance(present: [0, 1], speeds: [1, 1], synchronizes: true, communication: 0) { c[$0] } }
        XCTAssertEqual(lockstep.elapsed, 0.04, accuracy: 1e-12)
        XCTAssertEqual(WorkerClocks.unsynchronized(compute: [0.03, 0.03], speeds: [1, 1]), 0.03, accuracy: 1e-12)
        // Speeds 1 and 0.5 on 80 ms of work each: the slow one takes 160 ms, nobody waits for it at rounds.
        XCTAssertEqual(WorkerClocks.unsynchronized(compute: [0.08, 0.08], speeds: [1, 0.5]), 0.16, accuracy: 1e-12)
    }

    /// `lognormal:σ` draws exp(σ·z_k) from the seed's own stream, in worker order.
    func testLognormalSpeedsAreDrawnFromTheSeed() throws {
        let speeds = try WorkerSpeeds(parsing: "lognormal:0.3", workers: 4, seed: 9).speeds
        var rng = RandomGenerator(seed: 9, stream: [WorkerSpeedsStream.value])
        XCTAssertEqual(speeds, (0..<4).map { _ in exp(0.3 * Double(rng.nextNormal())) })
        XCTAssertNotEqual(speeds, try WorkerSpeeds(parsing: "lognormal:0.3", workers: 4, seed: 10).speeds)
        XCTAssertEqual(try WorkerSpeeds(parsing: "1, 1,0.5", workers: 3, seed: 1).speeds, [1, 1, 0.5])
    }

    /// The same faulty run on one and two threads: the same bits.
    func testFaultsGiveTheSameNumbersOnAnyThreadCount() throws {
        let data = try tinyData(train: 96, test: 24)
        for kind in [AlgorithmKind.local, .diloco, .minibatch] {
            func run(_ threads: Int) throws -> Trainer {
                try train(plainConfig {
                    $0.algorithm.workers = 3; $0.algorithm.kind = kind; $0.algorithm.localSteps = 2; $0.execution.threads = threads
                    $0.execution.faults = "leave:1@3,join:1@1e,leave:2@10"; $0.execution.workerSpeeds = "1,0.5,2"
                    $0.execution.network = "1gbit:100us"
                }, data: data)
            }
            let a = try run(1), b = try run(2)
            for k in 0..<3 { XCTAssertEqual(parameters(a, worker: k), parameters(b, worker: k), "\(kind) worker \(k)") }
            XCTAssertEqual(a.history.map(\.testAccuracy), b.history.map(\.testAccuracy))
            XCTAssertEqual(a.history.map(\.trainLoss), b.history.map(\.trainLoss))
            XCTAssertEqual(a.summary().bytesCommunicated, b.summary().bytesCommunicated)
        }
    }

    /// Checkpoints before a leave, between the leave and the join, and after the join all resume
    /// to the uninterrupted run's bits, with the same syncs and bytes, and the clocks restored.
    func testResumeAcrossALeaveAndAJoinIsBitwise() throws {
        let data = try tinyData(train: 72, test: 24)
        for kind in [AlgorithmKind.local, .diloco] {
            func config() -> RunConfig {
                plainConfig {
                    $0.algorithm.workers = 3; $0.algorithm.kind = kind; $0.algorithm.localSteps = 3; $0.schedule.epochs = 2
                    $0.execution.faults = "leave:1@3,join:1@7"; $0.execution.checkpointEvery = "2"
                    $0.execution.workerSpeeds = "1,1,0.5"; $0.execution.network = "1gbit:100us"
                }
            }
            let reference = try train(config(), data: data)
            XCTAssertEqual(reference.totalSteps, 12)
            for crashAfter in [3, 5, 8] {
                let resumed = try trainerResumedAfterCrash(config(), data: data, crashAfter: crashAfter,
                                                           directory: try makeTemporaryDirectory(self))
                XCTAssertEqual(resumed.globalStep, crashAfter / 2 * 2)
                XCTAssertGreaterThan(try XCTUnwrap(resumed.clocks).elapsed, 0, "the clocks come back")
                let summary = try resumed.run()
                for k in 0..<3 {
                    XCTAssertEqual(parameters(resumed, worker: k), parameters(reference, worker: k), "\(kind), crash at \(crashAfter), worker \(k)")
                    XCTAssertEqual(resumed.optimizerStates[k].momentum.array, reference.optimizerStates[k].momentum.array)
                }
                XCTAssertEqual(summary.syncs, reference.summary().syncs)
                XCTAssertEqual(summary.bytesCommunicated, reference.summary().bytesCommunicated)
                XCTAssertEqual(resumed.history.map(\.testAccuracy), reference.history.map(\.testAccuracy))
                XCTAssertEqual(resumed.history.map(\.trainLoss), reference.history.map(\.trainLoss))
            }
        }
    }

    /// Where the points fall is checked once the iterations are known; each problem is a sentence.
    func testFaultsOutsideTheRunAreSentences() throws {
        let data = try tinyData(train: 96, test: 24)
        func message(_ faults: String) -> String {
            do {
                _ = try Trainer(config: plainConfig { $0.algorithm.workers = 2; $0.execution.faults = faults }, data: data,
                                communicator: InProcessCommunicator(workers: 2, threads: 1))
                return "no error"
            } catch { return "\(error)" }
        }
        XCTAssertEqual(message("leave:1@3e"), "--faults: 'leave:1@3e' is at iteration 36, past the run's last iteration (23; 12 per epoch)")
        XCTAssertEqual(message("leave:1@1e,join:1@5"), "--faults: 'join:1@5' joins worker 1, which has not left before iteration 5; each join follows its worker's leave")
        XCTAssertEqual(message("leave:1@5,join:1@5"), "--faults: 'join:1@5' is not after 'leave:1@5' (iteration 5); a worker joins after it left")
        XCTAssertEqual(message("leave:0@4,leave:1@1e,join:0@20"), "--faults leaves no worker present at iteration 12; at least one worker must always be present")
        XCTAssertEqual(message("leave:0@4,join:0@1e,leave:1@1e"), "no error", "a join and a leave at the same point keep one worker")
    }
}

/// `Tensor`'s stream constants (the module's `Stream` is shadowed by Foundation's and `Tensor` names a type too).
private enum WorkerSpeedsStream {
    static let value: UInt64 = 7
}

import Config
import TestSupport
import TrainingTestSupport
import XCTest
@testable import Training

/// Identities between the algorithms that must hold exactly, or to a stated tolerance where
/// the two compute the same value with differently ordered float operations.
final class AlgorithmIdentityTests: XCTestCase {
    func testOneWorkerLocalSGDIsSingleWorkerTraining() throws {
        let data = try tinyData()
        let single = try train(tinyConfig(), data: data)
        let local = try train(tinyConfig { $0.algorithm.kind = .local; $0.algorithm.localSteps = 3 }, data: data)
        XCTAssertEqual(parameters(local), parameters(single))
        XCTAssertNotEqual(parameters(single), try Trainer(config: tinyConfig(), data: data,
            communicator: InProcessCommunicatorFactory.make(1)).replicas[0].parameters.array, "training moved the weights")
    }

    /// K = 1: every periodic algorithm is single-worker training (the mean of one replica is
    /// itself); SlowMo is Lookahead, checked against Lookahead applied by hand to plain training.
    func testEveryAlgorithmWithOneWorkerIsItsSingleWorkerForm() throws {
        let data = try tinyData()
        let single = try train(tinyConfig(), data: data)
        let same: [(String, (inout RunConfig) -> Void)] = [
            ("local", { $0.algorithm.kind = .local; $0.algorithm.localSteps = 3 }),
            ("post-local", { $0.algorithm.kind = .postLocal; $0.algorithm.switchEpoch = 1; $0.algorithm.localSteps = 2 }),
            ("hierarchical", { $0.algorithm.kind = .hierarchical; $0.algorithm.groupSize = [1]; $0.algorithm.localSteps = 2; $0.algorithm.globalEvery = [2] }),
        ]
        for (name, edit) in same {
            let t = try train(tinyConfig(edit), data: data)
            XCTAssertEqual(parameters(t), parameters(single), name)
            XCTAssertEqual(t.summary().bytesCommunicated, 0, name)
        }
        let h = 3, alpha: Float = 0.5
        let slowmo = try train(tinyConfig {
            $0.algorithm.kind = .slowmo; $0.algorithm.localSteps = h; $0.algorithm.slowmoLr = alpha; $0.algorithm.slowmoMomentum = 0
        }, data: data)
        var anchor = try Trainer(config: tinyConfig(), data: data, communicator: InProcessCommunicatorFactory.make(1))
            .replicas[0].parameters.array  // the initial weights
        let lookahead = try train(tinyConfig(), data: data) { t in
            guard t.globalStep % h == 0 else { return }
            let x = t.replicas[0].parameters
            anchor = zip(anchor, x.array).map { $0 + alpha * ($1 - $0) }
            for i in anchor.indices { x[i] = anchor[i] }
        }
        assertClose(parameters(slowmo), parameters(lookahead), relative: 1e-4, absolute: 1e-5)
        XCTAssertGreaterThan(zip(parameters(slowmo), parameters(single)).map { abs($0 - $1) }.max()!, 1e-3,
                             "the slow steps change the result")
    }

    func testLocalSGDWithOneLocalStepIsMinibatchForPlainSGD() throws {
        let data = try tinyData()
        func plain(_ c: inout RunConfig) { c.algorithm.workers = 4; c.optimizer.momentum = 0; c.optimizer.weightDecay = 0; c.schedule.batchSize = 2 }
        let minibatch = try train(tinyConfig { plain(&$0); $0.algorithm.kind = .minibatch }, data: data)
        let local = try train(tinyConfig { plain(&$0); $0.algorithm.kind = .local; $0.algorithm.localSteps = 1 }, data: data)
        // mean(w − γ·g_k) vs w − γ·mean(g_k): equal up to rounding.
        assertClose(parameters(local), parameters(minibatch), relative: 1e-4, absolute: 1e-5)
        XCTAssertNotEqual(parameters(local), parameters(minibatch), "different arithmetic, so not bitwise equal")
    }

    func testPostLocalSwitchingAtTheEndIsMinibatch() throws {
        let data = try tinyData()
        let minibatch = try train(tinyConfig { $0.algorithm.workers = 4; $0.schedule.batchSize = 2 }, data: data)
        let postLocal = try train(tinyConfig {
            $0.algorithm.workers = 4; $0.schedule.batchSize = 2; $0.algorithm.kind = .postLocal; $0.algorithm.switchEpoch = 2; $0.algorithm.localSteps = 4
        }, data: data)
        XCTAssertEqual(parameters(postLocal), parameters(minibatch))
        XCTAssertEqual(postLocal.strategy.syncs, minibatch.strategy.syncs)
    }

    func testSlowMoWithUnitRateAndNoMomentumIsLocalSGD() throws {
        let data = try tinyData()
        let local = try train(tinyConfig { $0.algorithm.workers = 4; $0.schedule.batchSize = 2; $0.algorithm.kind = .local; $0.algorithm.localSteps = 3 }, data: data)
        let slowmo = try train(tinyConfig {
            $0.algorithm.workers = 4; $0.schedule.batchSize = 2; $0.algorithm.kind = .slowmo; $0.algorithm.localSteps = 3; $0.algorithm.slowmoLr = 1; $0.algorithm.slowmoMomentum = 0
        }, data: data)
        // x₀ − γ·((x₀ − x̄)/γ) = x̄ up to rounding.
        assertClose(parameters(slowmo), parameters(local), relative: 1e-3, absolute: 1e-4)
        let withMomentum = try train(tinyConfig {
            $0.algorithm.workers = 4; $0.schedule.batchSize = 2; $0.algorithm.kind = .slowmo; $0.algorithm.localSteps = 3; $0.algorithm.slowmoMomentum = 0.5
        }, data: data)
        XCTAssertGreaterThan(zip(parameters(withMomentum), parameters(local)).map { abs($0 - $1) }.max()!, 1e-3,
                             "β = 0.5 changes the result")
    }

    func testHierarchicalWithOneLevelIsLocalSGD() throws {
        let data = try tinyData()
        let local = try train(tinyConfig { $0.algorithm.workers = 4; $0.schedule.batchSize = 2; $0.algorithm.kind = .local; $0.algorithm.localSteps = 2 }, data: data)
        let hierarchical = try train(tinyConfig {
            $0.algorithm.workers = 4; $0.schedule.batchSize = 2; $0.algorithm.kind = .hierarchical; $0.algorithm.localSteps = 2; $0.algorithm.groupSize = [4]
        }, data: data)
        XCTAssertEqual(parameters(hierarchical), parameters(local))
    }

    func testReplicasAgreeAfterSynchronizationAndDifferBetween() throws {
        let data = try tinyData()
        var checked = (synced: 0, diverged: 0)
        try train(tinyConfig { $0.algorithm.workers = 3; $0.schedule.batchSize = 2; $0.algorithm.kind = .local; $0.algorithm.localSteps = 4; $0.schedule.epochs = 1 },
                  data: data) { t in
            let same = t.replicas.dropFirst().allSatisfy { $0.parameters.array == t.replicas[0].parameters.array }
            if t.globalStep % 4 == 0 { XCTAssertTrue(same, "step \(t.globalStep)"); checked.synced += 1 } else {
                XCTAssertFalse(same, "step \(t.globalStep)")
                checked.diverged += 1
            }
        }
        XCTAssertGreaterThan(checked.synced, 0)
        XCTAssertGreaterThan(checked.diverged, 0)
    }

    func testHierarchicalAveragesInsideGroupsBetweenGlobalAverages() throws {
        let data = try tinyData()
        try train(tinyConfig {
            $0.algorithm.workers = 4; $0.schedule.batchSize = 2; $0.algorithm.kind = .hierarchical; $0.algorithm.localSteps = 1; $0.algorithm.groupSize = [2]
            $0.algorithm.globalEvery = [3]; $0.schedule.epochs = 1
        }, data: data) { t in
            let p = t.replicas.map { $0.parameters.array }
            XCTAssertEqual(p[0], p[1], "group {0,1} averaged at step \(t.globalStep)")
            XCTAssertEqual(p[2], p[3], "group {2,3} averaged at step \(t.globalStep)")
            XCTAssertEqual(p[0] == p[2], t.globalStep % 3 == 0, "global average only every 3 steps (step \(t.globalStep))")
        }
    }

    func testThreadCountDoesNotChangeTheResult() throws {
        let data = try tinyData()
        for algorithm in [AlgorithmKindAlias.minibatch, .local, .slowmo] {
            let one = try train(tinyConfig { $0.algorithm.workers = 4; $0.schedule.batchSize = 2; $0.algorithm.kind = algorithm; $0.algorithm.localSteps = 2; $0.execution.threads = 1 }, data: data)
            let two = try train(tinyConfig { $0.algorithm.workers = 4; $0.schedule.batchSize = 2; $0.algorithm.kind = algorithm; $0.algorithm.localSteps = 2; $0.execution.threads = 2 }, data: data)
            XCTAssertEqual(parameters(two), parameters(one), "\(algorithm)")
            XCTAssertEqual(two.history.map(\.testAccuracy), one.history.map(\.testAccuracy))
        }
    }

    /// One worker: the threads split its layers (not OpenBLAS's calls), and the result is the same.
    func testThreadsOfALoneWorkerDoNotChangeTheResult() throws {
        let data = try tinyData()
        let one = try train(tinyConfig { $0.algorithm.workers = 1; $0.schedule.batchSize = 8; $0.execution.threads = 1 }, data: data)
        let two = try train(tinyConfig { $0.algorithm.workers = 1; $0.schedule.batchSize = 8; $0.execution.threads = 2 }, data: data)
        XCTAssertEqual(two.network.threads, 2)
        XCTAssertEqual(parameters(two), parameters(one))
        XCTAssertEqual(two.history.map(\.testAccuracy), one.history.map(\.testAccuracy))
    }

    /// Every algorithm, with fewer, as many and more workers than threads (so that threads go to
    /// workers, to layers, or both): the same weights, statistics and test metrics bitwise for
    /// 1, 2, 3 and 4 threads. 16×16 images and batch 8 make the mlp's hidden layer split its GEMMs.
    func testEveryAlgorithmGivesTheSameNumbersOnAnyThreadCount() throws {
        let data = try tinyData(train: 96, test: 20, size: 16)
        let algorithms: [(String, (inout RunConfig) -> Void)] = [
            ("minibatch", { $0.algorithm.kind = .minibatch }),
            ("local", { $0.algorithm.kind = .local; $0.algorithm.localSteps = 2 }),
            ("post-local", { $0.algorithm.kind = .postLocal; $0.algorithm.switchStep = 2; $0.algorithm.localSteps = 2 }),
            ("hierarchical", { $0.algorithm.kind = .hierarchical; $0.algorithm.localSteps = 1; $0.algorithm.groupSize = [2]; $0.algorithm.globalEvery = [2] }),
            ("slowmo", { $0.algorithm.kind = .slowmo; $0.algorithm.localSteps = 2 }),
            ("diloco", { $0.algorithm.kind = .diloco; $0.algorithm.localSteps = 2; $0.algorithm.outerLrSchedule = .cosine }),
        ]
        for (name, algorithm) in algorithms {
            for workers in name == "hierarchical" ? [4] : [1, 3] {
                func run(_ threads: Int) throws -> [[Float]] {
                    let t = try train(tinyConfig {
                        $0.model.kind = .mlp; $0.schedule.epochs = 1; $0.schedule.batchSize = 8; $0.algorithm.workers = workers; $0.execution.threads = threads
                        algorithm(&$0)
                    }, data: data)
                    return (0..<workers).flatMap { [parameters(t, worker: $0), t.replicas[$0].state.array] }
                        + [t.history.map { Float($0.testLoss) }, t.history.map { Float($0.trainLoss) }]
                }
                let reference = try run(1)
                for threads in 2...4 {
                    let other = try run(threads).joined(), differing = zip(other, reference.joined()).filter { $0 != $1 }.count
                    XCTAssertEqual(other.count, reference.joined().count)
                    XCTAssertEqual(differing, 0, "\(name), K = \(workers): \(differing) values differ between 1 and \(threads) threads")
                }
            }
        }
    }

    func testSyncCountsAndBytes() throws {
        let data = try tinyData()
        let t = try train(tinyConfig { $0.algorithm.workers = 4; $0.schedule.batchSize = 2; $0.algorithm.kind = .local; $0.algorithm.localSteps = 4 }, data: data)
        XCTAssertEqual(t.totalSteps, 2 * 96 / 4 / 2)
        XCTAssertEqual(t.strategy.syncs, t.totalSteps / 4)
        let params = t.network.layout.count, state = t.network.stateLayout.count
        XCTAssertEqual(t.summary().bytesCommunicated, t.strategy.syncs * 4 * (params + state))
    }
}

typealias AlgorithmKindAlias = AlgorithmKind
import Algorithms
import Comm

enum InProcessCommunicatorFactory {
    static func make(_ k: Int) -> InProcessCommunicator { InProcessCommunicator(workers: k, threads: 1) }
}

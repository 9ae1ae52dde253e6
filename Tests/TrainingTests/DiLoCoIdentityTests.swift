import Config
import Optim
import TestSupport
import TrainingTestSupport
import XCTest
@testable import Training

/// DiLoCo against the algorithms it generalises, through whole trainings: outer SGD at rate 1 is
/// local SGD, and outer heavy-ball SGD is SlowMo while the inner rate is constant.
final class DiLoCoIdentityTests: XCTestCase {
    func testDiLoCoWithOuterSGDAtRateOneIsLocalSGD() throws {
        let data = try tinyData()
        func k4(_ c: inout RunConfig) { c.algorithm.workers = 4; c.schedule.batchSize = 2; c.algorithm.localSteps = 3 }
        let local = try train(tinyConfig { k4(&$0); $0.algorithm.kind = .local }, data: data)
        let diloco = try train(tinyConfig { k4(&$0); $0.algorithm.kind = .diloco; $0.algorithm.outerOptimizer = .sgd }, data: data)
        for k in 0..<4 { XCTAssertEqual(parameters(diloco, worker: k), parameters(local, worker: k), "worker \(k)") }
        XCTAssertEqual(diloco.history.map(\.testLoss), local.history.map(\.testLoss))
        XCTAssertEqual(diloco.summary().bytesCommunicated, local.summary().bytesCommunicated)
        let nesterov = try train(tinyConfig { k4(&$0); $0.algorithm.kind = .diloco }, data: data)
        XCTAssertGreaterThan(zip(parameters(nesterov), parameters(local)).map { abs($0 - $1) }.max()!, 1e-3,
                             "the default outer Nesterov step changes the result")
    }

    /// SlowMo steps on Δ/γ at rate α·γ; DiLoCo with outer heavy-ball SGD (η = α, μ = β) on Δ at
    /// rate η. With a constant power-of-two γ the two are bitwise equal; under a cosine γ they part.
    func testSlowMoIsDiLoCoWithHeavyBallAtAConstantInnerRate() throws {
        let data = try tinyData()
        func base(_ c: inout RunConfig, _ schedule: ScheduleKind) {
            c.algorithm.workers = 4; c.schedule.batchSize = 2; c.algorithm.localSteps = 3
            c.schedule.scaleLr = false; c.schedule.lr = 0.03125; c.schedule.warmupEpochs = .epochs(0); c.schedule.lrSchedule = schedule
        }
        func pair(_ schedule: ScheduleKind) throws -> (slowmo: Trainer, diloco: Trainer) {
            let slowmo = try train(tinyConfig {
                base(&$0, schedule); $0.algorithm.kind = .slowmo; $0.algorithm.slowmoLr = 0.7; $0.algorithm.slowmoMomentum = 0.5
            }, data: data)
            let diloco = try train(tinyConfig {
                base(&$0, schedule); $0.algorithm.kind = .diloco
                $0.algorithm.outerOptimizer = .sgd; $0.algorithm.outerLr = 0.7; $0.algorithm.outerMomentum = 0.5
            }, data: data)
            return (slowmo, diloco)
        }
        let constant = try pair(.constant)
        for k in 0..<4 {
            XCTAssertEqual(parameters(constant.diloco, worker: k), parameters(constant.slowmo, worker: k), "worker \(k)")
        }
        let u = try XCTUnwrap(constant.diloco.strategy.saveState().buffers["outer.u"])
        let slowU = try XCTUnwrap(constant.slowmo.strategy.saveState().buffers["slowmo.u"])
        XCTAssertEqual(slowU, u.map { $0 / 0.03125 }, "SlowMo's buffer is DiLoCo's divided by γ")
        let cosine = try pair(.cosine)
        XCTAssertGreaterThan(zip(parameters(cosine.diloco), parameters(cosine.slowmo)).map { abs($0 - $1) }.max()!, 1e-4,
                             "under a decaying inner rate the two differ")
    }
}

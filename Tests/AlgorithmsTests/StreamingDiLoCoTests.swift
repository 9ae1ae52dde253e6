import XCTest
import Comm
import Optim
import Tensor
import TestSupport
@testable import Algorithms

/// Streaming DiLoCo's fragments and timetable by hand, its outer step and overlap against
/// hand computations, and P = 1, τ = 0 against plain DiLoCo and local SGD bit for bit.
final class StreamingDiLoCoTests: XCTestCase {
    /// A layer is the run of slots that share a name up to the last dot.
    func testLayerRangesOfALayout() {
        var layout = ParameterLayout()
        layout.append(name: "fc1.weight", shape: [2, 3], role: .linearWeight)   // 0..<6
        layout.append(name: "fc1.bias", shape: [2], role: .bias)                // 6..<8
        layout.append(name: "h.0.ln_1.weight", shape: [3], role: .normScale)    // 8..<11
        layout.append(name: "h.0.ln_1.bias", shape: [3], role: .normShift)      // 11..<14
        layout.append(name: "h.0.attn.c_attn.weight", shape: [1, 3], role: .linearWeight) // 14..<17
        layout.append(name: "fc2.weight", shape: [1, 2], role: .linearWeight)   // 17..<19
        XCTAssertEqual(layout.layerRanges, [0..<8, 8..<14, 14..<17, 17..<19])
        XCTAssertEqual(ParameterLayout().layerRanges, [])
    }

    /// Five layers dealt to P = 2 (0, 2, 4 and 1, 3), H = 4: fragment 0 after t = 4, 8, 12,
    /// fragment 1 (t₁ = 2) after t = 2, 6, 10; packed one after the other.
    func testFragmentsAreStridedAndTakeTurns() {
        let f = StreamingFragments(layers: [0..<3, 3..<5, 5..<9, 9..<10, 10..<12], fragments: 2, period: 4)
        XCTAssertEqual(f.ranges, [[0..<3, 5..<9, 10..<12], [3..<5, 9..<10]])
        XCTAssertEqual(f.sizes, [9, 3])
        XCTAssertEqual(f.packedOffsets, [0, 9])
        XCTAssertEqual(f.offsets, [0, 2])
        let due = (0..<12).map { step in (0..<2).filter { f.synchronizes($0, afterStep: step) } }
        XCTAssertEqual(due, [[], [1], [], [0], [], [1], [], [0], [], [1], [], [0]])
        // P = 3, H = 4: t_p = 0, 1, 2; adjacent layers of one fragment (P = 1) join into one range.
        XCTAssertEqual(StreamingFragments(layers: [0..<3, 3..<5, 5..<9], fragments: 3, period: 4).offsets, [0, 1, 2])
        XCTAssertEqual(StreamingFragments(layers: [0..<3, 3..<5, 5..<9], fragments: 1, period: 4).ranges, [[0..<9]])
        let flat = FloatBuffer((0..<12).map(Float.init)), packed = FloatBuffer(count: 9)
        f.gather(0, from: flat.pointer, into: packed.pointer)
        XCTAssertEqual(packed.array, [0, 1, 2, 5, 6, 7, 8, 10, 11])
        for i in 0..<9 { packed[i] = -packed[i] }
        f.scatter(0, from: packed.pointer, into: flat.pointer)
        XCTAssertEqual(flat.array, [0, -1, -2, 3, 4, -5, -6, -7, -8, 9, -10, -11])
    }

    /// K = 2 workers, P = 2, H = 2, outer Nesterov (η = 0.7, μ = 0.9): each synchronization
    /// moves only its fragment's ranges, to x₀ − η(μu + Δ) with u ← μu + Δ, Δ = x₀ − (a + b)/2,
    /// each fragment with its own u; the bytes are the fragment's.
    func testEachFragmentTakesItsOwnOuterStep() throws {
        let layers = [0..<2, 2..<3, 3..<5]                  // fragment 0: 0..<2, 3..<5; fragment 1: 2..<3
        let f = StreamingFragments(layers: layers, fragments: 2, period: 2)
        let s = try strategy(layers: layers, fragments: 2, period: 2, overlap: 0, outer: .nesterov)
        let w = WorkerBuffers(workers: 2, count: 5) { _, i in Float(i) }
        let comm = InProcessCommunicator(workers: 2, threads: 1)
        let set = workerSet(w)
        var x0 = w.arrays[0], u = [Float](repeating: 0, count: 5)
        var rng = RandomGenerator(seed: 11)
        for step in 0..<6 {
            let c = SyncContext(step: step, learningRate: 0.1, workers: set, communicator: comm)
            try s.afterBackward(c)
            for k in 0..<2 { for i in 0..<5 { w.buffers[k][i] += 0.1 * rng.nextNormal() } }
            let before = w.arrays, bytes = comm.counters.bytes
            try s.afterStep(c)
            let p = step % 2 == 0 ? 1 : 0                  // t₁ = 1: fragment 1 after steps 0, 2, 4
            XCTAssertEqual(s.plan(step: step, workers: 2), .averageFragments)
            var expected = before
            for r in f.ranges[p] {
                for i in r {
                    let delta = x0[i] - (before[0][i] + before[1][i]) / 2
                    u[i] = 0.9 * u[i] + delta
                    x0[i] -= 0.7 * (0.9 * u[i] + delta)
                    expected[0][i] = x0[i]
                    expected[1][i] = x0[i]
                }
            }
            XCTAssertEqual(w.arrays.map { $0.map(\.bitPattern) }, expected.map { $0.map(\.bitPattern) }, "step \(step)")
            // Fragment 0 also averages the BatchNorm statistics (5 floats per worker here).
            XCTAssertEqual(comm.counters.bytes - bytes, 4 * f.sizes[p] + (p == 0 ? 4 * 5 : 0), "step \(step)")
        }
        XCTAssertEqual(s.syncs, 6)
        let state = s.saveState()
        XCTAssertEqual(state.buffers["streaming.0.u"], [u[0], u[1], u[3], u[4]])
        XCTAssertEqual(state.buffers["streaming.1.u"], [u[2]])
    }

    /// τ = 1 on one float per worker, plain averaging (outer SGD at rate 1), α = 0.5: the
    /// workers reach 2 and 6 after t = 2, the mean 4 is in flight; after t = 3 they are at 3 and 7
    /// and become 0.5·3 + 0.5·4 = 3.5 and 0.5·7 + 0.5·4 = 5.5; after t = 4 the mean 4.5 leaves.
    func testOverlappedResultIsMixedIntoTheLocalProgress() throws {
        let s = try strategy(layers: [0..<1], fragments: 1, period: 2, overlap: 1, outer: .sgd, mix: 0.5)
        let w = WorkerBuffers(workers: 2, count: 1) { _, _ in 0 }
        let comm = InProcessCommunicator(workers: 2, threads: 1)
        let moves: [[Float]] = [[1, 3], [1, 3], [1, 1], [0, 0]]
        var seen: [[Float]] = []
        for step in 0..<4 {
            let c = SyncContext(step: step, learningRate: 0.1, workers: workerSet(w), communicator: comm)
            try s.afterBackward(c)
            for k in 0..<2 { w.buffers[k][0] += moves[step][k] }
            try s.afterStep(c)
            seen.append(w.arrays.map { $0[0] })
        }
        XCTAssertEqual(seen, [[1, 3], [2, 6], [3.5, 5.5], [3.5, 5.5]])
        XCTAssertEqual(s.syncs, 2, "after t = 2 and t = 4; the second result is still in flight")
        XCTAssertEqual(s.saveState().buffers["streaming.in_flight"], [4.5])
    }

    /// τ = 1, α = 0.25, outer Nesterov, P = 2, K = 3 over 12 steps against the algorithm
    /// written out on arrays: the snapshot's mean at t, the outer step at t, the mix after t + 1.
    func testOverlapAgainstAReference() throws {
        let layers = [0..<3, 3..<4, 4..<7]
        let f = StreamingFragments(layers: layers, fragments: 2, period: 4)
        let s = try strategy(layers: layers, fragments: 2, period: 4, overlap: 1, outer: .nesterov, mix: 0.25)
        let w = WorkerBuffers(workers: 3, count: 7, seed: 4)
        let comm = InProcessCommunicator(workers: 3, threads: 1)
        var x = w.arrays, x0 = w.arrays[0], u = [Float](repeating: 0, count: 7)
        var inFlight: [(p: Int, after: Int, values: [Float])] = []
        var rng = RandomGenerator(seed: 2)
        for step in 0..<12 {
            let c = SyncContext(step: step, learningRate: 0.1, workers: workerSet(w), communicator: comm)
            try s.afterBackward(c)
            for k in 0..<3 { for i in 0..<7 { let d = 0.01 * rng.nextNormal(); w.buffers[k][i] += d; x[k][i] += d } }
            try s.afterStep(c)
            for job in inFlight where job.after == step {
                for i in f.ranges[job.p].joined() { for k in 0..<3 { x[k][i] = 0.25 * x[k][i] + 0.75 * job.values[i] } }
            }
            inFlight.removeAll { $0.after == step }
            for p in 0..<2 where f.synchronizes(p, afterStep: step) {
                for i in f.ranges[p].joined() {
                    let delta = x0[i] - (x[0][i] + x[1][i] + x[2][i]) / 3
                    u[i] = 0.9 * u[i] + delta
                    x0[i] -= 0.7 * (0.9 * u[i] + delta)
                }
                inFlight.append((p, step + 1, x0))
            }
            XCTAssertEqual(w.arrays.map { $0.map(\.bitPattern) }, x.map { $0.map(\.bitPattern) }, "step \(step)")
        }
    }

    /// P = 1, τ = 0 is DiLoCo bit for bit, over K = 4 (DiLoCo's average fused into the optimizer
    /// pass as the trainer does: weights scaled by 1/4, then summed) and K = 3; with outer SGD at
    /// rate 1 it is local SGD.
    func testOneFragmentWithoutOverlapIsDiLoCoAndLocalSGD() throws {
        for (workers, outer) in [(4, OuterOptimizerKind.nesterov), (3, .nesterov), (4, .adam), (4, .sgd), (3, .sgd)] {
            var c = AlgorithmConfig.settings(.diloco, localSteps: 3)
            c.outerOptimizer = outer
            let diloco = try c.makeStrategy(workers: workers, parameterCount: 9, stepsPerEpoch: 4)
            let references: [SyncStrategy] = outer == .sgd
                ? [diloco, try AlgorithmConfig.settings(.local, localSteps: 3).makeStrategy(workers: workers, parameterCount: 9, stepsPerEpoch: 4)]
                : [diloco]
            for reference in references {
                let streaming = try strategy(layers: [0..<4, 4..<9], fragments: 1, period: 3, overlap: 0, outer: outer)
                let a = try run(reference, workers: workers), b = try run(streaming, workers: workers)
                XCTAssertEqual(a.map { $0.map(\.bitPattern) }, b.map { $0.map(\.bitPattern) }, "K \(workers), \(outer), \(type(of: reference))")
            }
        }
    }

    /// State round trip: a copy restored mid-overlap continues exactly as the original.
    func testRestoredMidOverlapContinuesBitwise() throws {
        let layers = [0..<3, 3..<4, 4..<7]
        let make = { try self.strategy(layers: layers, fragments: 2, period: 4, overlap: 2, outer: .adam, mix: 0.5) }
        let a = try make()
        let w = WorkerBuffers(workers: 2, count: 7, seed: 8)
        let comm = InProcessCommunicator(workers: 2, threads: 1)
        var b: StreamingDiLoCo?, copy: WorkerBuffers?
        var rng = RandomGenerator(seed: 1)
        for step in 0..<10 {
            let noise = (0..<14).map { _ in 0.01 * rng.nextNormal() }
            for (s, buffers) in [(a, w), (b, copy)] {
                guard let s, let buffers else { continue }
                let c = SyncContext(step: step, learningRate: 0.1, workers: workerSet(buffers), communicator: comm)
                try s.afterBackward(c)
                for k in 0..<2 { for i in 0..<7 { buffers.buffers[k][i] += noise[7 * k + i] } }
                try s.afterStep(c)
            }
            if step == 2 {   // fragment 1 (t₁ = 2) started after step 1, applies after step 3
                XCTAssertEqual(a.saveState().counters?["streaming.1.apply_after"], 3)
                b = try make()
                try b!.restoreState(a.saveState())
                copy = w.copy()
            }
        }
        XCTAssertEqual(w.arrays.map { $0.map(\.bitPattern) }, copy!.arrays.map { $0.map(\.bitPattern) })
        XCTAssertEqual(a.saveState(), b!.saveState())
        var broken = a.saveState()
        broken.buffers["streaming.x0"] = [1]
        XCTAssertThrowsError(try make().restoreState(broken)) {
            XCTAssertEqual("\($0)", "checkpoint has no Streaming DiLoCo buffer streaming.x0 of 7 values")
        }
    }

    /// The settings' sentences, each naming the flag and its range.
    func testBadSettingsAreSentences() {
        func error(_ edit: (inout AlgorithmConfig) -> Void) -> String {
            var c = AlgorithmConfig.settings(.diloco, localSteps: 4)
            edit(&c)
            do {
                _ = try c.makeStrategy(workers: 2, parameterCount: 9, stepsPerEpoch: 4, layers: [0..<4, 4..<5, 5..<9])
                return "no error"
            } catch { return "\(error)" }
        }
        XCTAssertEqual(error { $0.streamingFragments = 0 }, "--streaming-fragments must be at least 1, got 0")
        XCTAssertEqual(error { $0.streamingFragments = 4 },
                       "--streaming-fragments 4 is more than this model's 3 layers with parameters; each fragment needs at least one, so give at most 3")
        XCTAssertEqual(error { $0.streamingOverlap = 4 },
                       "--streaming-overlap must be below --local-steps (4), so a fragment's result arrives before its next synchronization; got 4")
        XCTAssertEqual(error { $0.streamingOverlap = 1; $0.streamingMix = 1.5 },
                       "--streaming-mix must be in [0, 1) (at 1 the synchronized fragment would never be applied), got 1.5")
        XCTAssertEqual(error { $0.streamingOverlap = 1; $0.streamingMix = 1 },
                       "--streaming-mix must be in [0, 1) (at 1 the synchronized fragment would never be applied), got 1.0")
        XCTAssertEqual(error { $0.streamingFragments = 3; $0.localSteps = 1 },
                       "--streaming-fragments 3 needs --local-steps of at least 2: with H = 1 every fragment's offset ⌊p·H/P⌋ is 0, so all would synchronize at once")
        XCTAssertEqual(error { $0.streamingMix = 0.5 },
                       "--streaming-mix mixes a result that arrives --streaming-overlap steps late: give --streaming-overlap above 0 with it")
        XCTAssertEqual(error { $0.kind = .slowmo; $0.streamingFragments = 2 },
                       "--streaming-fragments, --streaming-overlap and --streaming-mix are Streaming DiLoCo's: give them with --algorithm diloco, not slowmo")
        XCTAssertEqual(error { $0.streamingFragments = 2; $0.groupSize = [1] },
                       "Streaming DiLoCo synchronizes fragments across all workers: it takes no --group-size levels")
        XCTAssertEqual(error { $0.streamingFragments = 2; $0.momentumSync = .reset },
                       "Streaming DiLoCo keeps the inner optimizer's state per worker: --momentum-sync must be local with it")
        XCTAssertEqual(error { $0.streamingFragments = 2; $0.compress = .int8 },
                       "Streaming DiLoCo sends its fragments uncompressed: --compress is for the other algorithms (a fragment's pseudo-gradient is not compressed yet)")
        XCTAssertEqual(error { $0.streamingFragments = 2; $0.switchStep = 3 },
                       "Streaming DiLoCo runs local from the start: it takes no --switch-epoch or --switch-step")
        XCTAssertEqual(error { $0.streamingFragments = 3; $0.streamingOverlap = 3 }, "no error")
    }

    // MARK: helpers

    private func strategy(layers: [Range<Int>], fragments: Int, period: Int, overlap: Int, outer: OuterOptimizerKind,
                          mix: Float = 0.5) throws -> StreamingDiLoCo {
        var c = AlgorithmConfig.settings(.diloco, localSteps: period)
        c.outerOptimizer = outer
        return StreamingDiLoCo(fragments: StreamingFragments(layers: layers, fragments: fragments, period: period),
                               overlap: overlap, mix: mix, outer: c.dilocoOuterOptimizer,
                               rate: OuterLearningRate(base: c.resolvedOuterLr))
    }

    /// Gradients, statistics and momentum of the workers of `workerSet`, kept alive for the test.
    private var retained: [FloatBuffer] = []

    private func workerSet(_ w: WorkerBuffers) -> WorkerSet {
        let n = w.count, k = w.buffers.count
        let other = (0..<3 * k).map { _ in FloatBuffer(count: n) }
        retained += other
        return WorkerSet(parameters: w.pointers, gradients: (0..<k).map { other[$0].pointer },
                         state: (0..<k).map { other[k + $0].pointer }, momentum: (0..<k).map { other[2 * k + $0].pointer },
                         parameterCount: n, stateCount: n)
    }

    /// Nine steps of seeded inner moves under `s` over K workers of 9 floats, the optimizer's
    /// fusion of the plan applied as the trainer applies it; the workers' final weights.
    private func run(_ s: SyncStrategy, workers: Int) throws -> [[Float]] {
        let w = WorkerBuffers(workers: workers, count: 9, seed: 6)
        let comm = InProcessCommunicator(workers: workers, threads: 1)
        var rng = RandomGenerator(seed: 3)
        for step in 0..<9 {
            let fusion = SyncFusion(plan: s.plan(step: step, workers: workers), workers: workers)
            let c = SyncContext(step: step, learningRate: 0.1, workers: workerSet(w), communicator: comm, fusion: fusion)
            try s.afterBackward(c)
            for k in 0..<workers {
                for i in 0..<9 { w.buffers[k][i] = (w.buffers[k][i] + 0.1 * rng.nextNormal()) * fusion.parameterScale }
            }
            try s.afterStep(c)
        }
        return w.arrays
    }
}

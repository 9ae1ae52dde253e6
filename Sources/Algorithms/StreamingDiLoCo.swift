import Comm
import Optim
import Tensor

/// Streaming DiLoCo (Douillard et al. 2025, *Streaming DiLoCo with overlapping communication:
/// Towards a Distributed Free Lunch*, arXiv 2501.18512, Algorithm 2): DiLoCo whose outer step
/// runs on one fragment of the parameters at a time, with the fragment's result optionally
/// applied τ iterations after its synchronization started. The paper's FP4 quantization of the
/// exchanged values (§2.4) is not implemented: fragments travel as 32-bit floats.
///
/// - Fragments (§2.2, `StreamingFragments`): the layers dealt out strided to P fragments;
///   fragment p synchronizes every H iterations, at t ≡ t_p = ⌊p·H/P⌋ (mod H).
/// - At fragment p's synchronization after iteration t, every worker's fragment is copied
///   (snapshot x_{k,p}) and all-reduced to its mean x̄_p; the pseudo-gradient is
///   Δ_p = x₀,p − x̄_p against the fragment's previous outer weights x₀,p, and the outer
///   optimizer (`--outer-optimizer`, rate η_outer(t)) steps on it with its own state slice (its
///   momentum, Adam's moments and step count): x̃_p = OuterOpt(x₀,p, Δ_p), and x₀,p ← x̃_p.
/// - Overlap (§2.3): with τ = 0 every worker's fragment becomes x̃_p at once (plain DiLoCo when
///   P = 1). With τ > 0 the result arrives after iteration t + τ, when the workers have taken τ
///   more inner steps, and is merged: x_{k,p} ← α·x_{k,p} + (1 − α)·x̃_p, α the mixing factor
///   (`--streaming-mix`, the paper's 0.5). Here the all-reduce and the outer step run at t and
///   the result waits in a preallocated buffer; with a blocking MPI call at t the arithmetic is
///   the same, and the modelled wall-clock credits the τ iterations of overlap.
///
/// BatchNorm statistics follow `--bn-sync` at fragment 0's synchronizations (every H steps, as
/// plain DiLoCo). Each fragment synchronization is a line of `syncs.jsonl`, its statistics over
/// the fragment's coordinates as sent (`SyncRecorder+Fragments.swift`). `syncs` counts fragment synchronizations (P per H iterations once every
/// fragment has started); `bytes_communicated` stays about the same as DiLoCo's at the same H,
/// while the peak per iteration falls by about P. A result still in flight when the run ends is
/// not applied. All of the state (outer state, x₀, results in flight and when they apply) is
/// the same on every worker, kept once and checkpointed under `streaming.…`.
public final class StreamingDiLoCo: SyncStrategy {
    /// The paper's mixing factor (§2.3).
    public static let defaultMix: Float = 0.5

    public let fragments: StreamingFragments
    /// τ, 0 ≤ τ < H.
    public let overlap: Int
    /// α, in [0, 1].
    public let mix: Float
    public let batchNormSync: BatchNormSync
    public let rate: OuterLearningRate
    /// Fragment synchronizations that communicated (none with a lone worker).
    public private(set) var syncs = 0
    private let optimizers: [Optimizer]
    private let outerStates: [OptimizerState]
    private let isPlainAveraging: Bool
    /// x₀ of every fragment, packed.
    private let anchor: FloatBuffer
    /// x̃ of the fragments in flight, packed.
    private let results: FloatBuffer
    /// Δ, packed.
    private let pseudoGradient: FloatBuffer
    /// Each local worker's snapshot of the fragment being synchronized (the largest fragment's size).
    private var snapshots: [FloatBuffer] = []
    private var snapshotPointers: [UnsafeMutablePointer<Float>] = []
    /// For each fragment, the iteration after which its result in flight is applied; -1: none.
    private var applyAfter: [Int]
    private var anchorSet = false

    /// `outer` should have passed `validate()`; 0 ≤ `overlap` < `fragments.period`.
    public init(fragments: StreamingFragments, overlap: Int, mix: Float, outer: OptimizerConfig, rate: OuterLearningRate,
                batchNormSync: BatchNormSync = .average) {
        precondition(overlap >= 0 && overlap < fragments.period, "StreamingDiLoCo: overlap \(overlap) with H \(fragments.period)")
        self.fragments = fragments
        self.overlap = overlap
        self.mix = mix
        self.rate = rate
        self.batchNormSync = batchNormSync
        optimizers = fragments.sizes.enumerated().map { p, size in
            var layout = ParameterLayout()
            layout.append(name: "streaming.\(p)", shape: [size], role: .bias)
            return Optimizer(layout: layout, config: outer)
        }
        outerStates = fragments.sizes.map { OptimizerState(count: $0, kind: outer.kind) }
        isPlainAveraging = OuterOptimization.isPlainAveraging(rate: rate, outer: outer)
        let total = fragments.totalSize
        anchor = FloatBuffer(count: total)
        results = FloatBuffer(count: total)
        pseudoGradient = FloatBuffer(count: total)
        applyAfter = [Int](repeating: -1, count: fragments.count)
    }

    public var overlapSteps: Int { overlap }

    public func prepare(localWorkers: Int) {
        guard snapshots.count != localWorkers else { return }
        let largest = fragments.sizes.max() ?? 0
        snapshots = (0..<localWorkers).map { _ in FloatBuffer(count: largest) }
        snapshotPointers = snapshots.map(\.pointer)
    }

    public func plan(step: Int, workers: Int) -> SyncPlan {
        (0..<fragments.count).contains { fragments.synchronizes($0, afterStep: step) } ? .averageFragments : .none
    }

    public func afterBackward(_ c: SyncContext) throws {
        // The weights before the first step are every fragment's first x₀ (all workers agree).
        if !anchorSet {
            for p in 0..<fragments.count {
                fragments.gather(p, from: c.workers.parameters[0], into: anchor.pointer + fragments.packedOffsets[p])
            }
            anchorSet = true
        }
    }

    public func afterStep(_ c: SyncContext) throws {
        prepare(localWorkers: c.workers.count)
        let beta = 1 - mix
        for p in 0..<fragments.count where applyAfter[p] == c.step {
            let result = results.pointer + fragments.packedOffsets[p]
            for x in c.workers.parameters { fragments.mix(p, packed: result, into: x, alpha: mix, beta: beta) }
            applyAfter[p] = -1
        }
        for p in 0..<fragments.count where fragments.synchronizes(p, afterStep: c.step) {
            try synchronize(p, c)
        }
    }

    /// Fragment p's synchronization after iteration `c.step`: snapshot, mean, outer step, and
    /// the result applied now (τ = 0) or kept until iteration step + τ.
    private func synchronize(_ p: Int, _ c: SyncContext) throws {
        let n = fragments.sizes[p], comm = c.communicator
        let recorder = comm.workers > 1 ? c.recorder : nil
        for (k, x) in c.workers.parameters.enumerated() { fragments.gather(p, from: x, into: snapshots[k].pointer) }
        let x0 = anchor.pointer + fragments.packedOffsets[p], average = snapshots[0].pointer
        if comm.workers > 1 {
            recorder?.willSynchronizeFragment(c)
            try comm.allReduceMean(snapshotPointers, count: n)
            if p == 0 { try synchronizeBatchNorm(c) }
            syncs += 1
            recorder?.didAverageFragment(c, p, of: fragments, mean: average, anchor: x0)
        }
        if isPlainAveraging {
            x0.update(from: average, count: n)
        } else {
            let d = pseudoGradient.pointer + fragments.packedOffsets[p]
            for i in 0..<n { d[i] = x0[i] - average[i] }
            optimizers[p].step(parameters: x0, gradients: d, state: outerStates[p], learningRate: rate.rate(at: c.step))
        }
        recorder?.didOuterStepFragment(momentum: outerStates[p].momentum.pointer, count: n)
        if overlap == 0 {
            for x in c.workers.parameters { fragments.scatter(p, from: x0, into: x) }
        } else {
            (results.pointer + fragments.packedOffsets[p]).update(from: x0, count: n)
            applyAfter[p] = c.step + overlap
        }
    }

    /// `--bn-sync` across all workers, as plain DiLoCo's global average does.
    private func synchronizeBatchNorm(_ c: SyncContext) throws {
        let w = c.workers, comm = c.communicator
        switch batchNormSync {
        case .average: try comm.allReduceMean(w.state, count: w.stateCount)
        case .first: try comm.broadcast(w.state, count: w.stateCount, root: 0)
        case .local: break
        }
    }

    public func saveState() -> StrategyState {
        var s = StrategyState()
        s.syncs = syncs
        var counters: [String: Int] = [:]
        for p in 0..<fragments.count {
            s.buffers["streaming.\(p).u"] = outerStates[p].momentum.array
            if let v = outerStates[p].secondMoment {
                s.buffers["streaming.\(p).v"] = v.array
                counters["streaming.\(p).t"] = outerStates[p].stepCount
            }
            if applyAfter[p] >= 0 { counters["streaming.\(p).apply_after"] = applyAfter[p] }
        }
        if anchorSet { s.buffers["streaming.x0"] = anchor.array }
        if applyAfter.contains(where: { $0 >= 0 }) { s.buffers["streaming.in_flight"] = results.array }
        s.counters = counters.isEmpty ? nil : counters
        return s
    }

    public func restoreState(_ state: StrategyState) throws {
        syncs = state.syncs
        func load(_ key: String, into buffer: FloatBuffer) throws {
            guard let values = state.buffers[key], values.count == buffer.count else {
                throw StrategyError("checkpoint has no Streaming DiLoCo buffer \(key) of \(buffer.count) values")
            }
            values.withUnsafeBufferPointer { buffer.pointer.update(from: $0.baseAddress!, count: buffer.count) }
        }
        for p in 0..<fragments.count {
            try load("streaming.\(p).u", into: outerStates[p].momentum)
            if let v = outerStates[p].secondMoment {
                try load("streaming.\(p).v", into: v)
                guard let t = state.counters?["streaming.\(p).t"] else {
                    throw StrategyError("checkpoint has no outer Adam step count of Streaming DiLoCo's fragment \(p)")
                }
                outerStates[p].stepCount = t
            }
            applyAfter[p] = state.counters?["streaming.\(p).apply_after"] ?? -1
        }
        anchorSet = state.buffers["streaming.x0"] != nil
        if anchorSet { try load("streaming.x0", into: anchor) }
        if applyAfter.contains(where: { $0 >= 0 }) { try load("streaming.in_flight", into: results) }
    }
}

extension AlgorithmConfig {
    /// Streaming DiLoCo over this config's layers (`layerRanges`, set by `makeStrategy`).
    func streamingDiLoCo(parameterCount: Int) -> StreamingDiLoCo {
        let layers = layerRanges ?? [0..<parameterCount]
        let rate = OuterLearningRate(base: resolvedOuterLr, schedule: outerLrSchedule, totalSteps: totalSteps ?? 0)
        return StreamingDiLoCo(fragments: StreamingFragments(layers: layers, fragments: streamingFragments, period: localSteps),
                               overlap: streamingOverlap, mix: streamingMix ?? StreamingDiLoCo.defaultMix,
                               outer: dilocoOuterOptimizer, rate: rate, batchNormSync: bnSync)
    }
}

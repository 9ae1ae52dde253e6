/// One line of `syncs.jsonl`: one synchronization of a lockstep run (`SyncRecorder`), its place,
/// its cost and the state of the workers it brought together. The statistics are defined in
/// `SyncStatistics`; per kind:
///
/// - `weights` (local, hierarchical, post-local SGD averages): `pseudoGradientNorm` is
///   ‖a − x̄‖ for the anchor a (the weights right after the previous average covering the group,
///   or at the start of the local phase), root-mean-square over the groups of a level; the
///   consensus distance and update cosine are over the weights before the average.
/// - `outer` (the global averages of SlowMo and DiLoCo): as `weights`, where the anchor is the
///   outer weights x₀, so `pseudoGradientNorm` is ‖Δ‖ = ‖x₀ − x̄‖ (SlowMo's own pseudo-gradient
///   divides it by γ); `outerMomentumNorm` is the norm of the outer optimizer's momentum (Adam:
///   first moment) after the outer step.
/// - `gradients` (minibatch all-reduces): `pseudoGradientNorm` is ‖ḡ‖, the norm of the mean
///   gradient, the consensus distance is sqrt((1/K) Σ‖g_k − ḡ‖²) and the update cosine that of
///   the K gradients g_k.
///
/// Streaming DiLoCo (Douillard et al. 2025, §2.2) writes one `outer` line per fragment
/// synchronization, with `fragment` its index p and every statistic over that fragment's
/// coordinates only, taken when the fragment is sent (`SyncRecorder+Fragments.swift`). Under
/// `--faults` the statistics are over the `workers` present, the others left out.
public struct SyncRecord: Codable, Equatable, Sendable {
    public enum Kind: String, Codable, Sendable {
        case gradients, weights, outer
    }

    /// 0-based iteration after whose step (weights, outer) or backward pass (gradients) it ran.
    public var step: Int
    /// Iterations done after it over iterations per epoch: (step + 1) / steps per epoch.
    public var epoch: Double
    public var kind: Kind
    /// The group size G of the synchronization (K for a global one; under `--faults` a global
    /// one is of the P workers present).
    public var level: Int
    public var global: Bool
    /// Payload bytes each worker sent in this iteration's collectives (weights, and BatchNorm
    /// statistics and momentum by policy), from the communicator's counters.
    public var bytes: Int
    /// Iterations since the previous synchronization covering the level (an average of this
    /// level or a wider one; the start of the phase for the first); nil when unknown.
    public var effectiveH: Int?
    public var pseudoGradientNorm: Double?
    /// sqrt((1/K) Σ_k ‖x_k − x̄_g(k)‖²) before the synchronization (Kong et al. 2021), within groups.
    public var consensusDistance: Double
    public var updateCosine: Double?
    public var outerMomentumNorm: Double?
    /// The error a compressed payload made; nil (no codec compresses payloads yet).
    public var codecError: Double?
    /// Streaming DiLoCo's fragment p that this line synchronized; nil for a whole-model synchronization.
    public var fragment: Int?
    /// The workers that took part: K, or the P present under `--faults`; nil in files written
    /// before the field existed.
    public var workers: Int?

    public init(step: Int, epoch: Double, kind: Kind, level: Int, global: Bool, bytes: Int, effectiveH: Int?,
                pseudoGradientNorm: Double?, consensusDistance: Double, updateCosine: Double?,
                outerMomentumNorm: Double? = nil, codecError: Double? = nil, fragment: Int? = nil, workers: Int? = nil) {
        self.step = step
        self.epoch = epoch
        self.kind = kind
        self.level = level
        self.global = global
        self.bytes = bytes
        self.effectiveH = effectiveH
        self.pseudoGradientNorm = pseudoGradientNorm
        self.consensusDistance = consensusDistance
        self.updateCosine = updateCosine
        self.outerMomentumNorm = outerMomentumNorm
        self.codecError = codecError
        self.fragment = fragment
        self.workers = workers
    }

    enum CodingKeys: String, CodingKey {
        case step, epoch, kind, level, global, bytes, effectiveH = "effective_h", pseudoGradientNorm = "pseudo_gradient_norm"
        case consensusDistance = "consensus_distance", updateCosine = "update_cosine"
        case outerMomentumNorm = "outer_momentum_norm", codecError = "codec_error", fragment, workers
    }

    /// Every field is written, absent values as null, so each line has the same keys.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(step, forKey: .step)
        try c.encode(epoch, forKey: .epoch)
        try c.encode(kind, forKey: .kind)
        try c.encode(level, forKey: .level)
        try c.encode(global, forKey: .global)
        try c.encode(bytes, forKey: .bytes)
        try c.encode(effectiveH, forKey: .effectiveH)
        try c.encode(pseudoGradientNorm, forKey: .pseudoGradientNorm)
        try c.encode(consensusDistance, forKey: .consensusDistance)
        try c.encode(updateCosine, forKey: .updateCosine)
        try c.encode(outerMomentumNorm, forKey: .outerMomentumNorm)
        try c.encode(codecError, forKey: .codecError)
        try c.encode(fragment, forKey: .fragment)
        try c.encode(workers, forKey: .workers)
    }
}

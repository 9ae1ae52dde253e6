/// Which update rule `Optimizer` applies: SGD with (Nesterov) momentum as in §3 of the study,
/// or LARS as NVIDIA APEX's LARC with clipping (Appendix A.1) in front of the same update.
public enum OptimizerKind: String, Codable, CaseIterable, Sendable {
    case sgd, lars
}

/// Where the learning rate enters the momentum update of `Optimizer`.
public enum MomentumForm: String, Codable, CaseIterable, Sendable {
    /// Goyal et al. (2017), the study's (§3): the buffer holds lr-scaled steps, u ← β·c·u + lr·g, w ← w − u.
    case goyal
    /// PyTorch's SGD: u ← β·u + g, w ← w − lr·u; `momentumCorrection` does not apply. The form of
    /// SlowMo's outer update (Wang et al. 2020, Algorithm 1), so that its buffer is theirs.
    case pytorch
}

/// Hyperparameters of the optimizer (§3 "Training", Appendix A.1).
///
/// Defaults are a `localsgd` run's, since this struct is also the optimizer section of Config's
/// `RunConfig` (the only copy of these defaults): Nesterov momentum β = 0.9, L2 weight decay
/// λ = 5·10⁻⁴ on every parameter (as PyTorch's `SGD(weight_decay:)`; the study's ImageNet runs
/// use 10⁻⁴, which until the config redesign was this struct's default, so library code that
/// relied on it now sets it), momentum correction on (Goyal et al. 2017), and for LARS a trust
/// coefficient of 0.02, ε = 10⁻⁸ and clipping. A run file may leave any field out; it then takes
/// the default.
public struct OptimizerConfig: Codable, Equatable, Sendable {
    public var kind: OptimizerKind = .sgd
    /// β, the momentum coefficient, at least 0, under 1.
    public var momentum: Float = 0.9
    public var nesterov: Bool = true
    /// λ, L2 weight decay added to the gradient of every parameter, 0 to 1.
    public var weightDecay: Float = 5e-4
    public var larsTrustCoefficient: Float = 0.02
    public var larsEpsilon: Float = 1e-8
    /// LARC's clipping: the local rate is min(local / lr, 1), so LARS never raises the step.
    public var larsClip: Bool = true
    /// Rescale the momentum buffer by lr / previous lr when the learning rate changes (`.goyal` form only).
    public var momentumCorrection: Bool = true
    public var momentumForm: MomentumForm = .goyal

    public init() {}

    /// Throws an `OptimConfigError` naming the first field that cannot be used.
    public func validate() throws {
        try require(momentum.isFinite && momentum >= 0 && momentum < 1, field: "momentum",
                    "momentum must be in [0, 1), got \(momentum).")
        try require(weightDecay.isFinite && weightDecay >= 0, field: "weightDecay",
                    "weightDecay must be a finite number ≥ 0, got \(weightDecay).")
        try require(larsTrustCoefficient.isFinite && larsTrustCoefficient > 0, field: "larsTrustCoefficient",
                    "larsTrustCoefficient must be a finite number > 0, got \(larsTrustCoefficient).")
        try require(larsEpsilon.isFinite && larsEpsilon >= 0, field: "larsEpsilon",
                    "larsEpsilon must be a finite number ≥ 0, got \(larsEpsilon).")
    }
}

extension OptimizerConfig {
    // Decoding fills missing keys with the defaults above, so a run file names only what it changes.
    public init(from decoder: Decoder) throws {
        self.init()
        let c = try decoder.container(keyedBy: CodingKeys.self)
        kind = try c.decodeIfPresent(OptimizerKind.self, forKey: .kind) ?? kind
        momentum = try c.decodeIfPresent(Float.self, forKey: .momentum) ?? momentum
        nesterov = try c.decodeIfPresent(Bool.self, forKey: .nesterov) ?? nesterov
        weightDecay = try c.decodeIfPresent(Float.self, forKey: .weightDecay) ?? weightDecay
        larsTrustCoefficient = try c.decodeIfPresent(Float.self, forKey: .larsTrustCoefficient) ?? larsTrustCoefficient
        larsEpsilon = try c.decodeIfPresent(Float.self, forKey: .larsEpsilon) ?? larsEpsilon
        larsClip = try c.decodeIfPresent(Bool.self, forKey: .larsClip) ?? larsClip
        momentumCorrection = try c.decodeIfPresent(Bool.self, forKey: .momentumCorrection) ?? momentumCorrection
        momentumForm = try c.decodeIfPresent(MomentumForm.self, forKey: .momentumForm) ?? momentumForm
    }
}

/// Which update rule `Optimizer` applies: SGD with (Nesterov) momentum as in §3 of the study,
/// LARS as NVIDIA APEX's LARC with clipping (Appendix A.1) in front of the same update, or Adam
/// and AdamW as PyTorch's `torch.optim.Adam` / `AdamW` (Kingma & Ba 2015; Loshchilov & Hutter
/// 2019), amsgrad and maximize off.
public enum OptimizerKind: String, Codable, CaseIterable, Sendable {
    case sgd, lars
    /// Adam with L2 weight decay added to the gradient (coupled), as `torch.optim.Adam(weight_decay:)`.
    case adam
    /// Adam with decoupled weight decay w ← w·(1 − lr·λ) before the update, as `torch.optim.AdamW`.
    case adamw

    /// Adam and AdamW keep a second moment and a step count (`OptimizerState`).
    public var isAdaptive: Bool { self == .adam || self == .adamw }
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
/// coefficient of 0.02, ε = 10⁻⁸ and clipping; for Adam and AdamW PyTorch's β₁ = 0.9,
/// β₂ = 0.999, ε = 10⁻⁸; no gradient clipping. A run file may leave any field out; it then takes
/// the default.
///
/// `weightDecay` is shared by all kinds, and its default (5·10⁻⁴) is an SGD one: Adam adds it to
/// the gradient, AdamW decays the weights by lr·λ per step, and AdamW runs usually set their own
/// (PyTorch's `AdamW` default is 10⁻²). `momentum`, `nesterov`, `momentumCorrection` and
/// `momentumForm` do not apply to Adam and AdamW, whose first moment decays with `beta1`.
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
    /// Adam's β₁, the first moment's decay, at least 0, under 1.
    public var beta1: Float = 0.9
    /// Adam's β₂, the second moment's decay, at least 0, under 1.
    public var beta2: Float = 0.999
    /// Adam's ε, added to √v̂ in the denominator, a finite number ≥ 0.
    public var epsilon: Float = 1e-8
    /// The largest global L2 norm of the (divided) gradient: above it the step scales the gradient
    /// by c / (‖g‖ + 10⁻⁶), as PyTorch's `clip_grad_norm_`; nil or 0 for no clipping. Any kind.
    public var gradClip: Float? = nil

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
        try require(beta1.isFinite && beta1 >= 0 && beta1 < 1, field: "beta1",
                    "beta1 (Adam's first-moment decay) must be in [0, 1), got \(beta1).")
        try require(beta2.isFinite && beta2 >= 0 && beta2 < 1, field: "beta2",
                    "beta2 (Adam's second-moment decay) must be in [0, 1), got \(beta2).")
        try require(epsilon.isFinite && epsilon > 0, field: "epsilon",
                    "epsilon (Adam's denominator term) must be a finite number > 0, got \(epsilon) (at 0 a weight whose gradients are all 0 divides 0 by 0).")
        if let clip = gradClip {
            try require(clip.isFinite && clip >= 0, field: "gradClip",
                        "gradClip (the largest global norm of the gradient) must be a finite number ≥ 0 (0: no clipping), got \(clip).")
        }
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
        beta1 = try c.decodeIfPresent(Float.self, forKey: .beta1) ?? beta1
        beta2 = try c.decodeIfPresent(Float.self, forKey: .beta2) ?? beta2
        epsilon = try c.decodeIfPresent(Float.self, forKey: .epsilon) ?? epsilon
        gradClip = try c.decodeIfPresent(Float.self, forKey: .gradClip)
    }
}

/// The shape of the learning-rate schedule after warm-up (§3 "Training", §5 cosine paragraph).
public enum ScheduleKind: String, Codable, CaseIterable, Sendable {
    /// ×`decayFactor` at the end of each of `decayEpochs` (He et al. 2016, the study's default).
    case step
    /// Half-period cosine η₀(1 + cos(π·t/T_max))/2, t the epoch (§5).
    case cosine
    /// The peak learning rate throughout.
    case constant
}

/// Learning-rate schedule settings (§3 "Training"; §5 for the cosine schedule; Appendix A.2 for
/// other decay epochs).
///
/// Defaults are the study's ImageNet recipe: η = K·B·0.1/256 (linear scaling rule), linear
/// warm-up over 5 epochs starting from 0.1, ×0.1 at the end of epochs 30, 60 and 80 of 90.
/// Epochs in `decayEpochs` are 1-based as in the paper: 30 means "at the end of the 30th epoch",
/// so the 0-based epoch index 30 is the first with the decayed rate. They count from the start
/// of training, as the study's do, and must come after the warm-up. A run file may leave any
/// field out; it then takes the default.
///
/// These defaults serve library users only: a `localsgd` run builds its schedule with
/// `init(baseLearningRate:kind:...)`, which takes every field, from its own settings (Config's
/// `ScheduleSection`: cosine, warm-up `auto`, 10 epochs), so the two cannot drift apart silently.
public struct ScheduleConfig: Codable, Equatable, Sendable {
    /// The "0.1" in η = K·B·0.1/256, and where warm-up starts.
    public var baseLearningRate: Float = 0.1
    public var kind: ScheduleKind = .step
    /// Epochs (1-based) at whose end the learning rate is multiplied by `decayFactor`; step kind only.
    public var decayEpochs: [Int] = [30, 60, 80]
    public var decayFactor: Float = 0.1
    public var warmupEpochs: Int = 5
    /// Length of training in epochs; T_max of the cosine schedule.
    public var epochs: Int = 90
    /// Linear scaling rule: peak = K·B·base/256; otherwise the peak is the base rate.
    public var scaleLearningRate: Bool = true
    /// The most the linear scaling rule may raise the peak to (nil: no limit); a base rate above
    /// it is kept, and without scaling it does not apply. The rule holds
    /// only up to a rate beyond which training diverges (Goyal et al. 2017, §5; Shallue et al.
    /// 2019); a model without BatchNorm reaches it at small K·B.
    public var maxLearningRate: Float? = nil

    public init() {}

    /// Every field given: a new field breaks callers instead of taking a default unseen.
    public init(baseLearningRate: Float, kind: ScheduleKind, decayEpochs: [Int], decayFactor: Float, warmupEpochs: Int,
                epochs: Int, scaleLearningRate: Bool, maxLearningRate: Float?) {
        self.baseLearningRate = baseLearningRate
        self.kind = kind
        self.decayEpochs = decayEpochs
        self.decayFactor = decayFactor
        self.warmupEpochs = warmupEpochs
        self.epochs = epochs
        self.scaleLearningRate = scaleLearningRate
        self.maxLearningRate = maxLearningRate
    }

    /// Throws an `OptimConfigError` naming the first field that cannot be used.
    public func validate() throws {
        try require(baseLearningRate.isFinite && baseLearningRate > 0, field: "baseLearningRate",
                    "baseLearningRate must be a finite number > 0, got \(baseLearningRate).")
        try require(decayFactor.isFinite && decayFactor > 0 && decayFactor <= 1, field: "decayFactor",
                    "decayFactor must be in (0, 1], got \(decayFactor).")
        try require(epochs >= 1, field: "epochs", "epochs must be at least 1, got \(epochs).")
        if let m = maxLearningRate {
            try require(m.isFinite && m > 0, field: "maxLearningRate", "maxLearningRate must be a finite number > 0, got \(m).")
        }
        try require(warmupEpochs >= 0, field: "warmupEpochs", "warmupEpochs must be ≥ 0, got \(warmupEpochs).")
        try require(warmupEpochs <= epochs, field: "warmupEpochs",
                    "warmupEpochs (\(warmupEpochs)) must not be longer than training (epochs = \(epochs)).")
        if kind == .step { try validateDecayEpochs() }
    }

    private func validateDecayEpochs() throws {
        var previous = 0
        for epoch in decayEpochs {
            try require(epoch > previous, field: "decayEpochs",
                        "decayEpochs must be strictly increasing epochs ≥ 1, got \(decayEpochs).")
            // A decay at the end of the last warm-up epoch would cut the rate the moment it peaks.
            try require(epoch > warmupEpochs, field: "decayEpochs",
                        "decayEpochs: \(epoch) is not after the warm-up (warmupEpochs = \(warmupEpochs)); the rate would drop the moment it peaks.")
            try require(epoch < epochs, field: "decayEpochs",
                        "decayEpochs: \(epoch) is not before the end of training (epochs = \(epochs)), so it would never apply.")
            previous = epoch
        }
    }
}

extension ScheduleConfig {
    // Decoding fills missing keys with the defaults above, so a run file names only what it changes.
    public init(from decoder: Decoder) throws {
        self.init()
        let c = try decoder.container(keyedBy: CodingKeys.self)
        baseLearningRate = try c.decodeIfPresent(Float.self, forKey: .baseLearningRate) ?? baseLearningRate
        kind = try c.decodeIfPresent(ScheduleKind.self, forKey: .kind) ?? kind
        decayEpochs = try c.decodeIfPresent([Int].self, forKey: .decayEpochs) ?? decayEpochs
        decayFactor = try c.decodeIfPresent(Float.self, forKey: .decayFactor) ?? decayFactor
        warmupEpochs = try c.decodeIfPresent(Int.self, forKey: .warmupEpochs) ?? warmupEpochs
        epochs = try c.decodeIfPresent(Int.self, forKey: .epochs) ?? epochs
        scaleLearningRate = try c.decodeIfPresent(Bool.self, forKey: .scaleLearningRate) ?? scaleLearningRate
        maxLearningRate = try c.decodeIfPresent(Float.self, forKey: .maxLearningRate)
    }
}

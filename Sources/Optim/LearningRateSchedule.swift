import Foundation

/// The learning rate of every global iteration (§3 "Training", §5 cosine paragraph), composed as
/// PyTorch's `SequentialLR([LinearLR, main], milestones: [W])`: warm-up, then the decay over the
/// epochs that remain, so the rate is continuous where warm-up ends.
///
/// - Peak: η = K·B·base/256 with the linear scaling rule (K workers, B per-worker batch), else
///   base; the rule raises it to at most `maxLearningRate` (or the base, if that is higher).
/// - Warm-up: over the first `warmupEpochs` epochs the rate rises linearly every iteration from
///   `baseLearningRate` ("starts from 0.1") to the peak, which it reaches at the end of the last
///   warm-up epoch: iteration s < W = warmupEpochs·stepsPerEpoch gets start + (peak − start)·s/W,
///   iteration W the peak. With a peak below the base the warm-up is flat at the peak.
/// - After warm-up, with e = step / stepsPerEpoch the 0-based epoch index, w = `warmupEpochs`
///   and T = `epochs`: cosine: peak·(1 + cos(π·(e − w)/(T − w)))/2, updated once per epoch
///   (`CosineAnnealingLR` with T_max = T − w; e is held at T past the end); step:
///   peak·decayFactor^n, n the number of `decayEpochs` ≤ e (decay at the end of epoch d, 1-based;
///   every d > w, so this is `MultiStepLR` with milestones d − w); constant: peak.
public struct LearningRateSchedule: Sendable {
    public let config: ScheduleConfig
    public let stepsPerEpoch: Int
    /// η, the rate warm-up reaches.
    public let peakLearningRate: Float
    /// Iterations of warm-up, `warmupEpochs · stepsPerEpoch`.
    public let warmupSteps: Int
    private let warmupStart: Float

    /// `config` should have passed `validate()`; the counts must be positive.
    public init(config: ScheduleConfig, workers: Int, batchSize: Int, stepsPerEpoch: Int) {
        precondition(workers >= 1 && batchSize >= 1 && stepsPerEpoch >= 1,
                     "LearningRateSchedule: workers \(workers), batchSize \(batchSize), stepsPerEpoch \(stepsPerEpoch) must be ≥ 1")
        self.config = config
        self.stepsPerEpoch = stepsPerEpoch
        peakLearningRate = Self.peak(config, workers: workers, batchSize: batchSize)
        warmupSteps = max(0, config.warmupEpochs) * stepsPerEpoch
        warmupStart = min(config.baseLearningRate, peakLearningRate)
    }

    /// η for K workers of batch B: K·B·base/256, raised by the rule to at most `maxLearningRate`
    /// (a base above that limit is kept); the base itself without scaling.
    public static func peak(_ config: ScheduleConfig, workers: Int, batchSize: Int) -> Float {
        let base = config.baseLearningRate
        guard config.scaleLearningRate else { return base }
        let scaled = base * Float(workers * batchSize) / 256
        guard let limit = config.maxLearningRate else { return scaled }
        return min(scaled, max(limit, base))
    }

    /// Learning rate for global iteration `step` (0-based; epoch = step / stepsPerEpoch).
    public func learningRate(atStep step: Int) -> Float {
        precondition(step >= 0, "LearningRateSchedule: step \(step) is negative")
        let peak = Double(peakLearningRate)
        if step < warmupSteps {
            let start = Double(warmupStart)
            return Float(start + (peak - start) * Double(step) / Double(warmupSteps))
        }
        let epoch = step / stepsPerEpoch
        switch config.kind {
        case .constant:
            return peakLearningRate
        case .step:
            var decays = 0
            for d in config.decayEpochs where d <= epoch { decays += 1 }
            return Float(peak * pow(Double(config.decayFactor), Double(decays)))
        case .cosine:
            let warmup = max(0, config.warmupEpochs), remaining = config.epochs - warmup
            guard remaining > 0 else { return peakLearningRate }  // warm-up fills the whole run
            let t = Double(min(epoch, config.epochs) - warmup) / Double(remaining)
            return Float(peak * (1 + cos(Double.pi * t)) / 2)
        }
    }
}

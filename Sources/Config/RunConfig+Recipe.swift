import Algorithms
import NN
import Optim

extension ModelKind {
    /// The largest peak rate the default recipe gives the model (`--max-lr auto`), from the
    /// first step or after a warm-up: the largest rate of the ladder 0.8, 0.4, 0.2, 0.1 at which
    /// it still learned on Fashion-MNIST at K = 64, B = 32 (Nesterov momentum 0.9): its loss
    /// ended below the initial ln 10 instead of reaching NaN, stalling at ln 10 or rising above
    /// it. logreg, mlp and cnn: training loss after 3 epochs at a constant rate, minibatch and
    /// local SGD (H = 8); 0.2 failed, for the CNN and MLP even during a warm-up, so they stop at
    /// 0.1 (K·B = 256's rate). ResNet-20, local SGD (H = 8): the averaged model's test loss after
    /// one epoch was 11.9 at 0.2 and 1.9 at 0.1 without warm-up, while 4 epochs with 2 of warm-up
    /// to 0.8 reached 69.8 % (Goyal et al.'s setting): no limit after a warm-up. The other
    /// ResNets share ResNet-20's BatchNorm design and its numbers (not measured separately).
    public func stableLearningRate(afterWarmup: Bool) -> Float? {
        switch self {
        case .logreg, .mlp, .cnn: return 0.1
        case .resnet20, .resnet32, .resnet56, .resnet18, .resnet50, .resnet18Small, .resnet50Small:
            return afterWarmup ? nil : 0.1
        // Not measured: the mlp's rate until a text dataset gives the ladder above for the GPTs.
        case .gptTiny, .gptMini, .gptMicro: return 0.1
        }
    }
}

extension RunConfig {
    /// Goyal et al.'s gradual warm-up: 5 epochs.
    public static let autoWarmupEpochs = 5

    /// K of the linear scaling rule: the N·P threads of async, else the workers.
    public var scalingWorkers: Int { algorithm.kind == .async ? asyncWorkers : algorithm.workers }

    /// The limit on the scaled rate: the model's stable rate after the run's warm-up (`auto`),
    /// none, or the one given.
    public var resolvedMaxLearningRate: Float? { limit(afterWarmup: resolvedWarmupEpochs > 0) }

    private func limit(afterWarmup: Bool) -> Float? {
        switch schedule.maxLr {
        case .auto: return model.kind.stableLearningRate(afterWarmup: afterWarmup)
        case .none: return nil
        case .rate(let r): return r
        }
    }

    /// η, the rate warm-up reaches: K·B·lr/256 (lr without `scaleLr`), at most the limit.
    public var peakLearningRate: Float { peak(limit: resolvedMaxLearningRate) }

    private func peak(limit: Float?) -> Float {
        LearningRateSchedule.peak(scheduleConfig(warmupEpochs: 0, decayEpochs: [], maxLearningRate: limit),
                                  workers: scalingWorkers, batchSize: schedule.batchSize)
    }

    /// Warm-up epochs. `auto`: Goyal et al.'s 5 epochs of gradual warm-up from `lr` whenever the
    /// rate would climb above it (K·B > 256 with the linear scaling rule, and a limit after
    /// warm-up above `lr`), but at most half the run, so the decay keeps at least the other
    /// half; none otherwise, so a run at K·B ≤ 256 (the single-worker default, K·B = 32) starts
    /// at its rate.
    public var resolvedWarmupEpochs: Int {
        switch schedule.warmupEpochs {
        case .epochs(let n):
            return n
        case .auto:
            return peak(limit: limit(afterWarmup: true)) > schedule.lr ? min(Self.autoWarmupEpochs, schedule.epochs / 2) : 0
        }
    }
}

import Tensor

/// Per-replica optimizer state, checkpointable, in the parameter layout: the momentum buffer u of
/// the Goyal et al. (2017) update (§3 "Training") and the learning rate of the previous step,
/// which momentum correction needs; for Adam and AdamW also the second moment and the step count.
///
/// With momentum correction on, the buffer holds lr·v, where v is PyTorch SGD's
/// `momentum_buffer` and lr the last learning rate; a checkpoint meant for PyTorch divides the
/// buffer by `previousLearningRate`. For Adam and AdamW `momentum` is PyTorch's `exp_avg` (m),
/// `secondMoment` its `exp_avg_sq` (v) and `stepCount` its `step` (t), all three as PyTorch
/// holds them.
///
/// `@unchecked Sendable`: a state belongs to one replica and is written only by the thread
/// stepping that replica.
public final class OptimizerState: @unchecked Sendable {
    /// SGD's and LARS's momentum u; Adam's first moment m. The layout's `count` floats.
    public let momentum: FloatBuffer
    /// Adam's second moment v, the layout's `count` floats; nil for SGD and LARS.
    public let secondMoment: FloatBuffer?
    /// Adam's t, the steps taken since the state was created or reset (its bias correction);
    /// stays 0 for SGD and LARS.
    public var stepCount: Int
    /// nil before the first step (and after `reset()`).
    public var previousLearningRate: Float?

    /// A zero momentum buffer of `count` floats (the layout's `count`), no previous step: the
    /// state of SGD and LARS.
    public convenience init(count: Int) {
        self.init(count: count, kind: .sgd)
    }

    /// The zero state of `kind` over `count` floats: with a zero second moment for Adam and AdamW.
    public init(count: Int, kind: OptimizerKind) {
        momentum = FloatBuffer(count: count)
        secondMoment = kind.isAdaptive ? FloatBuffer(count: count) : nil
        stepCount = 0
        previousLearningRate = nil
    }

    /// Back to the state before the first step.
    public func reset() {
        resetMoments()
        previousLearningRate = nil
    }

    /// Zeroes the momentum (Adam: both moments) and Adam's step count, so the next step starts
    /// a fresh average with its bias correction; keeps the previous learning rate. What
    /// `--momentum-sync reset` does at an average.
    public func resetMoments() {
        momentum.zero()
        secondMoment?.zero()
        stepCount = 0
    }
}

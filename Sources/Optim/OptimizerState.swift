import Tensor

/// Per-replica optimizer state, checkpointable: the momentum buffer u of the Goyal et al. (2017)
/// update (§3 "Training"), in the parameter layout, and the learning rate of the previous step,
/// which momentum correction needs.
///
/// With momentum correction on, the buffer holds lr·v, where v is PyTorch SGD's
/// `momentum_buffer` and lr the last learning rate; a checkpoint meant for PyTorch divides the
/// buffer by `previousLearningRate`.
///
/// `@unchecked Sendable`: a state belongs to one replica and is written only by the thread
/// stepping that replica.
public final class OptimizerState: @unchecked Sendable {
    public let momentum: FloatBuffer
    /// nil before the first step (and after `reset()`).
    public var previousLearningRate: Float?

    /// A zero momentum buffer of `count` floats (the layout's `count`), no previous step.
    public init(count: Int) {
        momentum = FloatBuffer(count: count)
        previousLearningRate = nil
    }

    /// Back to the state before the first step.
    public func reset() {
        momentum.zero()
        previousLearningRate = nil
    }
}

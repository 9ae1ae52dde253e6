import Optim
import Tensor

/// Pointers to the flat buffers of the workers this process holds, in worker order: the
/// parameters, their gradients, the BatchNorm running statistics and the optimizer's momentum
/// (for Adam its first moment), with the optimizer states behind it for Adam's second moment and
/// step count. Strategies see only these, never models or data.
public struct WorkerSet {
    public var parameters: [UnsafeMutablePointer<Float>]
    public var gradients: [UnsafeMutablePointer<Float>]
    public var state: [UnsafeMutablePointer<Float>]
    public var momentum: [UnsafeMutablePointer<Float>]
    /// Each worker's optimizer state, in worker order, or none (strategy tests that give only
    /// momentum pointers); the momentum policies reset Adam's step count through them.
    public var optimizerStates: [OptimizerState]
    /// Adam's second moments v, in worker order; empty for SGD and LARS (or without states).
    public var secondMoment: [UnsafeMutablePointer<Float>]
    /// Floats in each parameter, gradient and momentum buffer.
    public var parameterCount: Int
    /// Floats in each state buffer.
    public var stateCount: Int

    public init(parameters: [UnsafeMutablePointer<Float>], gradients: [UnsafeMutablePointer<Float>],
                state: [UnsafeMutablePointer<Float>], momentum: [UnsafeMutablePointer<Float>],
                parameterCount: Int, stateCount: Int, optimizerStates: [OptimizerState] = []) {
        precondition(parameters.count == gradients.count && parameters.count == state.count
                     && parameters.count == momentum.count, "WorkerSet: buffer lists differ in length")
        precondition(optimizerStates.isEmpty || optimizerStates.count == parameters.count,
                     "WorkerSet: \(optimizerStates.count) optimizer states for \(parameters.count) workers")
        self.parameters = parameters
        self.gradients = gradients
        self.state = state
        self.momentum = momentum
        self.parameterCount = parameterCount
        self.stateCount = stateCount
        self.optimizerStates = optimizerStates
        secondMoment = optimizerStates.compactMap { $0.secondMoment?.pointer }
    }

    public var count: Int { parameters.count }
}

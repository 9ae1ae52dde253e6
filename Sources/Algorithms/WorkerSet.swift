import Tensor

/// Pointers to the flat buffers of the workers this process holds, in worker order: the
/// parameters, their gradients, the BatchNorm running statistics and the optimizer's momentum.
/// Strategies see only these, never models or data.
public struct WorkerSet {
    public var parameters: [UnsafeMutablePointer<Float>]
    public var gradients: [UnsafeMutablePointer<Float>]
    public var state: [UnsafeMutablePointer<Float>]
    public var momentum: [UnsafeMutablePointer<Float>]
    /// Floats in each parameter, gradient and momentum buffer.
    public var parameterCount: Int
    /// Floats in each state buffer.
    public var stateCount: Int

    public init(parameters: [UnsafeMutablePointer<Float>], gradients: [UnsafeMutablePointer<Float>],
                state: [UnsafeMutablePointer<Float>], momentum: [UnsafeMutablePointer<Float>],
                parameterCount: Int, stateCount: Int) {
        precondition(parameters.count == gradients.count && parameters.count == state.count
                     && parameters.count == momentum.count, "WorkerSet: buffer lists differ in length")
        self.parameters = parameters
        self.gradients = gradients
        self.state = state
        self.momentum = momentum
        self.parameterCount = parameterCount
        self.stateCount = stateCount
    }

    public var count: Int { parameters.count }
}

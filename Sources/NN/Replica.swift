import Tensor

/// One worker's model: parameters, gradients (same layout) and BatchNorm running statistics,
/// each one contiguous flat buffer. Momentum and algorithm state live beside it,
/// owned by the optimizer and the strategy.
public final class Replica: @unchecked Sendable {
    public let parameters: FloatBuffer
    public let gradients: FloatBuffer
    public let state: FloatBuffer

    public init(parameterCount: Int, stateCount: Int) {
        parameters = FloatBuffer(count: parameterCount)
        gradients = FloatBuffer(count: parameterCount)
        state = FloatBuffer(count: stateCount)
    }

    public convenience init(for network: Network) {
        self.init(parameterCount: network.layout.count, stateCount: network.stateLayout.count)
    }

    public var view: ReplicaView {
        ReplicaView(parameters: parameters.pointer, gradients: gradients.pointer, state: state.pointer)
    }

    /// Copies parameters and state (not gradients) from another replica.
    public func copyWeights(from other: Replica) {
        parameters.copy(from: other.parameters)
        state.copy(from: other.state)
    }
}

import Tensor

/// Where one replica's flat buffers are: parameters, their gradients (same layout) and the
/// BatchNorm running statistics (the state layout). Layers hold offsets into these.
public struct ReplicaView {
    public let parameters: UnsafeMutablePointer<Float>
    public let gradients: UnsafeMutablePointer<Float>
    public let state: UnsafeMutablePointer<Float>

    public init(parameters: UnsafeMutablePointer<Float>, gradients: UnsafeMutablePointer<Float>,
                state: UnsafeMutablePointer<Float>) {
        self.parameters = parameters
        self.gradients = gradients
        self.state = state
    }
}

/// A layer with explicit forward and backward passes (STYLE.md, llm.c habit).
///
/// A layer instance belongs to one `Network`, which belongs to one thread; it owns its output
/// and input-gradient tensors and reuses them every step. It holds no parameters itself, only
/// offsets into whichever replica's flat buffers it is given, so one network serves any
/// number of replicas in turn. `backward` must follow the `forward` of the same batch and
/// *adds* into the gradient buffer.
public protocol Layer: AnyObject {
    /// Adds the layer's tensors (named `prefix.weight`, … as PyTorch names them) to the layouts.
    func register(prefix: String, parameters: inout ParameterLayout, state: inout ParameterLayout)
    func outputShape(for input: Shape) -> Shape
    /// Forward multiply-adds ×2 for one sample of the given input shape.
    func flops(for input: Shape) -> Int
    func forward(_ x: Tensor, _ r: ReplicaView, training: Bool) -> Tensor
    /// Returns dLoss/dInput (an empty tensor when `needsInputGradient` is false).
    func backward(_ dy: Tensor, _ r: ReplicaView) -> Tensor
    /// False for the first layer of a network, which then skips computing dInput.
    var needsInputGradient: Bool { get set }
}

extension Layer {
    public func flops(for input: Shape) -> Int { 0 }
}

/// Joins a name prefix and a suffix with a dot, as PyTorch's `state_dict` keys do.
@inline(__always)
func joinName(_ prefix: String, _ name: String) -> String {
    prefix.isEmpty ? name : (name.isEmpty ? prefix : prefix + "." + name)
}

/// Scratch memory shared by the layers of one network (im2col columns): grows to the largest
/// request and is then reused, so steady-state steps do not allocate.
public final class Workspace {
    private var buffer = FloatBuffer(count: 0)

    public init() {}

    public func scratch(_ count: Int) -> UnsafeMutablePointer<Float> {
        if count > buffer.count { buffer = FloatBuffer(count: count) }
        return buffer.pointer
    }
}

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

/// A layer with explicit forward and backward passes (as in llm.c).
///
/// A layer instance belongs to one `Network`, which belongs to one thread; it owns its output
/// and input-gradient tensors and reuses them every step. It holds no parameters itself, only
/// offsets into whichever replica's flat buffers it is given, so one network serves any
/// number of replicas in turn. Everything else a pass depends on comes in its `StepContext`
/// (mode, random stream, lanes), so a new layer is one file: it splits its work with `Parts`
/// and `Split` and draws random numbers from `StepContext.random(stream:block:)`.
public protocol Layer: AnyObject {
    /// Adds the layer's tensors (named `prefix.weight`, … as PyTorch names them) to the layouts.
    func register(prefix: String, parameters: inout ParameterLayout, state: inout ParameterLayout)
    func outputShape(for input: Shape) -> Shape
    /// Forward multiply-adds ×2 for one sample of the given input shape.
    func flops(for input: Shape) -> Int
    /// The output for input `x` ([C, N, H, W], or [F, N] vectors): a tensor the layer owns (or
    /// `x` itself), valid until its next forward.
    func forward(_ x: Tensor, _ r: ReplicaView, _ context: StepContext) -> Tensor
    /// Returns dLoss/dInput (an empty tensor when `needsInputGradient` is false) for dLoss/dOutput
    /// `dy`, and *adds* the parameters' gradients into `r.gradients`. Follows the forward of the
    /// same batch, with the same context.
    func backward(_ dy: Tensor, _ r: ReplicaView, _ context: StepContext) -> Tensor
    /// False where nothing reads dInput (a network's first layer, and the layers after it up to
    /// and including the first with parameters: `Sequential.needsInputGradient`), which then
    /// skips computing it.
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

/// Scratch memory and threads shared by the layers of one network, which reach it through the
/// `StepContext` the network gives them: each lane of `pool` has its own scratch (im2col
/// columns), which grows to the largest request and is then reused, so steady-state steps do
/// not allocate.
///
/// Layers split their work over the lanes so that the result does not depend on how many there
/// are: element-wise work by ranges, BatchNorm by channels, convolutions by fixed groups of
/// images whose weight-gradient partial sums are added in group order.
public final class Workspace {
    public private(set) var pool = WorkerPool(threads: 1)
    private var lanes = [LaneScratch()]

    public init(threads: Int = 1) { self.threads = threads }

    /// Lanes our kernels use; OpenBLAS is then called from each lane, so the owner should give
    /// OpenBLAS one thread (`BLAS.setThreads(1)`) when this is above 1.
    public var threads: Int {
        get { pool.lanes }
        set {
            if newValue != pool.lanes { pool = WorkerPool(threads: newValue) }
            while lanes.count < newValue { lanes.append(LaneScratch()) }
        }
    }

    /// At least `count` floats of scratch owned by `lane` until its next request.
    public func scratch(_ count: Int, lane: Int = 0) -> UnsafeMutablePointer<Float> {
        lanes[lane].pointer(count)
    }
}

/// One lane's scratch buffer (a class, so lanes grow their own without touching the array).
private final class LaneScratch {
    private var buffer = FloatBuffer(count: 0)

    func pointer(_ count: Int) -> UnsafeMutablePointer<Float> {
        if count > buffer.count { buffer = FloatBuffer(count: count) }
        return buffer.pointer
    }
}

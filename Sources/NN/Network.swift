import Tensor

/// A model's layers plus the layouts of its flat buffers.
///
/// A network holds activations for one batch at a time, so each thread needs its own; the
/// layouts of two networks built from the same `ModelSpec` are identical, so any network can
/// run any replica.
///
/// Outputs: for inputs [C, N, H, W] the root gives logits [classes, N·P] in the vector layout,
/// P = `outputsPerSample` predictions per sample, column n·P + p being sample n's p-th: P = 1
/// for the image classifiers, P = T (one next-token prediction per position) for a GPT over
/// sequences of T tokens. The loss is the mean cross-entropy over all N·P columns, and the
/// label arrays of `trainStep`, `forwardLoss` and `evaluate` hold N·P labels in that order.
public final class Network {
    public let root: Sequential
    public let layout: ParameterLayout
    public let stateLayout: ParameterLayout
    public let inputChannels: Int, inputHeight: Int, inputWidth: Int
    public let classes: Int
    /// Predictions (logit columns, labels) per sample: 1 for image models, T for a GPT.
    public let outputsPerSample: Int
    /// Scratch and threads of the layers.
    public let workspace: Workspace
    private let logitGradient = Tensor(Shape(0, 0))
    /// The context of the last `forwardLoss`, for its `backward`.
    private var lastContext = StepContext.evaluation

    public init(root: Sequential, inputChannels: Int, inputHeight: Int, inputWidth: Int, classes: Int,
                workspace: Workspace = Workspace()) {
        self.root = root
        self.workspace = workspace
        self.inputChannels = inputChannels
        self.inputHeight = inputHeight
        self.inputWidth = inputWidth
        self.classes = classes
        var parameters = ParameterLayout(), state = ParameterLayout()
        root.register(prefix: "", parameters: &parameters, state: &state)
        layout = parameters
        stateLayout = state
        root.needsInputGradient = false
        let out = root.outputShape(for: Shape(inputChannels, 1, inputHeight, inputWidth))
        outputsPerSample = out.n
        precondition(out == Shape(classes, out.n) && out.n > 0, "network output \(out) is not [\(classes), N·P]")
    }

    /// Threads the layers' own kernels use (1 by default). Results do not depend on it. Above 1,
    /// OpenBLAS is called from several threads at once: give it one thread (`BLAS.setThreads(1)`).
    public var threads: Int {
        get { workspace.threads }
        set { workspace.threads = newValue }
    }

    /// Forward FLOPs per sample (2 per multiply-add); a training step costs about 3× this.
    public var flopsPerSample: Int { root.flops(for: Shape(inputChannels, 1, inputHeight, inputWidth)) }

    /// Logits [classes, N·P] for inputs [C, N, H, W] (P = `outputsPerSample`), on this network's lanes.
    public func forward(_ images: Tensor, _ r: ReplicaView, _ context: StepContext) -> Tensor {
        root.forward(images, r, context.on(workspace))
    }

    /// Forward, loss and backward for one batch (N·P labels); gradients are *added* to `r.gradients`.
    public func trainStep(images: Tensor, labels: UnsafePointer<Int32>, _ r: ReplicaView,
                          _ context: StepContext) -> SoftmaxCrossEntropy.Result {
        let result = forwardLoss(images: images, labels: labels, r, context)
        backward(r)
        return result
    }

    /// Forward (in `context`'s mode, normally `.training(…)` of the step) and the mean loss over
    /// the N·P predictions of N samples, whose N·P labels `labels` holds; keeps
    /// dLoss/dLogits and the context for the `backward` that must follow.
    public func forwardLoss(images: Tensor, labels: UnsafePointer<Int32>, _ r: ReplicaView,
                            _ context: StepContext) -> SoftmaxCrossEntropy.Result {
        lastContext = context.on(workspace)
        let logits = root.forward(images, r, lastContext)
        return SoftmaxCrossEntropy.evaluate(logits: logits, labels: labels, gradient: logitGradient)
    }

    /// Backward from the loss of the last `forwardLoss`, with its context; gradients are *added*
    /// to `r.gradients`.
    public func backward(_ r: ReplicaView) {
        _ = root.backward(logitGradient, r, lastContext)
    }

    /// Loss and accuracy counts (of the N·P predictions, with N·P labels) without gradients, in
    /// evaluation mode (running BatchNorm statistics, no dropout).
    public func evaluate(images: Tensor, labels: UnsafePointer<Int32>, _ r: ReplicaView) -> SoftmaxCrossEntropy.Result {
        let logits = root.forward(images, r, StepContext.evaluation.on(workspace))
        return SoftmaxCrossEntropy.evaluate(logits: logits, labels: labels, gradient: nil)
    }

    /// Initial values of a replica's parameters and state (§3: He init, Goyal et al. FC and BN).
    public func initialize(_ replica: Replica, seed: UInt64) {
        var rng = RandomGenerator(seed: seed, stream: [Stream.initialization])
        layout.initialize(replica.parameters.pointer, rng: &rng)
        stateLayout.initialize(replica.state.pointer, rng: &rng)
        replica.gradients.zero()
    }
}
